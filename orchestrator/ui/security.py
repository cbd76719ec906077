"""Sign-in, sessions, roles and CSRF for the operator UI.

Every page and route but the sign-in page and static files needs a live session (a cookie holding a
random token; the store keeps its hash). State-changing requests need the session's CSRF token in
the form and, when the browser sends an `Origin`, the UI's own origin. Failed sign-ins are limited
per name and per address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from typing import Optional
from urllib.parse import quote

from fastapi import HTTPException, Request

from retort.orchestrator.store.users import Session, Users

COOKIE = "retort_session"
LOGIN_COOKIE = "retort_login"  # double-submit token of the sign-in form (no session yet)
KEPT_COOKIE = "retort_kept"  # a decision posted after its session expired, signed, kept to be submitted again after sign-in
KEPT_BYTES = 3000
COOKIE_GRACE = 86_400  # s the session cookie outlives its session, so a request after it expired is told so
MAX_FAILURES = 5  # per (address, name): one person's typos
ACCOUNT_FAILURES = 10  # per name, from any address: guessing one account from many places, or through a proxy
ADDRESS_FAILURES = 30  # per address, whatever the name: guessing many accounts from one machine (a shared bench PC is not locked by one person)
FAILURE_WINDOW = 600.0  # s


class SignIn(Exception):
    """No live session: the browser is sent to the sign-in page (an API caller gets 401)."""

    def __init__(self, why: str = "") -> None:
        self.why = why


class Forbidden(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=403, detail=detail)


class LoginLimiter:
    """At most so many sign-in attempts that fail per key in `FAILURE_WINDOW` seconds: each key comes with its limit
    (`keys_for`: per name and address, per name, per address; this process's memory: a restart forgets them). An attempt is counted before its password is
    checked and forgiven if it succeeds, so attempts sent at once cannot slip past the count; a success
    forgives only its own attempt. At most `MAX_KEYS` keys are kept (the oldest go first)."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, *keys: tuple[str, int]) -> float:
        """Count an attempt for every (key, limit) and return 0, or, when any key is at its limit, count nothing and
        return the seconds until it may try again."""
        now = time.monotonic()
        with self._lock:
            left = 0.0
            for key, limit in keys:
                failures = self._attempts.get(key)
                while failures and now - failures[0] > FAILURE_WINDOW:
                    failures.popleft()
                if failures is not None and not failures:
                    del self._attempts[key]
                elif failures is not None and len(failures) >= limit:
                    left = max(left, FAILURE_WINDOW - (now - failures[0]))
            if left:
                return left
            for key, _ in keys:
                self._attempts.setdefault(key, deque()).append(now)
            while len(self._attempts) > self.MAX_KEYS:
                self._attempts.pop(next(iter(self._attempts)))
            return 0.0

    def forgive(self, *keys: tuple[str, int]) -> None:
        """The attempt just counted succeeded: it is not a failure."""
        with self._lock:
            for key, _ in keys:
                failures = self._attempts.get(key)
                if failures:
                    failures.pop()


def keys_for(address: str, name: str) -> tuple[tuple[str, int], ...]:
    """The limiter's keys for a sign-in of `name` from `address`, each with its limit."""
    return ((f"pair:{address}|{name}", MAX_FAILURES), (f"name:{name}", ACCOUNT_FAILURES), (f"client:{address}", ADDRESS_FAILURES))


def current(request: Request) -> Session:
    """The request's live session, or `SignIn`."""
    users: Users = request.app.state.users
    token = request.cookies.get(COOKIE, "")
    session = users.session(token) if token else None
    if session is None:
        raise SignIn("expired" if token else "")
    return session


def deciding(request: Request, csrf: str) -> Session:
    """A session that may decide and control (operator or admin), on a request that carries its CSRF token and
    comes from the UI's own pages."""
    session = current(request)
    check_origin(request)
    if not secrets.compare_digest(csrf or "", session.csrf):
        raise Forbidden("this form is stale or was not sent by Retort's own page (its CSRF token does not match); "
                        "reload the page and try again. Nothing was changed")
    if not session.user.can_decide:
        raise Forbidden(f"{session.user.name} is a {session.user.role}: only operators and admins decide and control campaigns. "
                        "Nothing was changed")
    return session


def check_origin(request: Request) -> None:
    """A browser's `Origin` must be the UI's own: the address it was reached at, or one given with `--public-origin`
    (behind a reverse proxy)."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}" and origin not in request.app.state.origins:
        raise Forbidden(f"a request from {origin} was refused: only Retort's own pages may change anything. Nothing was changed")


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_args(request: Request, max_age: Optional[int] = None) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https", "path": "/", "max_age": max_age}


def flash(request: Request, message: str) -> str:
    """The query string carrying `message` to the next page, signed with this server's secret."""
    return f"?done={quote(message, safe='')}&sig={_signature(request, message)}"


def read_flash(request: Request, message: str, signature: str) -> str:
    """`message` if this server signed it, else nothing (a link cannot put words on Retort's pages)."""
    return message if message and hmac.compare_digest(signature, _signature(request, message)) else ""


def keep(request: Request, kept: dict) -> Optional[str]:
    """A refused-for-expiry form as a signed cookie value (None if it is too large to keep in a cookie)."""
    import base64
    import json

    text = json.dumps(kept, separators=(",", ":"))
    value = base64.urlsafe_b64encode(text.encode()).decode() + "." + _signature(request, text)
    return value if len(value) <= KEPT_BYTES else None


def kept(request: Request) -> Optional[dict]:
    """The form `keep` stored, if this server signed it."""
    import base64
    import binascii
    import json

    value = request.cookies.get(KEPT_COOKIE, "")
    data, _, signature = value.rpartition(".")
    try:
        text = base64.urlsafe_b64decode(data.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not data or not hmac.compare_digest(signature, _signature(request, text)):
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _signature(request: Request, message: str) -> str:
    return hmac.new(request.app.state.secret, message.encode(), hashlib.sha256).hexdigest()[:32]

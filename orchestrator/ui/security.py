"""Sign-in, sessions, roles and CSRF for the operator UI.

Every page and route but the sign-in page and static files needs a live session (a cookie holding a
random token; the store keeps its hash). State-changing requests need the session's CSRF token in
the form and, when the browser sends an `Origin`, the UI's own origin. Failed sign-ins are limited
per name and per address.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Optional

from fastapi import HTTPException, Request

from retort.orchestrator.users import Session, Users

COOKIE = "retort_session"
LOGIN_COOKIE = "retort_login"  # double-submit token of the sign-in form (no session yet)
MAX_FAILURES = 5
FAILURE_WINDOW = 600.0  # s


class SignIn(Exception):
    """No live session: the browser is sent to the sign-in page (an API caller gets 401)."""

    def __init__(self, why: str = "") -> None:
        self.why = why


class Forbidden(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=403, detail=detail)


class LoginLimiter:
    """At most `MAX_FAILURES` failed sign-ins per name and per client address in `FAILURE_WINDOW` seconds
    (this process's memory: a restart forgets them)."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_left(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            left = 0.0
            for key in keys:
                failures = self._failures[key]
                while failures and now - failures[0] > FAILURE_WINDOW:
                    failures.popleft()
                if len(failures) >= MAX_FAILURES:
                    left = max(left, FAILURE_WINDOW - (now - failures[0]))
            return left

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures[key].append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def current(request: Request) -> Session:
    """The request's live session, or `SignIn`."""
    users: Users = request.app.state.users
    token = request.cookies.get(COOKIE, "")
    session = users.session(token) if token else None
    if session is None:
        raise SignIn("your session has expired; sign in again" if token else "")
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
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"a request from {origin} was refused: only Retort's own pages may change anything. Nothing was changed")


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_args(request: Request, max_age: Optional[int] = None) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https", "path": "/", "max_age": max_age}

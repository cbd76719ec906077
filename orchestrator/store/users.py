"""People and their sessions, for the operator UI: roles, argon2 password hashes, expiring sessions.

Roles: `viewer` sees everything; `operator` also decides proposals and controls campaigns; `admin`
also manages users. A session is a random token in the browser's cookie; the store keeps only its
SHA-256 hash, with a CSRF token and an expiry, so a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Callable, Literal, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, inspect
from sqlmodel import select

from retort.orchestrator.errors import OrchestratorError
from retort.orchestrator.store.core import Store
from retort.orchestrator.store.tables import AccountEventRow, SessionRow, UserRow, utcnow

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
MIN_PASSWORD = 8
SESSION_HOURS = 8.0
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anyone's")  # verified against when the name is unknown: the same time either way


class UserError(OrchestratorError):
    """A user that cannot be added or changed (a taken name, a short password, an unknown role)."""


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool = False

    @property
    def can_decide(self) -> bool:
        return self.role in ("operator", "admin")


class Session(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: User
    csrf: str
    expires_at: datetime

    @property
    def ends_epoch(self) -> int:
        """When the session ends, in seconds since the epoch (for the page's warning)."""
        return int(_aware(self.expires_at).timestamp())


class Users:
    """Users and sessions, kept in a campaign `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, name: str, role: str, password: str) -> User:
        name = name.strip()
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise UserError(f"user name {name!r}: give 1-64 characters without spaces")
        check_role(role)
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password for {name!r} is too short: at least {MIN_PASSWORD} characters")
        with self.store.session(f"add user {name!r}") as s:
            if s.exec(select(UserRow).where(UserRow.name == name)).first() is not None:
                raise UserError(f"user {name!r} exists already")
            row = UserRow(name=name, role=role, password_hash=_HASHER.hash(password))
            s.add(row)
            s.commit()
            s.refresh(row)
            return _user(row)

    def all(self) -> list[User]:
        with self.store.session("list users") as s:
            return [_user(r) for r in s.exec(select(UserRow).order_by(UserRow.name))]

    def authenticate(self, name: str, password: str, address: str = "") -> Optional[User]:
        """The user if `password` is theirs and they are not disabled, else None (taking as long for an unknown name as
        for a wrong password). Every attempt is kept as an account event, with the address it came from."""
        with self.store.session("check a password") as s:
            row = s.exec(select(UserRow).where(UserRow.name == name.strip())).first()
        try:
            verified = _HASHER.verify(row.password_hash if row else _DUMMY, password) and row is not None
        except (VerificationError, InvalidHashError):
            verified = False
        ok = verified and not row.disabled
        why = "" if ok else ("disabled" if verified else "wrong name or password")
        self._note("sign in" if ok else "sign in refused", name.strip()[:64], name.strip()[:64], address, why)
        return _user(row) if ok else None

    # -- administration (admins; the CLI acts as "the command line") ------------------------------------------
    def set_role(self, name: str, role: str, actor: str) -> User:
        check_role(role)
        return self._change(name, actor, "role", f"{self.get(name).role} -> {role}", role=role)

    def disable(self, name: str, actor: str) -> User:
        """No sign-in and no session for `name` (their open sessions end now) until enabled again."""
        user = self._change(name, actor, "disable", "", disabled=True)
        self._revoke(user.id)
        return user

    def enable(self, name: str, actor: str) -> User:
        return self._change(name, actor, "enable", "", disabled=False)

    def reset_password(self, name: str, password: str, actor: str) -> User:
        """A new password; every open session of `name` ends."""
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password for {name!r} is too short: at least {MIN_PASSWORD} characters")
        user = self._change(name, actor, "reset password", "", password_hash=_HASHER.hash(password))
        self._revoke(user.id)
        return user

    def revoke_sessions(self, name: str, actor: str) -> int:
        """End every open session of `name`; how many there were."""
        user = self.get(name)
        count = self._revoke(user.id)
        self._note("revoke sessions", name, actor, "", f"{count} sessions")
        return count

    def remove(self, name: str, actor: str) -> None:
        """`name` can no longer sign in and is not listed; what they decided stays in the audit under their name."""

        def drop(s, row: UserRow) -> None:
            s.exec(delete(SessionRow).where(SessionRow.user_id == row.id))
            s.delete(row)
            s.add(AccountEventRow(action="remove", subject=name, actor=actor, detail=row.role))

        self._guarded(name, "remove", demotes=True, apply=drop)

    def get(self, name: str) -> User:
        with self.store.session(f"read user {name!r}") as s:
            row = s.exec(select(UserRow).where(UserRow.name == name)).first()
        if row is None:
            raise UserError(f"no user {name!r}; users: {', '.join(u.name for u in self.all()) or 'none'}")
        return _user(row)

    def events(self, subject: Optional[str] = None, limit: int = 500) -> list[dict]:
        """Account events, newest first (of `subject` only, if given)."""
        with self.store.session("read account events") as s:
            query = select(AccountEventRow)
            if subject:
                query = query.where(AccountEventRow.subject == subject)
            rows = s.exec(query.order_by(AccountEventRow.id.desc()).limit(limit)).all()
            return [{"action": r.action, "subject": r.subject, "actor": r.actor, "address": r.address, "detail": r.detail,
                     "created_at": r.created_at} for r in rows]

    def _change(self, name: str, actor: str, action: str, detail: str, **values) -> User:
        def update(s, row: UserRow) -> None:
            for key, value in values.items():
                setattr(row, key, value)
            s.add(row)
            s.add(AccountEventRow(action=action, subject=name, actor=actor, detail=detail))

        demotes = values.get("role", "admin") != "admin" or values.get("disabled") is True
        return self._guarded(name, action, demotes, update)

    def _guarded(self, name: str, action: str, demotes: bool, apply: Callable) -> Optional[User]:
        """`apply(session, row)` to user `name` and commit, in one transaction that refuses to take away the last admin
        who can sign in (when `demotes`); returns the user as changed (None once removed)."""
        with self.store.session(f"{action} for user {name!r}") as s:
            row = s.exec(select(UserRow).where(UserRow.name == name)).first()
            if row is None:
                raise UserError(f"no user {name!r}; users: {', '.join(u.name for u in self.all()) or 'none'}")
            if demotes and row.role == "admin" and not row.disabled:
                others = s.exec(select(UserRow).where(UserRow.role == "admin", UserRow.disabled == False, UserRow.id != row.id)).first()  # noqa: E712
                if others is None:
                    raise UserError(f"{name!r} is the last admin who can sign in; make another admin first")
            apply(s, row)
            s.commit()
            if inspect(row).was_deleted:
                return None
            s.refresh(row)
            return _user(row)

    def _revoke(self, user_id: int) -> int:
        with self.store.session("end sessions") as s:
            count = s.execute(delete(SessionRow).where(SessionRow.user_id == user_id)).rowcount
            s.commit()
        return count

    def _note(self, action: str, subject: str, actor: str, address: str = "", detail: str = "") -> None:
        with self.store.session(f"keep account event {action!r}") as s:
            s.add(AccountEventRow(action=action, subject=subject, actor=actor, address=address[:100], detail=detail[:500]))
            s.commit()

    def open_session(self, user: User, hours: float = SESSION_HOURS) -> tuple[str, Session]:
        """A new session for `user`: the token for the cookie (stored only hashed) and the session."""
        token, csrf, expires = secrets.token_urlsafe(32), secrets.token_urlsafe(32), utcnow() + timedelta(hours=hours)
        with self.store.session(f"open a session for {user.name!r}") as s:
            s.exec(delete(SessionRow).where(SessionRow.expires_at < utcnow()))  # expired ones go
            s.add(SessionRow(token_hash=_digest(token), user_id=user.id, csrf=csrf, expires_at=expires))
            s.commit()
        return token, Session(user=user, csrf=csrf, expires_at=expires)

    def session(self, token: str) -> Optional[Session]:
        """The live session of a cookie's token, or None (unknown or expired)."""
        if not token:
            return None
        with self.store.session("read a session") as s:
            row = s.exec(select(SessionRow).where(SessionRow.token_hash == _digest(token))).first()
            if row is None or _aware(row.expires_at) <= datetime.now(timezone.utc):
                return None
            user = s.get(UserRow, row.user_id)
            return Session(user=_user(user), csrf=row.csrf, expires_at=_aware(row.expires_at)) if user and not user.disabled else None

    def close_session(self, token: str) -> None:
        with self.store.session("close a session") as s:
            s.exec(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))
            s.commit()


def administer(users: Users, action: str, name: str, actor: str, role: str | None = None, password: str | None = None) -> str:
    """One administration step on user `name` (`Users`), audited as done by `actor`; what was done, in a sentence.
    `retort users` and the UI's users page both go through here."""
    if action == "disable":
        users.disable(name, actor)
        return f"{name} is disabled: no sign-in, and their sessions have ended"
    if action == "enable":
        users.enable(name, actor)
        return f"{name} may sign in again"
    if action == "remove":
        users.remove(name, actor)
        return f"{name} is removed; what they decided stays in the audit"
    if action == "reset-password":
        users.reset_password(name, password or "", actor)
        return f"{name}'s password is reset; their sessions have ended"
    if action == "revoke":
        return f"{users.revoke_sessions(name, actor)} sessions of {name} ended"
    if action == "role":
        users.set_role(name, role or "", actor)
        return f"{name} is now {role}"
    raise UserError(f"unknown user action {action!r}")


def check_role(role: str) -> None:
    """Raise `UserError` unless `role` is one of `ROLES`."""
    if role not in ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _user(row: UserRow) -> User:
    return User(id=row.id, name=row.name, role=row.role, created_at=row.created_at, disabled=bool(row.disabled))


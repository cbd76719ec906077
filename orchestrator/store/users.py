"""People and their sessions, for the operator UI: roles, argon2 password hashes, expiring sessions.

Roles: `viewer` sees everything; `operator` also decides proposals and controls campaigns; `admin`
also manages users. A session is a random token in the browser's cookie; the store keeps only its
SHA-256 hash, with a CSRF token and an expiry, so a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete
from sqlmodel import select

from retort.orchestrator.errors import OrchestratorError
from retort.orchestrator.store.core import Store
from retort.orchestrator.store.tables import SessionRow, UserRow, utcnow

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

    def authenticate(self, name: str, password: str) -> Optional[User]:
        """The user if `password` is theirs, else None (taking as long for an unknown name as for a wrong password)."""
        with self.store.session("check a password") as s:
            row = s.exec(select(UserRow).where(UserRow.name == name.strip())).first()
        try:
            _HASHER.verify(row.password_hash if row else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(row) if row else None

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
            return Session(user=_user(user), csrf=row.csrf, expires_at=_aware(row.expires_at)) if user else None

    def close_session(self, token: str) -> None:
        with self.store.session("close a session") as s:
            s.exec(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))
            s.commit()


def check_role(role: str) -> None:
    """Raise `UserError` unless `role` is one of `ROLES`."""
    if role not in ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _user(row: UserRow) -> User:
    return User(id=row.id, name=row.name, role=row.role, created_at=row.created_at)

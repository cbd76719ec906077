"""Store URLs: which database a URL names, whether it keeps data, its password masked in everything shown, and
the per-connection settings each database needs."""

from __future__ import annotations

import os
import sqlite3

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from retort.orchestrator.errors import StoreError


def utc_session(dbapi_connection, _record) -> None:
    """PostgreSQL: times are stored without a zone, as UTC, whatever the server's or the client's (PGTZ) zone."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.commit()


def sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":  # WAL is kept in the file: set it once
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (retort status) do not block the running campaign
        except sqlite3.OperationalError:  # another process holds a write lock (it is setting WAL or migrating): it sets it
            pass
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def check_persistent(url: str) -> None:
    """Raise StoreError if `url` is a store that keeps nothing after the process ends (in-memory
    SQLite), so a run never reports results that are gone. `Store("sqlite://")` itself still works."""
    parsed = parse(url)
    if parsed.get_backend_name() == "sqlite" and in_memory(parsed):
        raise StoreError(
            f"the store {redact_url(url)} is an in-memory database: everything a run stores is lost when it ends; "
            "give a file path, e.g. sqlite:///retort.db"
        )


def sqlite_file_missing(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist yet (opening a `Store` would create it)."""
    parsed = parse(url)
    return parsed.get_backend_name() == "sqlite" and not in_memory(parsed) and not os.path.exists(sqlite_file(parsed))


def parse(url: str) -> URL:
    try:
        return make_url(url)
    except (SQLAlchemyError, ValueError) as exc:
        raise StoreError(f"{redact_url(url)} is not a store URL: {reason(exc, url)}") from exc


def in_memory(url: URL) -> bool:
    """Whether a SQLite URL names an in-memory database rather than a file."""
    database = url.database or ""
    modes = url.query.get("mode", ())
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or "mode=memory" in database
        or "memory" in ([modes] if isinstance(modes, str) else modes)
    )


def sqlite_file(url: URL) -> str:
    """The absolute path of a SQLite URL's file (a plain path, or a `file:` URI with uri=true)."""
    path = url.database or ""
    if path.startswith("file:"):
        path = path.removeprefix("file:")
        if path.startswith("//"):  # file://host/path: keep the path
            path = "/" + path[2:].partition("/")[2]
    return os.path.abspath(path)


def identity(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def reason(exc: BaseException, url: str) -> str:
    """The database's own message for `exc` on one line, without the URL's password."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    text = text.replace(url, redact_url(url))
    try:
        password = make_url(url).password
    except (SQLAlchemyError, ValueError):
        password = None
    return text.replace(str(password), "***") if password else text


def redact_url(url: str) -> str:
    """The URL without its password (shown as ***)."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):  # not a URL SQLAlchemy reads: mask what looks like user:password@
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password is not None else url

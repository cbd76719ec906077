"""One campaign, one driver: a lease in the store, held by the process running the campaign.

A process acquires a campaign's lease before it proposes or dispenses anything and renews it from
a background thread while it runs; a second process asking for it is told who holds it
(`CampaignBusy`) or, asked to, waits. A lease is free when released, when it expires (its holder
stopped renewing: a crashed host), or at once when its holder was a process on this host that no
longer exists (`kill -9`). Holding is re-entrant within a process.

Example:
    >>> from retort.orchestrator.store import Store
    >>> store = Store("sqlite://")
    >>> record = store.open_campaign("demo", "{}")
    >>> with hold(store, record.id, "demo"):
    ...     holder_of(store, record.id).pid == os.getpid()
    True
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator, Optional

from pydantic import BaseModel, ConfigDict

from retort.orchestrator.errors import StoreError
from retort.orchestrator.store.core import retry_on_conflict
from retort.orchestrator.store.tables import LeaseRow

TTL = 60.0  # s: a lease not renewed for this long is free
RENEW_EVERY = 10.0  # s


class CampaignBusy(StoreError):
    """Another process drives the campaign."""


class Lease(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign_id: int
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime


def _me() -> tuple[str, str, int]:
    host, pid = socket.gethostname(), os.getpid()
    return f"{host} pid {pid} started {_started(pid)}", host, pid


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not its predecessor."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _gone(lease: LeaseRow) -> bool:
    """Whether the holder was a process on this host that is no longer running."""
    if lease.host != socket.gethostname():
        return False
    return lease.holder != f"{lease.host} pid {lease.pid} started {_started(lease.pid)}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def holder_of(store, campaign_id: int) -> Optional[Lease]:
    with store.session(f"read the lease of campaign id {campaign_id}") as s:
        row = s.get(LeaseRow, campaign_id)
        return Lease.model_validate(row, from_attributes=True) if row else None


def acquire(store, campaign_id: int, name: str) -> None:
    """Take the campaign's lease, or raise `CampaignBusy` naming its holder."""
    holder, host, pid = _me()

    def write() -> None:
        with store.session(f"take the lease of campaign {name!r}") as s:
            row = s.get(LeaseRow, campaign_id)
            now = _now()
            if row is not None and row.holder != holder and _aware(row.expires_at) > now and not _gone(row):
                raise CampaignBusy(
                    f"campaign {name!r} is being run by {row.holder} (since {_aware(row.acquired_at):%Y-%m-%d %H:%M:%S} UTC); "
                    "one process drives a campaign at a time. Wait for it to finish (or pass --wait), or stop it; "
                    f"if that host is down, its lease expires {TTL:.0f} s after its last renewal"
                )
            if row is None:
                row = LeaseRow(campaign_id=campaign_id, holder=holder, host=host, pid=pid, expires_at=now + timedelta(seconds=TTL))
            else:
                row.holder, row.host, row.pid = holder, host, pid
                row.acquired_at, row.expires_at = now, now + timedelta(seconds=TTL)
            s.add(row)
            s.commit()

    retry_on_conflict(write)  # two processes inserting the lease at once: the second reads the first's


def renew(store, campaign_id: int) -> None:
    holder, _, _ = _me()
    with store.session(f"renew the lease of campaign id {campaign_id}") as s:
        row = s.get(LeaseRow, campaign_id)
        if row is None or row.holder != holder:
            raise CampaignBusy(f"this process lost the lease of campaign id {campaign_id} to {row.holder if row else 'nobody'}")
        row.expires_at = _now() + timedelta(seconds=TTL)
        s.add(row)
        s.commit()


def release(store, campaign_id: int) -> None:
    holder, _, _ = _me()
    with store.session(f"release the lease of campaign id {campaign_id}") as s:
        row = s.get(LeaseRow, campaign_id)
        if row is not None and row.holder == holder:
            s.delete(row)
            s.commit()


_held: dict[tuple[str, int], int] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def hold(store, campaign_id: int, name: str, wait: bool = False, poll: float = 2.0) -> Iterator[None]:
    """Hold the campaign's lease for the block (re-entrant), renewing it in the background.

    Args:
        wait: wait for the holder to finish instead of raising `CampaignBusy`.
    """
    key = (store.url, campaign_id)
    with _lock:
        nested = _held.get(key, 0) > 0
    if not nested:
        while True:
            try:
                acquire(store, campaign_id, name)
                break
            except CampaignBusy:
                if not wait:
                    raise
                time.sleep(poll)
    with _lock:
        _held[key] = _held.get(key, 0) + 1
    stop = threading.Event()
    renewer = None
    if not nested:
        renewer = threading.Thread(target=_renew_until, args=(store, campaign_id, stop), name=f"retort-lease-{campaign_id}", daemon=True)
        renewer.start()
    try:
        yield
    finally:
        with _lock:
            _held[key] -= 1
            last = _held[key] == 0
        if renewer is not None:
            stop.set()
            renewer.join(timeout=5)
        if last:
            release(store, campaign_id)


def _renew_until(store, campaign_id: int, stop: threading.Event) -> None:
    while not stop.wait(RENEW_EVERY):
        try:
            renew(store, campaign_id)
        except StoreError:
            return  # the run's own next store write reports the problem

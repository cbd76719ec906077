"""One Prefect global concurrency limit per instrument: at most one run on a robot at a time, whichever
campaign, store, process or host asks for it.

A limit is named after what the instrument is (`limit_name`): a robot by its identity (its URL, written one way),
so every store and host driving it takes turns on it; a virtual instrument by its deck's name and its store, so
campaigns of unrelated stores (or two labs that kept the example deck names) never wait for each other.

Limits are created (limit 1) when a campaign starts and must be active: Prefect lets every run through an
inactive limit, so a campaign refuses to start on one (to pause a robot, ``retort deck pause``). Runs take
a slot with ``strict=True`` (`instrument_slot`), so a limit that has gone missing stops the run rather
than letting it through unguarded.

A slot is leased for `LEASE_SECONDS` and renewed while its holder lives. A Prefect server's repossessor
frees the slots of leases whose holder died (``kill -9``); the local server `retort run` starts is
Prefect's ephemeral one, which runs no repossessor, so there Retort frees them itself while it waits
for a slot (`reclaim_expired`): leases are kept on disk (`settings.py`), shared by every local server
of the machine's Prefect home.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
from datetime import datetime, timezone
from typing import Iterator, Optional

from retort.orchestrator.errors import LabNotReady

log = logging.getLogger(__name__)
PREFIX = "retort-instrument-"
SLOT_TIMEOUT = 3600.0  # s an instrument's run waits for its slot before giving up with a message
LEASE_SECONDS = 60.0  # a slot whose holder died is free again after this long (Prefect's shortest lease)
RECLAIM_EVERY = 10.0  # s between looks for expired leases while waiting for a slot
LOCAL_SERVER = "RETORT_LOCAL_PREFECT_SERVER"  # set by `prefect_server.local_prefect_server` while its server is the API


@contextlib.contextmanager
def instrument_slot(instrument: str, name: str) -> Iterator[None]:
    """Hold `instrument`'s slot (strict) in its limit `name` (`limit_name`) for the duration, freeing dead holders'
    slots every `RECLAIM_EVERY` s while it waits; raises `LabNotReady` after `SLOT_TIMEOUT` s of waiting."""
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    acquired = threading.Event()

    def reclaim() -> None:
        while not acquired.wait(RECLAIM_EVERY):
            try:
                reclaim_expired()
            except Exception as exc:  # the wait goes on; the next look may succeed
                log.warning("could not look for expired slots of %s: %s", name, exc)

    threading.Thread(target=reclaim, name=f"reclaim-{name}", daemon=True).start()
    try:
        # a lease renewal that fails must not cancel a robot mid-dispense (strict would): the run finishes and is stored
        slot = concurrency(name, occupy=1, strict=True, timeout_seconds=SLOT_TIMEOUT, lease_duration=LEASE_SECONDS,
                           raise_on_lease_renewal_failure=False)
        try:
            slot.__enter__()
        except TimeoutError:
            raise LabNotReady(f"instrument {instrument!r} stayed busy for {SLOT_TIMEOUT:.0f} s (its concurrency limit {name!r} "
                              "has no free slot); nothing was run; the experiments wait, approved") from None
        except ConcurrencySlotAcquisitionError as exc:
            raise LabNotReady(f"instrument {instrument!r}: its concurrency limit {name!r} could not be taken ({exc}); nothing was run; "
                              "the experiments wait, approved") from None
    finally:
        acquired.set()
    with contextlib.ExitStack() as held:
        held.push(slot.__exit__)
        yield


def reclaim_expired() -> int:
    """On `retort run`'s local server only: release the slots of leases that expired (their holder died) through
    the server, which decrements the slots and revokes each lease as its repossessor would; returns how many leases."""
    if not os.environ.get(LOCAL_SERVER):
        return 0
    from prefect.client.orchestration import get_client

    from prefect.settings import get_current_settings

    lock = get_current_settings().home / "retort-reclaim.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:  # one reclaimer at a time: a lease is read, released and revoked in separate steps
        fcntl.flock(held, fcntl.LOCK_EX)
        leases = asyncio.run(_expired_leases())  # local files: the server is asked about limits only when one has expired
        if not leases:
            return 0
        with get_client(sync_client=True) as client:
            ours, offset = set(), 0
            while page := client.read_global_concurrency_limits(limit=200, offset=offset):  # Prefect's largest page
                ours |= {str(limit.id) for limit in page if limit.name.startswith(PREFIX)}
                offset += len(page)
            expired = [lease_id for lease_id, resources in leases if resources <= ours]
            for lease_id in expired:
                log.warning("releasing the instrument slot of lease %s, whose holder died", lease_id)
                client.release_concurrency_slots_with_lease(lease_id)
    return len(expired)


async def _expired_leases() -> list:
    """Leases past their expiry in the Prefect home's lease files (the local servers keep them there), with the ids
    of the limits each holds."""
    from prefect.server.concurrency.lease_storage.filesystem import ConcurrencyLeaseStorage

    storage, now, expired = ConcurrencyLeaseStorage(), datetime.now(timezone.utc), []
    for lease_id in await storage.read_expired_lease_ids(limit=1000):
        lease = await storage.read_lease(lease_id)
        if lease is not None and lease.expiration <= now:
            expired.append((lease_id, {str(r) for r in lease.resource_ids}))
    return expired


def limit_name(instrument: str, identity: Optional[str], store_scope: str) -> str:
    """The concurrency limit guarding `instrument` (a deck name): a robot's by its `identity` alone (every store and
    host driving it shares the limit); a virtual instrument's by its deck name and a digest of its store's scope
    (`Store.scope`). Prefect's names take no '/' or '%'.

    Example:
        >>> limit_name("bench-1", "opentrons http://10.0.0.5:31950", "sqlite /data/a.db")
        'retort-instrument-opentrons-http-10.0.0.5-31950'
        >>> limit_name("bench-1", None, "sqlite /data/a.db") != limit_name("bench-1", None, "sqlite /data/b.db")
        True
    """
    if identity:
        return PREFIX + _slug(identity)
    return f"{PREFIX}{_slug(instrument)}-{hashlib.sha256(store_scope.encode()).hexdigest()[:10]}"


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", text)).strip("-")


def artifact_key(instrument: str) -> str:
    """The key of the Prefect artifact telling operators an instrument is out of service (lowercase, dashes)."""
    return "out-of-service-" + re.sub(r"[^a-z0-9-]", "-", instrument.lower())


def ensure_instrument_limits(instruments: dict[str, str]) -> None:
    """Create each instrument's limit (instrument -> `limit_name`; limit 1) if it is missing; raise `LabNotReady`
    naming any that is inactive. Slots left held by a run that died are freed first (`reclaim_expired`)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    reclaim_expired()
    with get_client(sync_client=True) as client:
        for instrument, name in instruments.items():
            try:
                limit = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1, active=True))
                except ObjectAlreadyExists:  # another campaign created it at the same moment
                    pass
                continue
            if not limit.active:
                raise LabNotReady(
                    f"instrument {instrument!r}: its Prefect concurrency limit {name!r} is inactive, so it would let any number of "
                    f"runs onto the robot at once. Nothing was run. Activate it with 'prefect gcl enable {name}' (to pause a robot, "
                    "use 'retort deck pause'), then run the campaign again"
                )

"""The campaign lease: who may drive a campaign."""

import subprocess
import sys
from datetime import timedelta

import pytest

from retort.orchestrator.store import leases as lease
from retort.orchestrator.store import Store
from retort.orchestrator.store.tables import LeaseRow


def stored(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    return store, store.open_campaign("demo", "{}").id


def put(store, campaign_id, **fields):
    with store.session("test") as s:
        row = s.get(LeaseRow, campaign_id) or LeaseRow(campaign_id=campaign_id, holder="", host="", pid=0, expires_at=lease._now())
        for k, v in fields.items():
            setattr(row, k, v)
        s.add(row)
        s.commit()


def test_a_live_holder_on_another_host_keeps_the_campaign_until_its_lease_expires(tmp_path):
    store, cid = stored(tmp_path)
    put(store, cid, holder="lab-pc pid 42 started 1", host="lab-pc", pid=42, expires_at=lease._now() + timedelta(seconds=30))
    with pytest.raises(lease.CampaignBusy, match=r"campaign 'demo' is being run by lab-pc pid 42 started 1 \(since"):
        lease.acquire(store, cid, "demo")
    put(store, cid, expires_at=lease._now() - timedelta(seconds=1))  # it stopped renewing
    lease.acquire(store, cid, "demo")
    assert lease.holder_of(store, cid).host != "lab-pc"


def test_a_killed_holder_on_this_host_frees_the_campaign_at_once(tmp_path):
    store, cid = stored(tmp_path)
    code = f"from retort.orchestrator.store import leases as lease; from retort.orchestrator.store import Store; lease.acquire(Store({store.url!r}), {cid}, 'demo')"
    subprocess.run([sys.executable, "-c", code], check=True)  # takes the lease and exits without releasing (as kill -9 would)
    held = lease.holder_of(store, cid)
    assert held.expires_at.replace(tzinfo=None) > lease._now().replace(tzinfo=None)
    with lease.hold(store, cid, "demo"):
        assert lease.holder_of(store, cid).holder != held.holder


def test_holding_is_reentrant_and_released_at_the_end(tmp_path):
    store, cid = stored(tmp_path)
    with lease.hold(store, cid, "demo"):
        with lease.hold(Store(store.url), cid, "demo"):  # the flow inside `retort run`
            pass
        assert lease.holder_of(store, cid) is not None
    assert lease.holder_of(store, cid) is None


def test_a_lease_taken_over_is_noticed_at_renewal(tmp_path):
    store, cid = stored(tmp_path)
    lease.acquire(store, cid, "demo")
    put(store, cid, holder="other pid 1 started 1", host="other", pid=1)
    with pytest.raises(lease.CampaignBusy, match="lost the lease"):
        lease.renew(store, cid)

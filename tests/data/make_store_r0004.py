"""Write a store with schema revision 0004 (the release before decisions were stored), as
tests/data/store-r0004.db was written (for test_migrations.py).

Run with that release's code first on the path, e.g. from a worktree of commit 0a36dc7 laid out as the
installed package (retort/, retort/orchestrator, ...):

    PYTHONPATH=/tmp/prevpkg python tests/data/make_store_r0004.py /tmp/prev/examples out.db

It fills every table: a colour campaign on two virtual robots (decks, deck events, lab runs) run in the
asynchronous schedule, a Branin campaign with a batch left proposed, one left running (interrupted), and a lease.
"""
import sys
from datetime import datetime, timedelta, timezone

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign, with_changes
from retort.orchestrator.store import Store
from retort.orchestrator.store.tables import LeaseRow

examples, out = sys.argv[1], sys.argv[2]
store = Store(f"sqlite:///{out}")
colour = load_campaign(f"{examples}/colour_match.yaml")
colour = with_changes(colour, "x", schedule="async", budget=12, lab=colour.lab.model_dump() | {"robots": 2})
loop.run_async(loop.open_run(colour, store=store))
branin = load_campaign(f"{examples}/branin.yaml")
run = loop.open_run(branin, store=store)
for i in range(1, 5):
    loop.run_iteration(run, i)
loop.propose(run, 5, loop.fit(run, 5), 2)  # waiting to be approved
stuck = loop.open_run(with_changes(branin, "x", name="branin-interrupted"), store=store)
b = loop.propose(stuck, 1, None, 2)
store.set_status([b[0].id], "approved")
store.set_status([b[0].id], "running", location={b[0].id: "x"})
with store.session("lease") as s:
    now = datetime.now(timezone.utc)
    s.add(LeaseRow(campaign_id=stuck.record.id, holder="host:1:0", host="host", pid=1, acquired_at=now, expires_at=now + timedelta(seconds=30)))
    s.commit()
print([(r.name, len(store.experiments(r.id))) for r in store.campaigns()])

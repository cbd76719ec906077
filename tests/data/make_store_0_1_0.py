"""Write a store with Retort 0.1.0, as tests/data/store-0.1.0.db was written (for test_migrations.py).

Run with 0.1.0's code first on the path, e.g. from a worktree of commit fa15716 laid out as the
installed package (retort/, retort/orchestrator, ...):

    PYTHONPATH=/tmp/prevpkg python tests/data/make_store_0_1_0.py /tmp/prev/examples out.db

Three campaigns run through the loop's steps; a fourth is left with one experiment running (interrupted).
"""
import sys

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign, with_changes
from retort.orchestrator.store import Store

examples, out = sys.argv[1], sys.argv[2]
store = Store(f"sqlite:///{out}")
for path, iters in [("colour_match.yaml", 2), ("branin.yaml", 2), ("suzuki.yaml", 1)]:
    run = loop.open_run(load_campaign(f"{examples}/{path}"), store=store)
    for i in range(1, iters + 1):
        loop.run_iteration(run, i)
c = load_campaign(f"{examples}/branin.yaml")
run = loop.open_run(with_changes(c, "x", name="branin-interrupted"), store=store)
b = loop.propose(run, 1, None, 2)
store.set_status([b[0].id], "approved")
store.set_status([b[0].id], "running", location={b[0].id: "x"})
print([(r.name, len(store.experiments(r.id))) for r in store.campaigns()])

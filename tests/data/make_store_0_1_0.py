"""Writes a store with Retort 0.1.0 (commit fa15716): three campaigns through the loop steps."""
from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign, with_changes
from retort.orchestrator.store import Store
store = Store("sqlite:////tmp/prev-0.1.0.db")
for path, iters in [("colour_match.yaml", 2), ("branin.yaml", 2), ("suzuki.yaml", 1)]:
    c = load_campaign(f"/tmp/prev/examples/{path}")
    run = loop.open_run(c, store=store)
    for i in range(1, iters + 1):
        loop.run_iteration(run, i)
# one experiment left proposed, one running (interrupted)
c = load_campaign("/tmp/prev/examples/branin.yaml")
run = loop.open_run(with_changes(c, "x", name="branin-interrupted"), store=store)
b = loop.propose(run, 1, None, 2)
store.set_status([b[0].id], "approved"); store.set_status([b[0].id], "running", location={b[0].id: "x"})
print([ (r.name, len(store.experiments(r.id))) for r in store.campaigns()])

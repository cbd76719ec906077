"""People's decisions on a campaign: approving, rejecting, editing and adding experiments, results measured by
hand, measurements imported from a file, and the policy for proposals nobody decides in time. Each is checked
against the search space and the lab's limits before anything is stored (`retort.orchestrator.store.decisions`
stores it with its audit event)."""

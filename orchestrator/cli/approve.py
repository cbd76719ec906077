"""`retort approve` (a person's decisions on proposals, for labs without the web UI), `retort control` (pause, resume,
stop) and `retort import` (measurements made elsewhere, from a CSV file). All work on the store alone, beside a running
campaign."""

from __future__ import annotations

import argparse

from retort.orchestrator.cli.common import STORE_HELP, is_file, open_store, out, params, store_and_name, stored, user
from retort.orchestrator.errors import DecisionError


def add_parsers(sub) -> None:
    approve = sub.add_parser("approve", help="show proposals waiting for a decision, or approve, reject, edit them, or add an experiment")
    approve.add_argument("campaign", help="campaign name or YAML file")
    approve.add_argument("--store", help=STORE_HELP)
    approve.add_argument("--all", action="store_true", help="approve every proposal waiting")
    approve.add_argument("--approve", nargs="+", type=int, default=[], metavar="N", help="approve experiments N ...")
    approve.add_argument("--reject", nargs="+", type=int, default=[], metavar="N", help="reject experiments N ... (needs --reason; spends no budget)")
    approve.add_argument("--edit", nargs="+", action="append", default=[], metavar=("N", "NAME=VALUE"),
                         help="change experiment N's values and approve it (repeat for several)")
    approve.add_argument("--add", nargs="+", action="append", default=[], metavar="NAME=VALUE",
                         help="add an experiment of your own, approved (every parameter; repeat for several)")
    approve.add_argument("--reason", default="", help="why (kept in the audit trail; required to reject)")
    approve.add_argument("--forbid", default="", metavar="SMARTS",
                         help="with --reject, in a campaign that generates molecules: a substructure no later proposal may contain")
    approve.add_argument("--by", default=user(), help="who decides (stored with the decision; default: your login)")
    record = sub.add_parser("record", help="enter a result measured by hand (an experiment run off the instruments)")
    record.add_argument("campaign", help="campaign name or YAML file")
    record.add_argument("seq", type=int, help="the experiment's number (proposed or approved)")
    record.add_argument("values", nargs="+", metavar="NAME=VALUE", help="every objective, or every reading they are derived from")
    record.add_argument("--store", help=STORE_HELP)
    record.add_argument("--reason", default="", help="a note (kept in the audit trail)")
    record.add_argument("--by", default=user(), help="who measured it (stored; default: your login)")
    control = sub.add_parser("control", help="pause, resume or stop a campaign (the process running it obeys within seconds)")
    control.add_argument("campaign", help="campaign name or YAML file")
    control.add_argument("action", choices=["pause", "resume", "stop"],
                         help="pause: hand out no new work (running experiments finish); resume; stop: end the run (resume to continue)")
    control.add_argument("--store", help=STORE_HELP)
    control.add_argument("--reason", default="", help="why (kept in the audit trail)")
    control.add_argument("--by", default=user(), help="who (stored with the action; default: your login)")
    imp = sub.add_parser("import", help="import measurements made elsewhere from a CSV file (used by the model; no budget spent)")
    imp.add_argument("campaign", help="campaign YAML file (a new campaign is created) or the name of a stored one")
    imp.add_argument("file", help="CSV file: a header row naming parameters and objectives (or readings); retort export's CSV works")
    imp.add_argument("--store", help=STORE_HELP)
    imp.add_argument("--by", default=user(), help="who imports (stored in the audit trail; default: your login)")


def approve_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.decisions.approvals import Decision, decide
    from retort.orchestrator.labs.build import build_labs

    campaign, store, record = _stored(args)
    decisions = [Decision(action="approve", seq=n, reason=args.reason) for n in args.approve]
    if args.forbid and not args.reject:
        raise DecisionError("--forbid goes with --reject: the substructure is forbidden by rejecting a proposal that has it")
    decisions += [Decision(action="reject", seq=n, reason=args.reason, forbid=args.forbid) for n in args.reject]
    for edit in args.edit:
        decisions.append(Decision(action="edit", seq=_number(edit[0]), values=_values(edit[1:], f"--edit {edit[0]}"), reason=args.reason))
    decisions += [Decision(action="add", values=_values(values, "--add"), reason=args.reason) for values in args.add]
    if args.all:
        taken = {d.seq for d in decisions}
        decisions += [Decision(action="approve", seq=e.seq, reason=args.reason)
                      for e in store.experiments(record.id, statuses=("proposed",)) if e.seq not in taken]
    if not decisions:
        _show(campaign, store, record)
        return 0
    done = decide(campaign, store, record.id, build_labs(campaign, store), decisions, args.by)
    for e in done:
        what = "added" if e.provenance.planner == "operator" else e.status
        out.print(f"experiment {e.seq}: {what} by {args.by}: {params(e.params)}", highlight=False, soft_wrap=True)
    return 0


def record_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.decisions.approvals import record_by_hand

    campaign, store, record = _stored(args)
    e = record_by_hand(campaign, store, record.id, args.seq, _values(args.values, "values"), args.by, args.reason)
    out.print(f"experiment {e.seq} of {campaign.name}: measured by hand by {args.by}; the next model is fitted on it", highlight=False)
    return 0


def control_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.store.decisions import CONTROL_DONE, DecisionStore
    from retort.orchestrator.errors import StoreError

    campaign, store, record = _stored(args)
    try:
        state = DecisionStore(store).set_control(record.id, args.action, args.by, args.reason)
    except StoreError as exc:
        raise DecisionError(f"campaign {campaign.name!r}: {exc}") from None
    out.print(f"campaign {campaign.name} {CONTROL_DONE[state]} (by {args.by})", highlight=False)
    return 0


def import_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.decisions.importing import import_file

    campaign, store, record = _stored(args, create=True)
    seqs = import_file(campaign, store, record.id, args.file, args.by)
    out.print(f"imported {len(seqs)} measurement{'' if len(seqs) == 1 else 's'} from {args.file} into campaign {campaign.name!r} (experiments {seqs[0]}-{seqs[-1]}); "
              "they spend no budget, and the next proposal is fitted on them", highlight=False, soft_wrap=True)
    return 0


def _stored(args: argparse.Namespace, create: bool = False):
    """The campaign (as stored: its settings then are the ones that hold), its store and record. With `create`,
    a campaign file not yet in the store is checked as `retort validate` does and stored."""
    from retort.orchestrator.campaign import Campaign, load_campaign

    if create and is_file(args.campaign):
        from retort.orchestrator.loop import check_run

        campaign = load_campaign(args.campaign)
        store = open_store(args.store or campaign.store, create=True)
        check_run(campaign, store)
        return campaign, store, store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    store, name = store_and_name(args.campaign, args.store)
    if not name:
        raise DecisionError("name the campaign (its name in the store, or its YAML file)")
    campaign, record = stored(store, name)
    return campaign, store, record


def _show(campaign, store, record) -> None:
    from rich import box
    from rich.table import Table

    waiting = store.experiments(record.id, statuses=("proposed",))
    policy = campaign.approval.describe()
    if not waiting:
        out.print(f"campaign {campaign.name}: no proposal waits for a decision (approval: {policy})", highlight=False)
        return
    count = "1 proposal waits" if len(waiting) == 1 else f"{len(waiting)} proposals wait"
    table = Table(title=f"{campaign.name}: {count} for a decision (approval: {policy})", box=box.SIMPLE_HEAD)
    for col in ("#", "iteration", "parameters", "predicted (mean ± sd)", "acquisition", "P(beats best)", "planner"):
        table.add_column(col, overflow="fold")
    for e in waiting:
        predicted = ", ".join(f"{k} {p.mean:.4g} ± {p.std:.2g}" for k, p in e.provenance.predicted.items()) or "-"
        value = e.provenance.acquisition_value
        chance = e.provenance.improvement_probability
        chance = "-" if chance is None else f"{chance:.0%}" + (" (ruled out)" if e.provenance.ruled_out else "")
        origin = e.provenance.origin
        planner = e.provenance.planner + (f"; {origin.operator} of {', '.join(origin.parents)}" if origin else "")
        table.add_row(str(e.seq), str(e.iteration), params(e.params), predicted, "-" if value is None else f"{value:.3g}",
                      chance, planner)
    out.print(table)
    forbid = " [--forbid SMARTS]" if campaign.space.open else ""
    out.print(f"decide: retort approve {campaign.name} --all | --approve N ... | --reject N ... --reason TEXT{forbid} | --edit N NAME=VALUE ...",
              highlight=False, soft_wrap=True)


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DecisionError(f"--edit: expected an experiment number first, got {text!r}") from None


def _values(pairs: list[str], where: str) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise DecisionError(f"{where}: expected NAME=VALUE, got {pair!r}")
        values[name.strip()] = value.strip()
    if not values:
        raise DecisionError(f"{where}: give the values as NAME=VALUE")
    return values


COMMANDS = {"approve": approve_command, "record": record_command, "control": control_command, "import": import_command}

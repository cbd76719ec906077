"""`retort status` (stored campaigns and their progress) and `retort export` (a campaign's experiments as CSV or
JSON; a learn campaign's predictions over its whole space with `--predictions`). Both read the store alone; a campaign whose stored configuration this release refuses is listed and
exported all the same, with a line saying what is refused."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retort.orchestrator.cli.common import STORE_HELP, err, out, store_and_name


def add_parsers(sub) -> None:
    status = sub.add_parser("status", help="show stored campaigns and their progress")
    status.add_argument("campaign", nargs="?", help="campaign name or YAML file (default: all)")
    status.add_argument("--store", help=STORE_HELP)
    export = sub.add_parser("export", help="export a campaign's experiments")
    export.add_argument("campaign", help="campaign name or YAML file")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--store", help=STORE_HELP)
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.add_argument("--predictions", action="store_true", help="goal: learn: the model's predictions over the whole space (CSV) "
                                                                   "with uncertainty and trust class, instead of the experiments")
    export.add_argument("--points", type=int, default=4096, help="--predictions in a space with a continuous parameter: Sobol points "
                                                                 "(default 4096)")


def status_command(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    from retort.orchestrator.campaign import StoredConfigError, stored_campaign
    from retort.orchestrator.campaign.lifecycle import IMPORTED
    from retort.orchestrator.campaign.results import fidelity_spend, generation_text, headline, learning_text, warm_start_text

    store, name = store_and_name(args.campaign, args.store)
    records = [store.campaign(name)] if name else store.campaigns()
    table = Table(title=f"Campaigns in {store.url}", box=box.SIMPLE_HEAD,
                  caption="open: proposed / approved / running; rejected and imported spend no budget")
    table.add_column("campaign", no_wrap=True)
    for col in ("budget", "measured", "failed", "rejected", "imported", "open"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("best (Pareto: front)", min_width=20)
    refused, spends, warm = [], [], []
    for record in records:
        experiments = store.experiments(record.id)
        counts = store.status_counts(record.id)
        try:
            campaign = stored_campaign(record)
            budget, answer = str(campaign.budget), headline(campaign, experiments)
            if campaign.fidelities:
                spends.append((record.name, fidelity_spend(campaign, store.fidelity_counts(record.id), store.model_versions(record.id))))
            if campaign.warm_start:
                warm.append((record.name, warm_start_text(campaign, store.model_versions(record.id)) or "warm start: no model yet"))
            if campaign.purpose == "learn":
                warm.append((record.name, "learning: " + (learning_text(campaign, store.model_versions(record.id)) or "no committee yet")))
            if campaign.space.open:
                from retort.orchestrator.store.decisions import DecisionStore

                warm.append((record.name, "generation: " + generation_text(campaign, experiments, DecisionStore(store).forbidden(record.id))))
        except StoredConfigError as exc:
            refused.append(exc)
            budget, answer = "?", "configuration refused (below)"
        imported = sum(e.provenance.planner == IMPORTED for e in experiments)
        open_text = "/".join(str(counts.get(s, 0)) for s in ("proposed", "approved", "running"))
        table.add_row(record.name, budget, *(str(counts.get(s, 0)) for s in ("measured", "failed", "rejected")), str(imported), open_text,
                      answer)
    out.print(table)
    for name, spend in spends:  # a dry-wet campaign: the table counts its truth experiments; here every fidelity
        out.print(f"{name}: " + "; ".join(f"{s.name} {'(truth) ' if s.truth else ''}{s.describe()}" for s in spend)
                  + f"; total cost {sum(s.spend for s in spend):,.0f}", highlight=False, soft_wrap=True)
    for name, text in warm:
        out.print(f"{name}: {text}", highlight=False, soft_wrap=True)
    for exc in refused:
        out.print(f"note: {exc}", highlight=False, soft_wrap=True)
    return 0


def export_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.campaign import StoredConfigError, stored_campaign
    from retort.orchestrator.campaign.export import to_csv, to_json

    store, name = store_and_name(args.campaign, args.store)
    record = store.campaign(name)
    experiments = store.experiments(record.id)
    try:
        campaign = stored_campaign(record)
    except StoredConfigError as exc:  # the data are exported all the same, without what needs the configuration
        err.print(f"note: {exc}; exported without the best and Pareto-front columns", highlight=False, soft_wrap=True)
        campaign = None
    if args.predictions:
        return _export_predictions(args, record, campaign, experiments)
    text = to_csv(experiments, campaign) if args.format == "csv" else to_json(experiments, campaign)
    if args.output:
        Path(args.output).write_text(text)
        err.print(f"wrote {len(experiments)} experiments to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _export_predictions(args: argparse.Namespace, record, campaign, experiments) -> int:
    from retort.orchestrator.loop.predictions import predictions_csv
    from retort.orchestrator.errors import CampaignError

    if campaign is None:
        raise CampaignError(f"campaign {record.name!r}: its stored configuration is refused (above), so its model cannot be rebuilt")
    if args.format != "csv":
        raise CampaignError("--predictions writes CSV; leave out --format json")
    if args.points < 1 or args.points > 1_000_000:
        raise CampaignError(f"--points {args.points}: give 1 to 1000000 points")
    text, classes = predictions_csv(campaign, experiments, args.points)
    if args.output:
        Path(args.output).write_text(text)
        err.print(f"wrote {sum(classes.values())} predictions to {args.output}: " + ", ".join(f"{n} {k}" for k, n in sorted(classes.items())))
    else:
        sys.stdout.write(text)
    return 0


COMMANDS = {"status": status_command, "export": export_command}

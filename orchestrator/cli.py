"""The `retort` command: run, status and export campaigns.

Exit codes: 0 done; 2 a problem the user can act on (bad campaign file, store conflict, failed
measurement), printed as one message without a traceback; 130 interrupted (run again to continue).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retort.orchestrator.errors import RetortError

DEFAULT_STORE = "sqlite:///retort.db"
err = Console(stderr=True)
out = Console()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="retort", description="Closed-loop campaigns for self-driving labs.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run or continue a campaign")
    run.add_argument("campaign", help="campaign YAML file")
    run.add_argument("--planner", choices=["qLogNEI", "random"], help="override the campaign's planner")
    run.add_argument("--store", help="store URL (overrides the campaign's), e.g. postgresql+psycopg://host/db")
    run.add_argument("--report", help="report PNG path (default retort-reports/<campaign>.png)")
    run.add_argument("--verbose", action="store_true", help="show Prefect's logs")
    status = sub.add_parser("status", help="show stored campaigns and their progress")
    status.add_argument("campaign", nargs="?", help="campaign name or YAML file (default: all)")
    status.add_argument("--store", help=f"store URL (default {DEFAULT_STORE}, or the campaign file's)")
    export = sub.add_parser("export", help="export a campaign's experiments")
    export.add_argument("campaign", help="campaign name or YAML file")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--store", help=f"store URL (default {DEFAULT_STORE}, or the campaign file's)")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)  # `kill PID` stops like Ctrl-C: cleanly, the ephemeral Prefect server with it
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "status":
            return _status(args)
        return _export(args)
    except RetortError as exc:
        sys.stderr.write(f"error: {exc}\n")  # plain text: no wrapping inside paths or values
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("stopped. Everything measured is stored; run the same command again to continue.\n")
        return 130


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run(args: argparse.Namespace) -> int:
    from retort.orchestrator.settings import prefect_defaults

    prefect_defaults(verbose=args.verbose)
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.loop import open_run, summarise
    from retort.orchestrator.report import write_report

    campaign = load_campaign(args.campaign)
    if args.store:
        campaign = campaign.model_copy(update={"store": args.store})
    if args.planner:
        campaign = campaign.model_copy(update={"planner": args.planner})
    check = open_run(campaign)  # validates lab and store before Prefect starts (fails fast, exit 2)
    err.print(f"campaign [bold]{campaign.name}[/]: budget {campaign.budget}, batch {campaign.batch_size}, "
              f"planner {campaign.planner}, store {check.store.url}")
    from retort.orchestrator.flows import campaign_flow  # imports Prefect (slow)

    started = time.perf_counter()
    failure: Optional[BaseException] = None
    with _ProgressWatcher(campaign, check):
        try:
            campaign_flow(campaign)
        except RetortError as exc:
            failure = exc
    summary = summarise(campaign, check.store, check.record)
    _print_summary(summary, campaign, time.perf_counter() - started)
    report = write_report(campaign, check.store.experiments(check.record.id), args.report or f"retort-reports/{campaign.name}.png")
    out.print(f"Report: {report}", highlight=False, soft_wrap=True)
    if failure is not None:
        raise failure
    return 0


class _ProgressWatcher:
    """Shows iteration, experiments done and best so far, read from the store while the flow runs."""

    def __init__(self, campaign, run) -> None:
        self.campaign, self.run = campaign, run
        self.stop = threading.Event()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False
        )
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self.task = self.progress.add_task("starting Prefect", total=self.campaign.budget)
        self.progress.start()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self._update()
        self.progress.stop()

    def _poll(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self._update()
            except Exception:  # a transient read error must not kill the run
                pass

    def _update(self) -> None:
        from retort.orchestrator.loop import best

        experiments = self.run.store.experiments(self.run.record.id)
        done = sum(e.status in ("measured", "failed") for e in experiments)
        iteration = max((e.iteration for e in experiments), default=0)
        top = best(self.campaign, experiments)
        objective = self.campaign.objectives[0].name
        text = f"iteration {iteration}"
        if top is not None:
            text += f" · best {objective} {top.objectives()[objective]:.4g}"
        self.progress.update(self.task, completed=done, description=text)


def _print_summary(summary, campaign, seconds: float) -> None:
    table = Table(title=f"Campaign {summary.name}", show_header=False)
    table.add_row("experiments", f"{summary.measured} measured, {summary.failed} failed, budget {summary.budget}")
    table.add_row("iterations", str(summary.iterations))
    for name, value in summary.best_objectives.items():
        table.add_row(f"best {name}", f"{value:.6g} (experiment {summary.best_seq})")
    if summary.best_params:
        units = {p.name: getattr(p, "unit", "") for p in campaign.parameters}
        table.add_row("best parameters", ", ".join(f"{k}={_fmt(v)}{units.get(k, '')}" for k, v in summary.best_params.items()))
    table.add_row("model versions", str(summary.model_versions))
    if summary.last_loo_coverage_95:
        table.add_row("LOO 95% coverage (last model)", ", ".join(f"{k} {v:.0%}" for k, v in summary.last_loo_coverage_95.items()))
    table.add_row("simulated lab time", f"{summary.lab_seconds / 3600:.2f} h")
    table.add_row("wall time", f"{seconds:.0f} s")
    out.print(table)


def _fmt(v) -> str:
    return f"{v:.4g} " if isinstance(v, float) else f"{v} "


def _open(campaign_arg: Optional[str], store_arg: Optional[str]):
    """The store and (optionally) campaign name a status/export command refers to."""
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.store import Store

    name, url = campaign_arg, store_arg
    if campaign_arg and (campaign_arg.endswith((".yaml", ".yml")) or Path(campaign_arg).is_file()):
        campaign = load_campaign(campaign_arg)
        name, url = campaign.name, store_arg or campaign.store
    url = url or DEFAULT_STORE
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        from retort.orchestrator.errors import StoreError

        raise StoreError(f"no store at {url} (nothing has been run here yet); pass --store or run a campaign first")
    return Store(url), name


def _status(args: argparse.Namespace) -> int:
    from retort.orchestrator.campaign import Campaign
    from retort.orchestrator.loop import best

    store, name = _open(args.campaign, args.store)
    records = [store.campaign(name)] if name else store.campaigns()
    table = Table(title=f"Campaigns in {store.url}", box=box.SIMPLE_HEAD, caption="open: proposed / approved / running")
    table.add_column("campaign", no_wrap=True)
    for col in ("budget", "measured", "failed", "open"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("best", min_width=20)
    for record in records:
        campaign = Campaign.model_validate_json(record.config_json)
        experiments = store.experiments(record.id)
        counts = {s: sum(e.status == s for e in experiments) for s in ("proposed", "approved", "running", "measured", "failed")}
        top = best(campaign, experiments)
        objective = campaign.objectives[0].name
        best_text = f"{objective} {top.objectives()[objective]:.4g} (#{top.seq})" if top else "-"
        open_text = "/".join(str(counts[s]) for s in ("proposed", "approved", "running"))
        table.add_row(record.name, str(campaign.budget), str(counts["measured"]), str(counts["failed"]), open_text, best_text)
    out.print(table)
    return 0


def _export(args: argparse.Namespace) -> int:
    from retort.orchestrator.export import to_csv, to_json

    store, name = _open(args.campaign, args.store)
    record = store.campaign(name)
    experiments = store.experiments(record.id)
    text = to_csv(experiments) if args.format == "csv" else to_json(experiments)
    if args.output:
        Path(args.output).write_text(text)
        err.print(f"wrote {len(experiments)} experiments to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

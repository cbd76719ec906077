"""The `retort` command: run, validate, status and export campaigns; approve proposals; import measurements.

Exit codes: 0 done; 2 a problem the user can act on (bad campaign file, store conflict, failed
measurement), printed as one message without a traceback; 130 interrupted (run again to continue);
1 an unexpected error, printed as one line naming the log file that holds its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Optional

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retort.errors import RetortError

DEFAULT_STORE = "sqlite:///retort.db"
LOG_DIR = "retort-logs"
STOPPED = "stopped. Everything measured is stored; run the same command again to continue.\n"
err = Console(stderr=True)
out = Console()


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C and `kill PID` stop the same way, the local Prefect server with them
        signal.signal(signum, _stop)
    try:
        return COMMANDS[args.command](args)
    except RetortError as exc:
        sys.stderr.write(f"error: {exc}\n")  # plain text: no wrapping inside paths or values
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(STOPPED)
        return 130
    except Exception as exc:  # a bug: one line for the person, the traceback in a file for the report
        log = _write_traceback(args)
        what = f"campaign {args.campaign}" if getattr(args, "campaign", None) else f"'retort {args.command}'"
        sys.stderr.write(f"error: unexpected {type(exc).__name__} in {what}: {_first_line(exc)}; the traceback is in {log}. "
                         "Please report it. Everything stored so far is kept.\n")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retort", description="Closed-loop campaigns for self-driving labs.")
    parser.add_argument("--version", action="version", version=f"retort {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run or continue a campaign")
    run.add_argument("campaign", help="campaign YAML file")
    _overrides(run)
    run.add_argument("--iterations", type=_positive, help="stop after this many iterations (run again to continue)")
    run.add_argument("--report", help="report PNG path (default retort-reports/<campaign>.png)")
    run.add_argument("--verbose", action="store_true", help="show Prefect's logs")
    run.add_argument("--wait", action="store_true", help="if another process is running the campaign, wait for it instead of exiting")
    validate = sub.add_parser("validate", help="check a campaign file, its lab and its store; runs and stores nothing")
    validate.add_argument("campaign", help="campaign YAML file")
    _overrides(validate)
    status = sub.add_parser("status", help="show stored campaigns and their progress")
    status.add_argument("campaign", nargs="?", help="campaign name or YAML file (default: all)")
    status.add_argument("--store", help=f"store URL (default {DEFAULT_STORE}, or the campaign file's)")
    export = sub.add_parser("export", help="export a campaign's experiments")
    export.add_argument("campaign", help="campaign name or YAML file")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--store", help=f"store URL (default {DEFAULT_STORE}, or the campaign file's)")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    from retort.orchestrator import cli_deck

    cli_deck.add_parsers(sub)
    from retort.orchestrator import cli_approve

    cli_approve.add_parsers(sub)
    from retort.orchestrator import cli_ui

    cli_ui.add_parsers(sub)
    return parser


def _overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="run the file under another campaign name (a variant needs no YAML edit)")
    parser.add_argument("--planner", choices=["qLogNEI", "random"], help="override the campaign's planner")
    parser.add_argument("--store", help="store URL (overrides the campaign's), e.g. postgresql+psycopg://host/db")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _stop(signum, frame) -> None:
    from retort.orchestrator.stopping import request_stop

    request_stop()  # remembered, in case the KeyboardInterrupt lands somewhere that swallows it
    raise KeyboardInterrupt(f"signal {signum}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("retort")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "(no message)"


def _write_traceback(args: argparse.Namespace) -> str:
    """Write the current exception's traceback to a new file under retort-logs/ (or the temporary
    folder, if that cannot be written) and return its path."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"retort-{args.command}-{stamp}-{os.getpid()}.log"
    from retort.orchestrator.store import redact_url

    command = " ".join(redact_url(arg) if "://" in arg else arg for arg in sys.argv[1:])
    text = f"retort {_version()} {command}\n\n{traceback.format_exc()}"
    for folder in (Path(os.environ.get("RETORT_LOG_DIR", LOG_DIR)), Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
            return str(folder / name)
        except OSError:
            continue
    return "(no folder could be written; run with --verbose)"


def _campaign_from(args: argparse.Namespace):
    """The campaign file with the command line's overrides applied and validated."""
    from retort.orchestrator.campaign import load_campaign, with_changes

    campaign = load_campaign(args.campaign)
    changes = {key: getattr(args, key) for key in ("name", "planner", "store") if getattr(args, key, None)}
    return with_changes(campaign, "command line", **changes) if changes else campaign


def _run(args: argparse.Namespace) -> int:
    from retort.orchestrator.prefect_server import local_prefect_server
    from retort.orchestrator.settings import prefect_defaults

    prefect_defaults(verbose=args.verbose)
    campaign = _campaign_from(args)  # a file that is not a campaign is refused before a Prefect server is started
    with local_prefect_server(wait=False) as server, contextlib.ExitStack() as held:  # the server boots while the lab is checked
        from retort.orchestrator.lease import hold
        from retort.orchestrator.loop import open_run, summarise
        from retort.orchestrator.report import write_report
        from retort.orchestrator.stopping import stop_requested
        from retort.orchestrator.store import StoreError, check_persistent

        check_persistent(campaign.store)
        run = open_run(campaign)  # checks lab, space and store before Prefect runs anything (fails fast, exit 2)
        held.enter_context(hold(run.store, run.record.id, campaign.name, wait=args.wait))  # one driver per campaign: a second says who and exits 2
        err.print(f"campaign [bold]{campaign.name}[/]: budget {campaign.budget}, batch {campaign.batch_size}, "
                  f"planner {campaign.planner}, store {escape(run.store.url)}", highlight=False)
        _check_control(run)
        if run.approval_required:
            err.print(f"approval {campaign.approval.describe()}: decide with 'retort approve {campaign.name}' "
                      f"(store {escape(run.store.url)})", highlight=False)
        from pydantic import SecretStr

        from retort.orchestrator.flows import campaign_flow  # imports Prefect (slow)

        started = time.perf_counter()
        failure: Optional[RetortError] = None
        with _ProgressWatcher(campaign, run):
            server.wait_ready()
            try:
                masked = campaign.model_copy(update={"store": run.store.url})  # Prefect records parameters
                campaign_flow(masked, store_url=SecretStr(campaign.store), max_iterations=args.iterations)
            except RetortError as exc:
                failure = exc
            if stop_requested():
                raise KeyboardInterrupt("stop requested")
        if isinstance(failure, StoreError):
            raise failure  # the store cannot be read or written: nothing to summarise
        summary = summarise(campaign, run.store, run.record)
        _print_summary(summary, campaign, time.perf_counter() - started)
        report = write_report(campaign, run.store.experiments(run.record.id), args.report or f"retort-reports/{campaign.name}.png")
        out.print(f"Report: {report}", highlight=False, soft_wrap=True)
    if failure is not None:
        raise failure
    return 0


def _check_control(run) -> None:
    """A campaign an operator stopped is not run until resumed; a paused one is run, and waits."""
    from retort.orchestrator.decision_store import DecisionStore
    from retort.orchestrator.errors import CampaignError

    decisions = DecisionStore(run.store)
    state = decisions.control(run.record.id)
    if state == "run":
        return
    last = next(iter(e for e in decisions.events(run.record.id, limit=20) if e.action in ("pause", "stop")), None)
    who = f" by {last.actor} at {last.created_at:%Y-%m-%d %H:%M} UTC" + (f" ({last.reason})" if last.reason else "") if last else ""
    if state == "stopped":
        raise CampaignError(f"campaign {run.campaign.name!r} was stopped{who}; resume it with 'retort control {run.campaign.name} resume' "
                            "(or in the UI), then run again")
    err.print(f"campaign {run.campaign.name} is paused{who}: it starts once resumed ('retort control {run.campaign.name} resume')",
              highlight=False)


def _validate(args: argparse.Namespace) -> int:
    from retort.orchestrator.campaign import Campaign
    from retort.orchestrator.loop import check_run
    from retort.orchestrator.store import Store, check_persistent, sqlite_file_missing

    campaign = _campaign_from(args)
    check_persistent(campaign.store)
    store = None if sqlite_file_missing(campaign.store) else Store(campaign.store)  # validating creates no file
    check_run(campaign, store)
    record = store.find_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config) if store else None
    if record:
        counts = store.status_counts(record.id)  # imported measurements spend no budget
        stored = f"{counts.get('measured', 0) + counts.get('failed', 0)} of {campaign.budget} experiments done"
    else:
        stored = "new in the store" if store else "a new store"
    space = campaign.space
    size = f"{space.n_candidates():,} candidates" if space.is_discrete else f"{space.dim} columns"
    out.print(f"{args.campaign}: campaign {campaign.name!r} is valid: {len(campaign.parameters)} parameters ({size}), "
              f"{len(campaign.objectives)} objective(s), lab {campaign.lab.kind}, budget {campaign.budget}, "
              f"batch {campaign.batch_size}; {stored}. Nothing was run or stored.", highlight=False, soft_wrap=True)
    return 0


class _ProgressWatcher:
    """Shows iteration, experiments done and best so far, read from the store while the flow runs."""

    def __init__(self, campaign, run) -> None:
        self.campaign, self.run = campaign, run
        self.done, self.top = -1, None
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
        try:
            self._update()
        except RetortError:  # the store broke: the run reports why
            pass
        finally:
            self.progress.stop()

    def _poll(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self._update()
            except Exception:  # a transient read error must not kill the run
                pass

    def _update(self) -> None:
        from retort.orchestrator.loop import best, pareto_front

        counts = self.run.counts()  # one small query; the measured experiments are read only when they change
        done = counts.get("measured", 0) + counts.get("failed", 0)
        if done != self.done:
            measured = self.run.experiments(statuses=("measured",))
            self.top = len(pareto_front(self.campaign, measured)) if self.campaign.trade_off == "pareto" else best(self.campaign, measured)
            self.done = done
        iteration = self.run.store.last_iteration(self.run.record.id)
        top = self.top
        objective = self.campaign.objectives[0].name
        text = f"iteration {iteration}"
        if isinstance(top, int):
            text += f" · Pareto front {top}"
        elif top is not None:
            text += f" · best {objective} {top.objectives()[objective]:.4g}"
        if self.run.approval_required and counts.get("proposed"):
            text += f" · {counts['proposed']} waiting for approval"
        from retort.orchestrator.loop import control

        state = control(self.run)
        if state != "run":
            text += f" · {state} by an operator"
        self.progress.update(self.task, completed=done, description=text)


def _print_summary(summary, campaign, seconds: float) -> None:
    table = Table(title=f"Campaign {summary.name}", show_header=False)
    table.add_row("experiments", f"{summary.measured} measured, {summary.failed} failed, budget {summary.budget}")
    if summary.rejected:
        table.add_row("rejected", f"{_count(summary.rejected, 'proposal')} (no budget spent)")
    if summary.imported:
        table.add_row("imported", f"{_count(summary.imported, 'measurement')} (no budget spent)")
    table.add_row("iterations", str(summary.iterations))
    if campaign.outcome_constraints:
        table.add_row("outcome constraints", ", ".join(map(str, campaign.outcome_constraints))
                      + ("" if summary.best_seq is not None else " (no experiment keeps to them yet)"))
    if summary.front:
        table.add_row("Pareto front", f"{_count(len(summary.front), 'experiment')}: " + ", ".join(f"#{n}" for n in summary.front))
    if campaign.trade_off == "pareto":
        summary = summary.model_copy(update={"best_objectives": {}, "best_params": {}})  # no single best: the front is the answer
    for name, value in summary.best_objectives.items():
        table.add_row(f"best {name}", f"{value:.6g} (experiment {summary.best_seq})")
    if summary.best_params:
        units = {p.name: getattr(p, "unit", "") for p in campaign.parameters}
        table.add_row("best parameters", ", ".join(f"{k}={_fmt(v)}{units.get(k, '')}" for k, v in summary.best_params.items()))
    table.add_row("model versions", str(summary.model_versions))
    if summary.last_loo_coverage_95:
        table.add_row("LOO 95% coverage (last model)", ", ".join(f"{k} {v:.0%}" for k, v in summary.last_loo_coverage_95.items()))
    for warning, times in summary.fit_warnings.items():  # stored with each model version
        table.add_row("model fit warned", f"{times} x {warning}")
    robot = getattr(campaign.lab, "backend", "virtual") != "virtual"
    lab_time = f"{summary.lab_seconds / 3600:.2f} h" if summary.lab_seconds >= 360 else f"{summary.lab_seconds:.1f} s"
    table.add_row("robot run time" if robot else "simulated lab time", lab_time)
    table.add_row("wall time", f"{seconds:.0f} s")
    out.print(table)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fmt(v) -> str:
    return f"{v:.4g} " if isinstance(v, float) else f"{v} "


def _open(campaign_arg: Optional[str], store_arg: Optional[str]):
    """The store and (optionally) campaign name a status/export command refers to."""
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.errors import StoreError
    from retort.orchestrator.store import Store, sqlite_file_missing

    name, url = campaign_arg, store_arg
    if campaign_arg and (campaign_arg.endswith((".yaml", ".yml")) or Path(campaign_arg).is_file()):
        campaign = load_campaign(campaign_arg)
        name, url = campaign.name, store_arg or campaign.store
    url = url or DEFAULT_STORE
    if sqlite_file_missing(url):
        raise StoreError(f"no store at {url} (nothing has been run here yet); pass --store or run a campaign first")
    return Store(url), name


def _status(args: argparse.Namespace) -> int:
    from retort.orchestrator.campaign import Campaign
    from retort.orchestrator.loop import best
    from retort.orchestrator.records import IMPORTED

    store, name = _open(args.campaign, args.store)
    records = [store.campaign(name)] if name else store.campaigns()
    table = Table(title=f"Campaigns in {store.url}", box=box.SIMPLE_HEAD,
                  caption="open: proposed / approved / running; rejected and imported spend no budget")
    table.add_column("campaign", no_wrap=True)
    for col in ("budget", "measured", "failed", "rejected", "imported", "open"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("best", min_width=20)
    for record in records:
        campaign = Campaign.model_validate_json(record.config_json)
        experiments = store.experiments(record.id)
        counts = store.status_counts(record.id)
        imported = sum(e.provenance.planner == IMPORTED for e in experiments)
        top = best(campaign, experiments)
        objective = campaign.objectives[0].name
        best_text = f"{objective} {top.objectives()[objective]:.4g} (#{top.seq})" if top else "-"
        open_text = "/".join(str(counts.get(s, 0)) for s in ("proposed", "approved", "running"))
        table.add_row(record.name, str(campaign.budget), *(str(counts.get(s, 0)) for s in ("measured", "failed", "rejected")),
                      str(imported), open_text, best_text)
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


def _deck(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_deck import deck_command

    return deck_command(args)


def _opentrons(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_deck import opentrons_command

    return opentrons_command(args)


def _approve(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_approve import approve_command

    return approve_command(args)


def _control(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_approve import control_command

    return control_command(args)


def _record(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_approve import record_command

    return record_command(args)


def _import(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_approve import import_command

    return import_command(args)


def _ui(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_ui import ui_command

    return ui_command(args)


def _users(args: argparse.Namespace) -> int:
    from retort.orchestrator.cli_ui import users_command

    return users_command(args)


COMMANDS = {"ui": _ui, "users": _users, "run": _run, "validate": _validate, "status": _status, "export": _export, "deck": _deck, "opentrons": _opentrons,
            "approve": _approve, "control": _control, "record": _record, "import": _import}

if __name__ == "__main__":
    sys.exit(main())

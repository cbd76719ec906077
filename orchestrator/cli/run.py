"""`retort run` (run or continue a campaign: a local Prefect server, a progress bar, a summary and a report PNG) and
`retort validate` (everything a run would check; runs and stores nothing)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from typing import Optional

from retort.errors import RetortError
from retort.orchestrator.cli.common import count, err, fmt, out


def add_parsers(sub) -> None:
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


def _campaign_from(args: argparse.Namespace):
    """The campaign file with the command line's overrides applied and validated."""
    from retort.orchestrator.campaign import load_campaign, with_changes

    campaign = load_campaign(args.campaign)
    changes = {key: getattr(args, key) for key in ("name", "planner", "store") if getattr(args, key, None)}
    return with_changes(campaign, "command line", **changes) if changes else campaign


def run_command(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from retort.orchestrator.flows.server import local_prefect_server
    from retort.orchestrator.flows.settings import prefect_defaults
    from retort.orchestrator.store.decisions import DecisionStore

    prefect_defaults(verbose=args.verbose)
    campaign = _campaign_from(args)  # a file that is not a campaign is refused before a Prefect server is started
    with local_prefect_server(wait=False) as server, contextlib.ExitStack() as held:  # the server boots while the lab is checked
        from retort.orchestrator.campaign.results import summarise
        from retort.orchestrator.cli.report import write_report
        from retort.orchestrator.errors import StoreError
        from retort.orchestrator.loop import open_run
        from retort.orchestrator.loop.stopping import stop_requested
        from retort.orchestrator.store import check_persistent
        from retort.orchestrator.store.leases import hold

        check_persistent(campaign.store)
        run = open_run(campaign)  # checks lab, space and store before Prefect runs anything (fails fast, exit 2)
        held.enter_context(hold(run.store, run.record.id, campaign.name, wait=args.wait))  # one driver per campaign: a second says who and exits 2
        costs = ", ".join(f"{f.name} {f.cost:g}" for f in campaign.fidelities)
        planner = f"{run.planner.name} by cost ({costs}; budget: {campaign.truth} experiments)" if campaign.fidelities and run.planner.name != "random" \
            else f"learn ({campaign.learning.describe()})" if campaign.purpose == "learn" and run.planner.name != "random" else campaign.planner
        err.print(f"campaign [bold]{campaign.name}[/]: budget {campaign.budget}, batch {campaign.batch_size}, "
                  f"planner {planner}, store {escape(run.store.url)}", highlight=False)
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
        if failure is not None:  # said first, so the table below is not read as a finished run
            sys.stderr.write(f"error: {failure}\n")
        experiments, models = run.experiments(), run.store.model_versions(run.record.id)
        forbidden = DecisionStore(run.store).forbidden(run.record.id) if campaign.space.open else []
        print_summary(summarise(campaign, experiments, models, forbidden), campaign, time.perf_counter() - started, stopped=failure is not None)
        report = write_report(campaign, experiments, args.report or f"retort-reports/{campaign.name}.png", models)
        out.print(f"Report: {report}", highlight=False, soft_wrap=True)
    return 0 if failure is None else 2


def _check_control(run) -> None:
    """A campaign an operator stopped is not run until resumed; a paused one is run, and waits."""
    from retort.orchestrator.errors import CampaignError
    from retort.orchestrator.store.decisions import DecisionStore

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


def validate_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.campaign import Campaign
    from retort.orchestrator.campaign.results import done
    from retort.orchestrator.loop import check_run
    from retort.orchestrator.store import Store, check_persistent, sqlite_file_missing

    campaign = _campaign_from(args)
    check_persistent(campaign.store)
    store = None if sqlite_file_missing(campaign.store) else Store(campaign.store)  # validating creates no file
    check_run(campaign, store)
    record = store.find_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config) if store else None
    if record:
        stored = f"{done(store.status_counts(record.id))} of {campaign.budget} experiments done"  # imported ones spend no budget
    else:
        stored = "new in the store" if store else "a new store"
    space = campaign.space
    size = f"{space.n_candidates():,} candidates" if space.is_discrete else f"{space.dim} columns"
    out.print(f"{args.campaign}: campaign {campaign.name!r} is valid: {len(campaign.parameters)} parameters ({size}), "
              f"{len(campaign.objectives)} objective(s), lab {campaign.lab.kind}"
              + "".join(f", {f.name} ({'the truth' if f.is_truth else f.lab.engine + ' computation'}, cost {f.cost:g})" for f in campaign.fidelities)
              + (f", warm start from {', '.join(campaign.warm_start_names)}" if campaign.warm_start else "")
              + (f", goal learn ({campaign.learning.describe()})" if campaign.purpose == "learn" else "")
              + "".join(f", {p.name} generates (seeds: {len(p.labels)} listed)" for p in space.open)
              + f", budget {campaign.budget}, "
              f"batch {campaign.batch_size}; {stored}. Nothing was run or stored.", highlight=False, soft_wrap=True)
    return 0


class _ProgressWatcher:
    """Shows iteration, experiments done and the campaign's answer so far, read from the store while the flow runs."""

    def __init__(self, campaign, run) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.campaign, self.run = campaign, run
        self.done, self.answer = -1, "-"
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
        from retort.orchestrator.campaign.results import done, headline
        from retort.orchestrator.loop import control

        counts = self.run.counts()  # one small query; the measured experiments are read only when they change
        finished = done(counts)
        if finished != self.done:
            self.answer = headline(self.campaign, self.run.experiments(statuses=("measured",)))
            self.done = finished
        text = f"iteration {self.run.store.last_iteration(self.run.record.id)}"
        if self.answer != "-":
            text += f" · {'Pareto ' if self.campaign.trade_off == 'pareto' else 'best '}{self.answer}"
        if self.run.approval_required and counts.get("proposed"):
            text += f" · {counts['proposed']} waiting for approval"
        state = control(self.run)
        if state != "run":
            text += f" · {state} by an operator"
        self.progress.update(self.task, completed=finished, description=text)


def print_summary(summary, campaign, seconds: float, stopped: bool = False) -> None:
    """The table `retort run` ends with (`results.CampaignSummary`); `stopped`: the run ended on an error (said above it)."""
    from rich.table import Table

    title = f"Campaign {summary.name}" + (" so far (stopped: see the error above)" if stopped else "")
    table = Table(title=title, show_header=False)
    table.add_column()
    table.add_column(overflow="fold")  # a SMILES has no spaces to wrap at: folded, never cut off
    table.add_row("experiments", f"{summary.measured} measured, {summary.failed} failed, budget {summary.budget}")
    if summary.rejected:
        table.add_row("rejected", f"{count(summary.rejected, 'proposal')} (no budget spent)")
    if summary.imported:
        table.add_row("imported", f"{count(summary.imported, 'measurement')} (no budget spent)")
    table.add_row("iterations", str(summary.iterations))
    for spend in summary.fidelities:
        table.add_row(f"{spend.name} ({'truth' if spend.truth else 'dry'})", spend.describe())
    if summary.fidelities:
        table.add_row("total cost", f"{sum(s.spend for s in summary.fidelities):,.0f}")
    if summary.warm_start:
        table.add_row("warm start", summary.warm_start)
    if summary.learning:
        table.add_row("learning", summary.learning)
    if summary.generation:
        table.add_row("generation", summary.generation)
    if campaign.outcome_constraints:
        table.add_row("outcome constraints", ", ".join(map(str, campaign.outcome_constraints))
                      + ("" if summary.best_seq is not None else " (no experiment keeps to them yet)"))
    if summary.front:
        table.add_row("Pareto front", f"{count(len(summary.front), 'experiment')}: " + ", ".join(f"#{n}" for n in summary.front))
    if campaign.trade_off != "pareto":  # with a Pareto trade-off there is no single best: the front is the answer
        for name, value in summary.best_objectives.items():
            table.add_row(f"best {name}", f"{value:.6g} (experiment {summary.best_seq})")
        if summary.best_params:  # one row each: the conditions a chemist carries to the bench, in full
            units = {p.name: getattr(p, "unit", "") for p in campaign.parameters}
            for k, v in summary.best_params.items():
                table.add_row(f"best {k}", fmt(v) + (f" {units[k]}" if units.get(k) else ""))
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


COMMANDS = {"run": run_command, "validate": validate_command}

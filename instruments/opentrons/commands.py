"""What an Opentrons run did to each experiment of a plan, read from the run's commands.

The protocol (`protocol.render`) puts a ``retort experiment N -> WELL`` comment before each
experiment's steps, so a run's commands split into one segment per experiment. Liquid is followed
through each pipette's tip: an aspirate from a reservoir well holding a stock loads that stock, a
dispense into a plate well delivers it; a mix (aspirate and dispense in the same plate well) moves
the well's own liquid and adds nothing. Only commands that succeeded count.

Example:
    >>> report = report_from_commands(plan, client.commands(run_id), "succeeded", [], run_id)  # doctest: +SKIP
    >>> [e.status for e in report.experiments]  # doctest: +SKIP
    ['done', 'done']
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from retort.instruments.labware import WellRef
from retort.instruments.opentrons.protocol import MARKER
from retort.instruments.plan import Dispensed, ExperimentPlan, ExperimentReport, Plan, RunReport, Touched

LOG_FIELDS = ("id", "commandType", "status", "params", "result", "error", "startedAt", "completedAt")
LIQUID_COMMANDS = frozenset({"aspirate", "dispense"})
RAN = frozenset({"succeeded", "failed"})
TOUCHING = frozenset({"succeeded", "failed", "running"})  # a command that began may have touched what it names
VOLUME_TOLERANCE = 1e-6  # uL
_MARKER = re.compile(re.escape(MARKER) + r"(\d+)\b")
_LINE = re.compile(r"\[line (\d+)\]")


def trim(command: dict) -> dict:
    """The fields of a robot command worth storing (id, type, status, params, result, error, times)."""
    return {k: command[k] for k in LOG_FIELDS if command.get(k) is not None}


def describe_error(error: Optional[dict]) -> str:
    """One line for a robot error occurrence: its cause under Opentrons' wrappers, code and protocol line.

    Example:
        >>> describe_error({"errorType": "ExceptionInProtocolError", "errorCode": "4000",
        ...     "detail": "ProtocolCommandFailedError [line 14]: ...", "wrappedErrors": [
        ...     {"errorType": "FailedToLoadPipetteError", "errorCode": "3010", "detail": "mount LEFT: expected p300"}]})
        'FailedToLoadPipetteError (error 3010): mount LEFT: expected p300 (protocol line 14)'
    """
    if not error:
        return "unknown error"
    cause = error
    while cause.get("wrappedErrors") and cause.get("errorType") in {"ExceptionInProtocolError", "ProtocolCommandFailedError"}:
        cause = cause["wrappedErrors"][0]
    text = f"{cause.get('errorType', 'UnknownError')} (error {cause.get('errorCode', '?')}): {' '.join(str(cause.get('detail', '')).split())}"
    line = _LINE.search(str(error.get("detail", "")))
    return f"{text} (protocol line {line.group(1)})" if line else text


def _marker_seq(command: dict) -> Optional[int]:
    if command.get("commandType") != "comment":
        return None
    match = _MARKER.match(str((command.get("params") or {}).get("message", "")))
    return int(match.group(1)) if match else None


def labware_slots(commands: Iterable[dict], labware: Iterable[dict] = ()) -> dict[str, str]:
    """labwareId -> deck slot, from `labware` (a run's ``labware`` list) and ``loadLabware`` commands that carry a result."""
    out: dict[str, str] = {}
    for item in labware:
        slot = (item.get("location") or {}).get("slotName")
        if slot and item.get("id"):
            out[item["id"]] = str(slot)
    for command in commands:
        if command.get("commandType") != "loadLabware":
            continue
        labware_id = (command.get("result") or {}).get("labwareId")
        slot = ((command.get("params") or {}).get("location") or {}).get("slotName")
        if labware_id and slot:
            out[labware_id] = str(slot)
    return out


@dataclass
class _Tip:
    """What one pipette's tip holds: uL of each stock, and uL taken from a plate well (by a mix)."""

    stocks: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    other: float = 0.0

    def dispense(self, volume: float) -> dict[str, float]:
        """Remove `volume`: first the mixed-back liquid, then the stocks in proportion. Returns the stocks delivered."""
        back = min(volume, self.other)
        self.other -= back
        rest = volume - back
        held = sum(self.stocks.values())
        if rest <= 0 or held <= 0:
            return {}
        share = min(1.0, rest / held)
        out = {name: v * share for name, v in self.stocks.items() if v > 0}
        for name, v in out.items():
            self.stocks[name] -= v
        return out


@dataclass
class _Trace:
    """Liquid delivered per plate well, tips picked up, in run order."""

    wells: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    tips: list[WellRef] = field(default_factory=list)


def _trace(plan: Plan, commands: Sequence[dict], slots: dict[str, str]) -> _Trace:
    deck = plan.deck
    stock_of = {s.well: name for name, s in deck.stocks.items()}
    tips: dict[str, _Tip] = defaultdict(_Tip)
    trace = _Trace()
    for command in commands:
        if command.get("status") != "succeeded":
            continue
        kind = command.get("commandType")
        params = command.get("params") or {}
        pipette = str(params.get("pipetteId", ""))
        slot, well = slots.get(str(params.get("labwareId", ""))), params.get("wellName")
        volume = float(params.get("volume") or 0.0)
        if kind == "pickUpTip":
            tips[pipette] = _Tip()
            if slot is not None and well:
                trace.tips.append(WellRef(slot=slot, well=str(well)))
        elif kind in {"dropTip", "dropTipInPlace"}:
            tips[pipette] = _Tip()
        elif kind == "aspirate":
            if slot == deck.reservoir.slot and well in stock_of:
                tips[pipette].stocks[stock_of[str(well)]] += volume
            else:
                tips[pipette].other += volume
        elif kind == "dispense":
            delivered = tips[pipette].dispense(volume)
            if slot == deck.plate.slot and well:
                for name, v in delivered.items():
                    trace.wells[str(well)][name] += v
    return trace


def touched(plan: Plan, commands: Sequence[dict], slots: dict[str, str]) -> Optional[Touched]:
    """What the run's commands touched (`Touched`): a command that began counts, even if it failed or was cut short.
    None when a tip pick-up names labware whose slot is unknown (what it used cannot be told)."""
    deck = plan.deck
    stock_of = {s.well: name for name, s in deck.stocks.items()}
    tips: list[WellRef] = []
    wells: list[str] = []
    stocks: dict[str, float] = defaultdict(float)
    for command in commands:
        if command.get("status") not in TOUCHING:
            continue
        kind, params = command.get("commandType"), command.get("params") or {}
        slot, well = slots.get(str(params.get("labwareId", ""))), params.get("wellName")
        if kind == "pickUpTip":
            if slot is None or not well:
                return None
            tips.append(WellRef(slot=slot, well=str(well)))
        elif kind in LIQUID_COMMANDS and slot == deck.plate.slot and well and str(well) not in wells:
            wells.append(str(well))
        elif kind == "aspirate" and slot == deck.reservoir.slot and well in stock_of:
            stocks[stock_of[str(well)]] += float(params.get("volume") or 0.0)
    return Touched(tips=tuple(tips), wells=tuple(wells), stocks=dict(stocks))


def _segments(commands: Sequence[dict]) -> dict[int, list[dict]]:
    """Experiment seq -> its commands (from its marker comment to the next marker)."""
    out: dict[int, list[dict]] = {}
    current: Optional[list[dict]] = None
    for command in commands:
        seq = _marker_seq(command)
        if seq is not None:
            current = out.setdefault(seq, [])
        if current is not None:
            current.append(command)
    return out


def _dispensed(experiment: ExperimentPlan, plan: Plan, trace: _Trace) -> tuple[Dispensed, ...]:
    got = trace.wells.get(experiment.well.well, {})
    order = list(experiment.recipe(plan.deck)) + sorted(set(got) - set(experiment.recipe(plan.deck)))
    return tuple(Dispensed(liquid=name, volume=round(got[name], 6)) for name in order if got.get(name, 0.0) > VOLUME_TOLERANCE)


def _amounts(volumes: dict[str, float]) -> str:
    return ", ".join(f"{v:g} uL {n}" for n, v in volumes.items()) or "nothing"


def _mismatch(experiment: ExperimentPlan, plan: Plan, dispensed: tuple[Dispensed, ...]) -> Optional[str]:
    want = experiment.recipe(plan.deck)
    got = {d.liquid: d.volume for d in dispensed}
    if all(abs(want.get(n, 0.0) - got.get(n, 0.0)) <= VOLUME_TOLERANCE for n in set(want) | set(got)):
        return None
    return f"the robot's commands put {_amounts(got)} into well {experiment.well.well}, but the plan says {_amounts(want)}"


def _run_error(run_status: str, run_errors: Sequence[dict]) -> Optional[str]:
    if run_errors:
        return "; ".join(describe_error(e) for e in run_errors)
    if run_status == "stopped":
        return "the run was stopped"
    if run_status == "failed":
        return "the run failed without an error from the robot"
    return None


def _experiment(
    experiment: ExperimentPlan,
    plan: Plan,
    segment: Optional[list[dict]],
    finished: bool,
    run_status: str,
    run_error: Optional[str],
    trace: _Trace,
) -> ExperimentReport:
    """One experiment's report. `finished`: the run went past its segment (a later marker ran, or the run succeeded)."""
    dispensed = _dispensed(experiment, plan, trace)
    if segment is None:
        if dispensed:  # liquid reached its well, yet its marker never ran: the protocol is not the plan's
            return ExperimentReport(seq=experiment.seq, status="failed", dispensed=dispensed, error="its marker comment never ran, yet its well received liquid")
        why = f"the run {run_status} before it started" + (f": {run_error}" if run_error and run_status == "failed" else "")
        if run_status == "succeeded":
            why = f"the run succeeded without its marker comment {MARKER}{experiment.seq!s}: the protocol is not this plan's"
        return ExperimentReport(seq=experiment.seq, status="not_started", error=why)
    ran = any(c.get("commandType") in LIQUID_COMMANDS and c.get("status") in RAN for c in segment)
    failed = next((c for c in segment if c.get("status") == "failed"), None)
    if failed is not None:
        error: Optional[str] = f"{failed.get('commandType')} failed: {describe_error(failed.get('error'))}"
    elif not finished:
        error = f"the run {run_status} while this experiment was in progress" + (f": {run_error}" if run_error and run_status == "failed" else "")
    else:
        error = _mismatch(experiment, plan, dispensed)
        if error is None:
            return ExperimentReport(seq=experiment.seq, status="done", dispensed=dispensed)
    return ExperimentReport(seq=experiment.seq, status="failed" if ran else "not_started", dispensed=dispensed, error=error)


def report_from_commands(
    plan: Plan,
    commands: Sequence[dict],
    run_status: str,
    run_errors: Sequence[dict] = (),
    run_id: Optional[str] = None,
    seconds: float = 0.0,
    *,
    labware: Sequence[dict] = (),
    backend: str = "opentrons",
) -> RunReport:
    """A `RunReport` for `plan` from a finished run's commands.

    Per experiment: ``done`` if every command of it succeeded, the run went past it and its well got
    what the plan says; ``failed`` if a command of it failed, the run ended while it was in
    progress, or its well got something else; ``not_started`` if none of its aspirates or
    dispenses ran. `dispensed` is the stock liquid that reached its well (uL per stock).

    Args:
        plan: the plan the run's protocol was rendered from.
        commands: every command of the run, in order (``GET /runs/{id}/commands``).
        run_status: the run's final status: ``succeeded``, ``failed`` or ``stopped``.
        run_errors: the run's ``errors``.
        run_id: the robot's run id.
        seconds: how long the run took (s).
        labware: the run's ``labware`` list (id, location): maps each command's labwareId to a slot,
            since the command list omits ``loadLabware`` results.
        backend: the report's backend name.

    Raises:
        ValueError: `run_status` is not a final status.
    """
    if run_status not in ("succeeded", "failed", "stopped"):
        raise ValueError(f"run {run_id} is {run_status!r}: report only a finished run (succeeded, failed or stopped)")
    slots = labware_slots(commands, labware)
    trace = _trace(plan, commands, slots)
    segments = _segments(commands)
    run_error = _run_error(run_status, run_errors)
    order = [_marker_seq(c) for c in commands if _marker_seq(c) is not None and c.get("status") == "succeeded"]
    reports = []
    for experiment in plan.experiments:
        seq = experiment.seq
        later = seq in order and order.index(seq) < len(order) - 1
        finished = later or (run_status == "succeeded" and seq in order)
        reports.append(_experiment(experiment, plan, segments.get(seq), finished, run_status, run_error, trace))
    return RunReport(
        backend=backend,
        run_id=run_id,
        status=run_status,  # type: ignore[arg-type]
        experiments=tuple(reports),
        tips_used=tuple(trace.tips),
        error=run_error,
        seconds=round(seconds, 3),
        log=tuple(trim(c) for c in commands),
        labware=slots,
        touched=touched(plan, commands, slots),
    )

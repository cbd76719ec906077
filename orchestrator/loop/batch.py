"""The batch schedule: one iteration proposes for every instrument in service, waits for people's decisions
where the campaign asks for them, runs each instrument's share at once and returns when all are done."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

from retort.orchestrator.errors import LabNotReady
from retort.orchestrator.loop.budget import open_experiments, plannable
from retort.orchestrator.loop.waits import awaiting, wait_for_decisions, wait_while_paused
from retort.orchestrator.loop.run import CampaignRun
from retort.orchestrator.loop.steps import PLAIN, RecordOutcome, Steps

NOTHING = RecordOutcome(measured=[], failed={})


def merge(outcomes: list[RecordOutcome]) -> RecordOutcome:
    return RecordOutcome(measured=sorted(s for o in outcomes for s in o.measured), failed={k: v for o in outcomes for k, v in o.failed.items()},
                         without_value={k: v for o in outcomes for k, v in o.without_value.items()})


def chunks(seqs: list[int], instruments: list[str], size: int) -> list[tuple[str, list[int]]]:
    """Up to `size` experiments per instrument, in order."""
    return [(name, seqs[i * size:(i + 1) * size]) for i, name in enumerate(instruments) if seqs[i * size:(i + 1) * size]]


def in_threads(jobs: list[Callable[[], RecordOutcome]]) -> list[RecordOutcome]:
    """Run jobs at once (one thread each; a single job on this thread), wait for all, then raise the first error."""
    if len(jobs) == 1:
        return [jobs[0]()]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="retort-instrument") as pool:
        futures = [pool.submit(contextvars.copy_context().run, job) for job in jobs]
        wait(futures)
    return [f.result() for f in futures]


def routed(run: CampaignRun, seqs: list[int], instruments: list[str], size: int) -> list[tuple[str, list[int]]]:
    """Who runs what: truth experiments up to `size` per truth instrument, in order (`chunks`); a dry-wet campaign's
    computations each on its fidelity's lab, all at once (a computational lab fans them out itself)."""
    if not run.campaign.fidelities:
        return chunks(seqs, instruments, size)
    fidelity = {e.seq: e.fidelity for e in run.experiments(seqs=seqs)}
    parts = chunks([s for s in seqs if fidelity[s] is None], [i for i in instruments if i not in run.campaign.dry], size)
    for name in run.campaign.dry:
        mine = [s for s in seqs if fidelity[s] == name]
        if mine and name in instruments:
            parts.append((name, mine))
    return parts


def in_service(run: CampaignRun) -> list[str]:
    """The instruments not out of service; raises `LabNotReady` naming each one's reason when none is left."""
    down = {name: lab.out_of_service() for name, lab in run.labs.items()}
    working = [name for name, why in down.items() if why is None]
    if not working:
        raise LabNotReady("every instrument is out of service: " + "; ".join(f"{name}: {why}" for name, why in down.items())
                          + ". Nothing was run. Once one is fixed, put it back with 'retort deck release CAMPAIGN.yaml' (--robot N)")
    return working


def run_iteration(run: CampaignRun, iteration: int, steps: Steps = PLAIN) -> RecordOutcome:
    """One pass of the batch schedule, the only place its order is written: open experiments are continued
    (never re-proposed), else plan `batch_size` per instrument; approve (or wait for a person to decide);
    each instrument runs, measures and records its share, all at once; returns when all are done."""
    if wait_while_paused(run) == "stopped":
        return NOTHING
    ref, instruments, size = run.ref, in_service(run), run.campaign.batch_size
    truth = [i for i in instruments if i not in run.campaign.dry]  # a dry-wet campaign's computations: `routed`
    seqs = [s for _, part in routed(run, [e.seq for e in open_experiments(run)], instruments, size) for s in part]
    if not seqs:
        seqs = steps.plan(ref, iteration, min(size * len(truth), plannable(run)))
    if awaiting(run, seqs):  # approval: required; a rejected experiment is not run and spends no budget
        wait_for_decisions(run, seqs)
        if wait_while_paused(run) == "stopped":
            return NOTHING
        instruments = in_service(run)  # a wait can be long: an instrument may have been taken out of service
    seqs = steps.approve(ref, seqs)
    jobs = [lambda name=name, part=part: steps.run_on(ref, name, part) for name, part in routed(run, seqs, instruments, size)]
    return merge(in_threads(jobs)) if jobs else NOTHING

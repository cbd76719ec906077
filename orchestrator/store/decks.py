"""Decks in the store: what is left on each robot deck, every change to it, and the lab runs that use it.

A batch reserves its tips, wells and stock volumes in the same transaction that stores its plan,
before anything moves; so a resumed campaign, a restarted process or a second campaign on the same
deck never reuses a tip or a well, whatever stopped when. What a batch reserved and never used comes back
in the transaction that ends its lab run: all of it when the run is cancelled before it started
(`cancel_run`), and what the instrument's own record says it did not touch when a run is collected
(`collect_run`; a run whose record is lost keeps everything reserved). Writers check the deck's version (an
optimistic lock): two processes changing one deck at once cannot both win.

Example:
    >>> from retort.orchestrator.store import Store, retry_on_conflict
    >>> from retort.instruments.deck import DeckConfig
    >>> decks = DeckStore(Store("sqlite://"))
    >>> deck = DeckConfig(name="bench", pipettes={"right": "p300_single_gen2"},
    ...     tip_racks={"3": "opentrons_96_tiprack_300ul"},
    ...     reservoir={"slot": "2", "load_name": "nest_12_reservoir_15ml"},
    ...     stocks={"water": {"well": "A1", "volume": 1000}},
    ...     plate={"slot": "1", "load_name": "corning_96_wellplate_360ul_flat"})
    >>> decks.open(deck).stocks
    {'water': 1000.0}
"""

from __future__ import annotations

import json
from typing import Callable, Optional

from sqlmodel import select

from retort.instruments.deck import DeckConfig, DeckState
from retort.instruments.plan import Plan, RunReport, Touched
from retort.orchestrator.errors import StoreError
from retort.orchestrator.store.records import DeckEventRecord, LabRunRecord
from retort.orchestrator.store.core import Store, retry_on_conflict
from retort.orchestrator.store.tables import DeckEventRow, DeckRow, LabRunRow, utcnow

ACTIVE = ("planned", "submitted", "running")


class DeckChanged(StoreError):
    """Another process changed the deck between our read and our write."""


class DeckStore:
    """Deck state and lab runs, kept in a campaign `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- decks --------------------------------------------------------------------------
    def open(self, deck: DeckConfig, plate: int = 1) -> DeckState:
        """The stored state of `deck`, created full (with plate number `plate`) if new. The stored configuration must match."""

        def write() -> DeckState:
            with self.store.session(f"open deck {deck.name!r}") as s:
                row = s.exec(select(DeckRow).where(DeckRow.name == deck.name)).first()
                if row is None:
                    state = deck.full_state(plate=plate)
                    row = DeckRow(name=deck.name, config_json=deck.model_dump_json(), state_json=state.model_dump_json())
                    s.add(row)
                    s.flush()
                    s.add(_event(row, "created", "retort", {"config": deck.model_dump(mode="json")}, state))
                    s.commit()
                    return state
                _check_same_deck(deck, row.config_json)
                return DeckState.model_validate_json(row.state_json)

        return retry_on_conflict(write)  # two processes creating one deck at once: the second reads the first's

    def get(self, name: str) -> tuple[DeckConfig, DeckState]:
        with self.store.session(f"read deck {name!r}") as s:
            row = self._row(s, name)
            return DeckConfig.model_validate_json(row.config_json), DeckState.model_validate_json(row.state_json)

    def names(self) -> list[str]:
        with self.store.session("list decks") as s:
            return [r.name for r in s.exec(select(DeckRow).order_by(DeckRow.name))]

    def change(self, name: str, kind: str, actor: str, detail: dict, update: Callable[[DeckConfig, DeckState], DeckState],
               while_active: bool = False) -> DeckState:
        """Apply an operator's change (refill, new plate, ...) and log it; returns the new state. Refused while
        batches reserved on the deck have not finished, unless `while_active` (a change their plans do not see,
        such as taking the instrument out of service)."""
        with self.store.session(f"change deck {name!r}") as s:
            row = self._row(s, name)
            if not while_active:
                _refuse_while_active(s, row, "refilled or given a new plate")
            config = DeckConfig.model_validate_json(row.config_json)
            state = update(config, DeckState.model_validate_json(row.state_json))
            self._write(s, row, state, row.version)
            s.add(_event(row, kind, actor, detail, state))
            s.commit()
            return state

    def refill(self, name: str, actor: str, tips: Optional[list[str]] = None,
               stocks: Optional[dict[str, float]] = None, all_stocks: bool = False) -> DeckState:
        """Record an operator's refill (`retort deck refill`): tip racks replaced with full ones (`tips`: their slots,
        ``[]`` every rack, None none) and stocks topped up (`stocks`: to these uL; `all_stocks`: each to its configured
        volume). Refused while a reserved batch has not finished."""

        def update(config: DeckConfig, state: DeckState) -> DeckState:
            if tips is not None:
                state = state.refill_tips(tips or None)
            return state.refill_stocks(config, stocks or None) if stocks or all_stocks else state

        return self.change(name, "refill", actor, {"tips": tips, "stocks": stocks or None}, update)

    def new_plate(self, name: str, actor: str) -> DeckState:
        """Record that an empty plate replaced the deck's plate (`retort deck new-plate`); it gets the next number."""
        return self.change(name, "new_plate", actor, {}, lambda config, state: state.new_plate())

    def replace_config(self, deck: DeckConfig, actor: str) -> DeckState:
        """Store a new configuration for `deck.name` with a full state (an operator re-set the deck up)."""
        with self.store.session(f"reset deck {deck.name!r}") as s:
            row = self._row(s, deck.name)
            _refuse_while_active(s, row, "set up anew")
            state = deck.full_state(plate=DeckState.model_validate_json(row.state_json).plate + 1)
            row.config_json = deck.model_dump_json()
            self._write(s, row, state, row.version)
            s.add(_event(row, "reset", actor, {"config": deck.model_dump(mode="json")}, state))
            s.commit()
            return state

    def cancel(self, name: str, actor: str) -> list[LabRunRecord]:
        """Cancel the deck's batches that are reserved but not running (planned, submitted): nothing of them moved, so
        their tips, wells and stock volumes come back. Returns them (a submitted one's robot run is the caller's to stop)."""
        with self.store.session(f"list the reserved batches of deck {name!r}") as s:
            row = self._row(s, name)
            ids = list(s.exec(select(LabRunRow.id).where(LabRunRow.deck_id == row.id, LabRunRow.status.in_(("planned", "submitted")))))
        return [self.cancel_run(run_id, f"cancelled by {actor}", actor) for run_id in ids]

    def cancel_run(self, run_id: int, why: str, actor: str = "retort") -> LabRunRecord:
        """Cancel a lab run that never started (nothing of it moved): everything it reserved comes back to its deck."""

        def unused(plan: Plan, run: LabRunRow) -> Touched:
            return Touched().unused(plan)

        return self._end_run(run_id, actor, unused, status="cancelled", error=why)

    def collect_run(self, run_id: int, report: RunReport, error: Optional[str] = None) -> LabRunRecord:
        """Store a lab run's report (`collected`) and give back to its deck what the plan reserved and the instrument's
        own record says it never touched (`RunReport.touched`; unknown: nothing comes back)."""

        def unused(plan: Plan, run: LabRunRow) -> Touched:
            return report.touched.unused(plan) if report.touched is not None else Touched()

        return self._end_run(run_id, report.backend, unused, status="collected", report_json=report.model_dump_json(), error=error)

    def events(self, name: str, limit: int = 50) -> list[DeckEventRecord]:
        with self.store.session(f"read the events of deck {name!r}") as s:
            row = self._row(s, name)
            rows = s.exec(select(DeckEventRow).where(DeckEventRow.deck_id == row.id).order_by(DeckEventRow.id.desc()).limit(limit))
            return [DeckEventRecord(id=r.id, deck=name, kind=r.kind, actor=r.actor, detail=json.loads(r.detail_json),
                                    created_at=r.created_at) for r in rows]

    # -- lab runs -----------------------------------------------------------------------
    def reserve(self, campaign_id: int, deck: str, backend: str, build: Callable[[DeckState], tuple[Plan, DeckState]]) -> LabRunRecord:
        """Store a batch's plan as a planned lab run and take what it uses from the deck, in one transaction.

        `build(state)` compiles the plan against the deck's current state and returns it with the state
        after it (raising if it does not fit).
        """
        with self.store.session(f"reserve deck {deck!r} for a batch") as s:
            row = self._row(s, deck)
            plan, state = build(DeckState.model_validate_json(row.state_json))
            self._write(s, row, state, row.version)
            seqs = [e.seq for e in plan.experiments]
            run = LabRunRow(campaign_id=campaign_id, deck_id=row.id, seqs_json=json.dumps(seqs), plan_json=plan.model_dump_json(),
                            backend=backend, status="planned")
            s.add(run)
            s.add(_event(row, "reserved", backend, {"campaign_id": campaign_id, "experiments": seqs,
                                                    "tips": [str(t) for t in plan.tips()], "stocks": plan.stock_draw()}, state))
            s.commit()
            s.refresh(run)
            return _run(run, deck)

    def update_run(self, run_id: int, **fields: object) -> LabRunRecord:
        """Set fields of a lab run (status, robot ids, report_json, error)."""
        with self.store.session(f"update lab run {run_id}") as s:
            run = s.get(LabRunRow, run_id)
            if run is None:
                raise StoreError(f"no lab run with id {run_id}")
            return _save(s, run, s.get(DeckRow, run.deck_id).name, fields)

    def run(self, run_id: int) -> LabRunRecord:
        """Lab run `run_id`, as stored now."""
        with self.store.session(f"read lab run {run_id}") as s:
            row = s.get(LabRunRow, run_id)
            if row is None:
                raise StoreError(f"no lab run with id {run_id}")
            return _run(row, s.get(DeckRow, row.deck_id).name)

    def runs(self, campaign_id: Optional[int] = None, deck: Optional[str] = None, active: bool = False) -> list[LabRunRecord]:
        with self.store.session("read lab runs") as s:
            query = select(LabRunRow, DeckRow.name).join(DeckRow, DeckRow.id == LabRunRow.deck_id).order_by(LabRunRow.id)
            if campaign_id is not None:
                query = query.where(LabRunRow.campaign_id == campaign_id)
            if deck is not None:
                query = query.where(DeckRow.name == deck)
            if active:
                query = query.where(LabRunRow.status.in_(ACTIVE))
            return [_run(r, name) for r, name in s.exec(query)]

    # -- helpers ------------------------------------------------------------------------
    def _end_run(self, run_id: int, actor: str, unused: Callable[[Plan, LabRunRow], Touched], **fields: object) -> LabRunRecord:
        """Set the run's `fields` and release `unused(plan, run)` from its deck, in one transaction (a run already ended
        releases nothing again)."""

        def write() -> LabRunRecord:
            with self.store.session(f"end lab run {run_id}") as s:
                run = s.get(LabRunRow, run_id)
                if run is None:
                    raise StoreError(f"no lab run with id {run_id}")
                row = s.get(DeckRow, run.deck_id)
                if run.status in ACTIVE:
                    plan = Plan.model_validate_json(run.plan_json)
                    state = DeckState.model_validate_json(row.state_json)
                    after, released = _release(plan, state, unused(plan, run))
                    if not released.empty:
                        self._write(s, row, after, row.version)
                        s.add(_event(row, "released", actor, {"lab_run": run.id, "experiments": json.loads(run.seqs_json),
                                                              "tips": [str(t) for t in released.tips], "wells": list(released.wells),
                                                              "stocks": released.stocks}, after))
                return _save(s, run, row.name, fields)

        for attempt in range(3):  # another process reserved on the deck between our read and write: read it again
            try:
                return write()
            except DeckChanged:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _row(self, s, name: str) -> DeckRow:
        row = s.exec(select(DeckRow).where(DeckRow.name == name)).first()
        if row is None:
            known = [r.name for r in s.exec(select(DeckRow))]
            raise StoreError(f"no deck {name!r} in {self.store.url}; decks: {known or 'none (a campaign creates its deck when it first runs)'}")
        return row

    def _write(self, s, row: DeckRow, state: DeckState, version: int) -> None:
        from sqlalchemy import update

        result = s.execute(
            update(DeckRow).where(DeckRow.id == row.id, DeckRow.version == version)
            .values(state_json=state.model_dump_json(), version=version + 1, updated_at=utcnow(), config_json=row.config_json)
        )
        if result.rowcount != 1:
            s.rollback()
            raise DeckChanged(f"deck {row.name!r} was changed by another process at the same time; run the command again")


def _save(s, run: LabRunRow, deck: str, fields: dict) -> LabRunRecord:
    """Set `fields` of lab run `run` and commit the session."""
    for key, value in fields.items():
        setattr(run, key, value)
    run.updated_at = utcnow()
    s.add(run)
    s.commit()
    s.refresh(run)
    return _run(run, deck)


def _release(plan: Plan, state: DeckState, unused: Touched) -> tuple[DeckState, Touched]:
    """`state` with `unused` (what `plan` reserved and never used) free again: tips back in their racks, wells of the
    plan's plate empty (if it is still on the deck), stock volumes back (never above a reservoir well's capacity).
    Returns the state and what was actually given back (what a refill or a new plate freed already is not)."""
    deck = plan.deck
    used = {slot: set(wells) for slot, wells in state.used_tips.items()}
    tips = tuple(t for t in unused.tips if t.well in used.get(t.slot, set()))
    for tip in tips:
        used[tip.slot].discard(tip.well)
    wells = tuple(w for w in unused.wells if w in state.wells) if plan.plate == state.plate else ()
    capacity = deck.labware(deck.reservoir.slot).well_capacity
    stocks = {name: min(v, capacity - state.stocks.get(name, 0.0)) for name, v in unused.stocks.items() if name in state.stocks}
    stocks = {name: v for name, v in stocks.items() if v > 1e-9}
    after = state.model_copy(update={
        "used_tips": {slot: tuple(w for w in state.used_tips[slot] if w in left) for slot, left in used.items() if left},
        "wells": {w: c for w, c in state.wells.items() if w not in wells},
        "stocks": state.stocks | {name: state.stocks[name] + v for name, v in stocks.items()},
    })
    return after, Touched(tips=tips, wells=wells, stocks=stocks)


def _refuse_while_active(s, row: DeckRow, doing: str) -> None:
    active = list(s.exec(select(LabRunRow).where(LabRunRow.deck_id == row.id, LabRunRow.status.in_(ACTIVE))))
    if active:
        what = "; ".join(f"lab run {r.id} ({r.status}, experiments {json.loads(r.seqs_json)})" for r in active)
        raise StoreError(
            f"deck {row.name!r} cannot be {doing} now: batches reserved on it have not finished: {what}. Their plans name "
            "its current tips and wells. Run the campaign to finish them first (a running one is collected), or cancel "
            "those not yet running with 'retort deck cancel CAMPAIGN.yaml' (nothing of them moved: their tips, wells and stocks are free again)"
        )


def _event(row: DeckRow, kind: str, actor: str, detail: dict, state: DeckState) -> DeckEventRow:
    return DeckEventRow(deck_id=row.id, kind=kind, actor=actor, detail_json=json.dumps(detail), state_json=state.model_dump_json())


def _run(row: LabRunRow, deck: str) -> LabRunRecord:
    return LabRunRecord(
        id=row.id, campaign_id=row.campaign_id, deck=deck, seqs=json.loads(row.seqs_json), plan_json=row.plan_json,
        backend=row.backend, status=row.status, protocol_digest=row.protocol_digest, protocol_id=row.protocol_id,
        robot_run_id=row.robot_run_id, report_json=row.report_json, error=row.error, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_same_deck(deck: DeckConfig, stored_json: str) -> None:
    stored = json.loads(stored_json)
    new = deck.model_dump(mode="json")
    changed = [k for k in sorted(set(stored) | set(new)) if stored.get(k) != new.get(k)]
    if changed:
        raise StoreError(
            f"deck {deck.name!r} is stored with a different set-up ({', '.join(changed)} changed); the tips, stocks and wells "
            f"recorded for it would not match. If the deck was really set up anew, run 'retort deck reset CAMPAIGN.yaml'; "
            f"otherwise give this set-up its own deck name"
        )

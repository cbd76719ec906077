"""The store: campaigns, experiments, measurements and model versions, in SQLModel tables (`tables.py`).

SQLite by default; a PostgreSQL URL (``postgresql+psycopg://...``) works unchanged. This package is the only
code that imports SQLModel or SQLAlchemy: everything else gets validated records (`records.py`). Its other
modules (decks, decisions, users, leases) keep their rows through `Store.session`.
Each write is one transaction, so an interrupted run leaves every stored row whole. A store that
cannot keep data (in-memory SQLite) is refused for runs by `check_persistent`; a store file deleted
or replaced while the store is open, and every database error, raise `StoreError`.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Optional, TypeVar

from pydantic import SecretStr
from sqlalchemy import event, func, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine, select

from retort.agents.proposal import Proposal, Provenance
from retort.orchestrator.campaign.file import OPERATIONAL, OPERATIONAL_TOP
from retort.orchestrator.errors import StoreError, UnknownCampaign
from retort.orchestrator.store.migrate import upgrade
from retort.orchestrator.campaign.lifecycle import IMPORTED, TRANSITIONS
from retort.orchestrator.store.records import (
    CampaignRecord,
    ExperimentLine,
    ExperimentRecord,
    MeasurementRecord,
    ModelVersionRecord,
)
from retort.orchestrator.store.tables import CampaignRow, ExperimentRow, MeasurementRow, ModelVersionRow, utcnow
from retort.orchestrator.store.urls import identity, in_memory, reason, redact_url, sqlite_file, sqlite_pragmas, utc_session
from retort.surrogates import ModelSummary

T = TypeVar("T")
Normalise = Optional[Callable[[str], str]]


class Store:
    """Campaign storage behind a SQLAlchemy URL.

    Example:
        >>> store = Store("sqlite://")
        >>> store.open_campaign("demo", "{}").name
        'demo'
    """

    def __init__(self, url: str) -> None:
        self._url = url  # with its password: for the engine only
        self.url = redact_url(url)  # for messages and display
        self.file: Optional[str] = None  # the SQLite file's absolute path, if the store is one
        self.in_memory = False  # one SQLite connection shared by every thread
        try:
            parsed = make_url(url)
            sqlite = parsed.get_backend_name() == "sqlite"
            if sqlite and in_memory(parsed):  # one database for every thread (asynchronous instruments run in threads)
                self.in_memory = True
                self.engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                self.engine = create_engine(url, connect_args={"timeout": 30} if sqlite else {})
            if sqlite:
                event.listen(self.engine, "connect", sqlite_pragmas)
            elif parsed.get_backend_name() == "postgresql":
                event.listen(self.engine, "connect", utc_session)
            file = sqlite_file(parsed) if sqlite and not in_memory(parsed) else None
            upgrade(self.engine, file)
        except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:
            raise StoreError(f"cannot open store {self.url}: {reason(exc, url)}") from exc
        if sqlite and not in_memory(parsed):
            self.file = sqlite_file(parsed)
            try:
                self._identity = identity(self.file)
            except OSError as exc:
                raise StoreError(f"cannot open store {self.url}: {exc}") from exc

    @property
    def scope(self) -> str:
        """Which database this is, the same from any URL or user that reaches it, without credentials: what keeps
        instruments of unrelated stores apart (`flows.limits`)."""
        if self.file:
            return f"sqlite {self.file}"
        if self.in_memory:
            return f"memory {id(self)}"
        parsed = make_url(self._url)
        return f"{parsed.get_backend_name()} {(parsed.host or '').lower()}:{parsed.port or ''}/{parsed.database or ''}"

    @property
    def secret_url(self) -> SecretStr:
        """The URL with its password, for handing to another process (masked wherever it is printed or recorded)."""
        return SecretStr(self._url)

    @contextmanager
    def session(self, doing: str) -> Iterator[Session]:
        """A session for one read or write. A store file that is gone or replaced, and any database
        error, become one StoreError naming the store and what failed."""
        self._check_file()
        try:
            with Session(self.engine) as s:
                yield s
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot {doing} in store {self.url}: {reason(exc, self._url)}") from exc

    def _check_file(self) -> None:
        """Raise if the SQLite file is no longer the one opened: a connection to a deleted file
        keeps writing to it, and nothing written reaches the disk."""
        if self.file is None:
            return
        try:
            same = identity(self.file) == self._identity
        except FileNotFoundError:
            same = False
        except OSError as exc:
            raise StoreError(f"cannot check the store file {self.file}: {exc}") from exc
        if not same:
            raise StoreError(
                f"the store file {self.file} was deleted or replaced while the campaign ran; nothing more is written; "
                "restore the file from a backup and run again to continue, or run again to start a new store there"
            )

    # -- campaigns ----------------------------------------------------------------------
    def open_campaign(self, name: str, config_json: str, normalise: Normalise = None) -> CampaignRecord:
        """The stored campaign `name`, created if new. A stored campaign must have the same
        configuration, except its budget, which may change to extend or shorten a campaign.
        `normalise` rewrites both configurations in the form they must agree on (`Campaign.normalise_config`)."""

        def write() -> CampaignRecord:
            with self.session(f"open campaign {name!r}") as s:
                row = s.exec(select(CampaignRow).where(CampaignRow.name == name)).first()
                if row is None:
                    row = CampaignRow(name=name, config_json=config_json)
                else:
                    pair = (normalise(row.config_json), normalise(config_json)) if normalise else (row.config_json, config_json)
                    _check_same_config(name, *pair)
                    row.config_json = config_json  # only the budget can differ: keep the latest
                s.add(row)
                s.commit()
                s.refresh(row)
                return _campaign(row)

        return retry_on_conflict(write)  # two processes creating one campaign at once: the second reads the first's

    def find_campaign(self, name: str, config_json: str, normalise: Normalise = None) -> Optional[CampaignRecord]:
        """Like `open_campaign`, but writes nothing: the stored campaign `name` (None if new),
        checked to have the same configuration but for its budget."""
        with self.session(f"read campaign {name!r}") as s:
            row = s.exec(select(CampaignRow).where(CampaignRow.name == name)).first()
            if row is not None:
                _check_same_config(name, *((normalise(row.config_json), normalise(config_json)) if normalise else (row.config_json, config_json)))
            return _campaign(row) if row is not None else None

    def campaign(self, name: str) -> CampaignRecord:
        with self.session(f"read campaign {name!r}") as s:
            row = s.exec(select(CampaignRow).where(CampaignRow.name == name)).first()
            if row is None:
                known = [r.name for r in s.exec(select(CampaignRow))]
                raise UnknownCampaign(f"no campaign {name!r} in {self.url}; stored campaigns: {known or 'none'}", name)
            return _campaign(row)

    def campaigns(self) -> list[CampaignRecord]:
        with self.session("list campaigns") as s:
            return [_campaign(r) for r in s.exec(select(CampaignRow).order_by(CampaignRow.id))]

    # -- experiments --------------------------------------------------------------------
    def experiments(self, campaign_id: int, seqs: Optional[Iterable[int]] = None, statuses: Optional[Iterable[str]] = None,
                    after: int = 0, limit: Optional[int] = None) -> list[ExperimentRecord]:
        """The campaign's experiments in order of number, with their measurements; optionally only numbers `seqs`,
        only in `statuses`, and a page: numbers above `after`, at most `limit` of them."""
        with self.session(f"read the experiments of campaign id {campaign_id}") as s:
            query = select(ExperimentRow).where(ExperimentRow.campaign_id == campaign_id, ExperimentRow.seq > after)
            if seqs is not None:
                query = query.where(ExperimentRow.seq.in_(list(seqs)))
            if statuses is not None:
                query = query.where(ExperimentRow.status.in_(list(statuses)))
            rows = s.exec(query.order_by(ExperimentRow.seq).limit(limit)).all()
            ids = [r.id for r in rows]
            ms: dict[int, list[MeasurementRecord]] = {i: [] for i in ids}
            if ids:
                for m in s.exec(select(MeasurementRow).where(MeasurementRow.experiment_id.in_(ids)).order_by(MeasurementRow.id)):
                    ms[m.experiment_id].append(
                        MeasurementRecord(name=m.name, kind=m.kind, value=m.value, unit=m.unit, instrument=m.instrument,
                                          computation=m.computation_id)
                    )
            return [experiment_record(r, ms[r.id]) for r in rows]

    def experiment_lines(self, campaign_id: int, readings: Iterable[str] = ()) -> list[ExperimentLine]:
        """Every experiment of the campaign in order of number, light (`ExperimentLine`): column queries, no validation
        per row, for pages and plots over thousands of experiments. Objectives come with each; of the raw readings,
        only those named in `readings` (what outcome constraints are checked on)."""
        readings = list(readings)
        with self.session(f"read the experiments of campaign id {campaign_id}") as s:
            rows = s.execute(select(ExperimentRow.id, ExperimentRow.seq, ExperimentRow.iteration, ExperimentRow.status, ExperimentRow.planner,
                                    ExperimentRow.params_json, ExperimentRow.provenance_json)
                             .where(ExperimentRow.campaign_id == campaign_id).order_by(ExperimentRow.seq)).all()
            values: dict[int, dict[str, float]] = {}
            raw: dict[int, dict[str, float]] = {}
            wanted = (MeasurementRow.kind == "objective") | ((MeasurementRow.kind == "raw") & MeasurementRow.name.in_(readings))
            for eid, kind, name, value in s.execute(
                    select(MeasurementRow.experiment_id, MeasurementRow.kind, MeasurementRow.name, MeasurementRow.value)
                    .join(ExperimentRow, ExperimentRow.id == MeasurementRow.experiment_id)
                    .where(ExperimentRow.campaign_id == campaign_id, wanted, MeasurementRow.value.is_not(None))):
                (values if kind == "objective" else raw).setdefault(eid, {})[name] = value
        return [ExperimentLine(seq=seq, iteration=iteration, status=status, planner=planner, params=json.loads(params),
                               values=values.get(eid, {}), predicted=json.loads(provenance).get("predicted", {}),
                               readings=raw.get(eid, {}))
                for eid, seq, iteration, status, planner, params, provenance in rows]

    def status_counts(self, campaign_id: int) -> dict[str, int]:
        """How many of the campaign's experiments are in each status (one small query: for progress and budgets).
        Imported measurements are not counted: they were run elsewhere and spend no budget; nor are a dry-wet
        campaign's computations (the budget counts its truth experiments; `fidelity_counts` has the rest)."""
        with self.session(f"count the experiments of campaign id {campaign_id}") as s:
            rows = s.exec(select(ExperimentRow.status, func.count())
                          .where(ExperimentRow.campaign_id == campaign_id, ExperimentRow.planner != IMPORTED, ExperimentRow.fidelity.is_(None))
                          .group_by(ExperimentRow.status)).all()
            return {status: n for status, n in rows}

    def fidelity_counts(self, campaign_id: int) -> dict[Optional[str], dict[str, int]]:
        """How many of the campaign's experiments are in each status, by fidelity (None: the truth); imports left out."""
        with self.session(f"count the experiments of campaign id {campaign_id} by fidelity") as s:
            rows = s.exec(select(ExperimentRow.fidelity, ExperimentRow.status, func.count())
                          .where(ExperimentRow.campaign_id == campaign_id, ExperimentRow.planner != IMPORTED)
                          .group_by(ExperimentRow.fidelity, ExperimentRow.status)).all()
        out: dict[Optional[str], dict[str, int]] = {}
        for fidelity, status, n in rows:
            out.setdefault(fidelity, {})[status] = n
        return out

    def last_iteration(self, campaign_id: int) -> int:
        """The highest iteration number of the campaign's experiments (0 for none)."""
        with self.session(f"read the last iteration of campaign id {campaign_id}") as s:
            return s.exec(select(func.max(ExperimentRow.iteration)).where(ExperimentRow.campaign_id == campaign_id)).one() or 0

    def add_proposals(self, campaign_id: int, iteration: int, proposals: list[Proposal]) -> list[ExperimentRecord]:
        """Store proposals as experiments in status `proposed`, numbered after the last one."""
        def write() -> list[ExperimentRecord]:
            with self.session(f"store proposals for campaign id {campaign_id}") as s:
                rows = insert_experiments(s, campaign_id, iteration, proposals, "proposed")
                s.commit()
                for r in rows:
                    s.refresh(r)
                return [experiment_record(r, []) for r in rows]

        return retry_on_conflict(write)  # another process (an operator adding, an import) numbered one at once: number again

    def set_status(self, experiment_ids: list[int], status: str, reason: Optional[str] = None, location: dict[int, str] | None = None) -> None:
        """Move experiments along the lifecycle (proposed -> approved -> running -> measured | failed). Each row is
        changed only from a status that may precede `status`, checked by the update itself, so of two processes
        moving one experiment at once the second sees the first's change: only one can start an approved
        experiment running."""
        now = utcnow()
        before = [s for s, after in TRANSITIONS.items() if status in after]
        stamp = {"approved": "approved_at", "running": "started_at"}.get(status, "finished_at")
        with self.session(f"set experiments {experiment_ids} to {status!r}") as s:
            for eid in sorted(experiment_ids):  # one lock order for every writer
                values = {"status": status, stamp: now}
                if reason is not None:
                    values["failure_reason"] = reason
                if location and eid in location:
                    values["location"] = location[eid]
                # the update checks the status it changes (SQLite and PostgreSQL run one writer of a row at a time)
                if not s.execute(update(ExperimentRow).where(ExperimentRow.id == eid, ExperimentRow.status.in_(before)).values(**values)).rowcount:
                    row = s.get(ExperimentRow, eid)
                    if row is None:
                        raise StoreError(f"no experiment with id {eid}")
                    raise StoreError(f"experiment {row.seq} is {row.status!r}; it cannot become {status!r}")
            s.commit()

    def record_result(
        self,
        experiment_id: int,
        raw: dict[str, float],
        objectives: dict[str, float],
        units: dict[str, str],
        instrument: str,
        lab_seconds: float | None,
        failure: str | None = None,
        computation: int | None = None,
    ) -> None:
        """Store one experiment's readings and derived objectives and close it, in one transaction.

        Non-finite values are stored as NULL. With `failure` the experiment becomes `failed`. `computation`: the stored
        computation the readings come from (each raw reading is linked to it).
        """
        now = utcnow()
        with self.session(f"record the result of experiment id {experiment_id}") as s:
            row = s.get(ExperimentRow, experiment_id)
            if row is None or row.status != "running":
                raise StoreError(f"experiment id {experiment_id} is not running; cannot record its result")
            for kind, values in (("raw", raw), ("objective", objectives)):
                for name, value in values.items():
                    finite = value is not None and math.isfinite(value)
                    s.add(
                        MeasurementRow(
                            experiment_id=experiment_id,
                            name=name,
                            kind=kind,
                            value=float(value) if finite else None,
                            unit=units.get(name, ""),
                            instrument=instrument,
                            computation_id=computation if kind == "raw" else None,
                        )
                    )
            row.status = "failed" if failure else "measured"
            row.failure_reason = failure
            row.finished_at = now
            row.lab_seconds = lab_seconds
            s.add(row)
            s.commit()

    # -- model versions -----------------------------------------------------------------
    def add_model_version(self, campaign_id: int, iteration: int, summary: ModelSummary) -> int:
        with self.session(f"store a model version for campaign id {campaign_id}") as s:
            row = ModelVersionRow(
                campaign_id=campaign_id,
                iteration=iteration,
                kind=summary.kind,
                outputs_json=json.dumps(summary.outputs),
                n_train=summary.n_train,
                hyperparameters_json=json.dumps(summary.hyperparameters),
                loo_coverage_json=json.dumps(summary.loo_coverage_95),
                loo_log_likelihood_json=json.dumps(summary.loo_log_likelihood),
                fit_seconds=summary.fit_seconds,
                versions_json=json.dumps(summary.versions),
                fit_warnings_json=json.dumps(summary.fit_warnings),
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return int(row.id)

    def model_versions(self, campaign_id: int) -> list[ModelVersionRecord]:
        with self.session(f"read the model versions of campaign id {campaign_id}") as s:
            rows = s.exec(select(ModelVersionRow).where(ModelVersionRow.campaign_id == campaign_id).order_by(ModelVersionRow.id))
            return [
                ModelVersionRecord(
                    id=r.id,
                    campaign_id=r.campaign_id,
                    iteration=r.iteration,
                    kind=r.kind,
                    outputs=json.loads(r.outputs_json),
                    n_train=r.n_train,
                    hyperparameters=json.loads(r.hyperparameters_json),
                    loo_coverage_95=json.loads(r.loo_coverage_json),
                    loo_log_likelihood=json.loads(r.loo_log_likelihood_json),
                    fit_seconds=r.fit_seconds,
                    versions=json.loads(r.versions_json),
                    fit_warnings=json.loads(r.fit_warnings_json),
                    created_at=r.created_at,
                )
                for r in rows
            ]


def insert_experiments(s: Session, campaign_id: int, iteration: int, proposals: list[Proposal], status: str) -> list[ExperimentRow]:
    """Add experiments in `status`, numbered after the campaign's last one (within the caller's transaction). The
    campaign's row is written first: that takes SQLite's write lock, or PostgreSQL's lock on the row, so processes
    numbering experiments of one campaign take turns and never read the same last number."""
    s.execute(update(CampaignRow).where(CampaignRow.id == campaign_id).values(name=CampaignRow.name))
    last = s.exec(select(ExperimentRow.seq).where(ExperimentRow.campaign_id == campaign_id).order_by(ExperimentRow.seq.desc())).first()
    rows = [ExperimentRow(campaign_id=campaign_id, seq=seq, iteration=iteration, params_json=json.dumps(p.params), status=status,
                          planner=p.provenance.planner, model_version_id=p.provenance.model_version,
                          provenance_json=p.provenance.model_dump_json(), fidelity=p.fidelity)
            for seq, p in enumerate(proposals, start=(last or 0) + 1)]
    s.add_all(rows)
    s.flush()
    return rows


def retry_on_conflict(write: Callable[[], T], tries: int = 5) -> T:
    """Run `write` (one transaction that reads and inserts); if another process inserted the same key meanwhile
    (a campaign's name, an experiment's number: IntegrityError), run it again: it then reads what the other wrote."""
    for attempt in range(tries):
        try:
            return write()
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError) or attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def _campaign(row: CampaignRow) -> CampaignRecord:
    return CampaignRecord(id=row.id, name=row.name, config_json=row.config_json, created_at=row.created_at)


def experiment_record(row: ExperimentRow, measurements: list[MeasurementRecord]) -> ExperimentRecord:
    return ExperimentRecord(
        id=row.id,
        campaign_id=row.campaign_id,
        seq=row.seq,
        iteration=row.iteration,
        params=json.loads(row.params_json),
        status=row.status,
        provenance=Provenance.model_validate_json(row.provenance_json),
        location=row.location,
        failure_reason=row.failure_reason,
        proposed_at=row.proposed_at,
        approved_at=row.approved_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        lab_seconds=row.lab_seconds,
        measurements=measurements,
        fidelity=row.fidelity,
    )


def _check_same_config(name: str, stored_json: str, new_json: str) -> None:
    """Raise StoreError listing what changed (stored -> new) if anything but the budget did."""
    stored, new = json.loads(stored_json), json.loads(new_json)
    changed = [k for k in sorted(set(stored) | set(new)) if k != "budget" and stored.get(k) != new.get(k)]
    if changed:
        raise StoreError(
            f"campaign {name!r} is already stored with a different configuration; changed: "
            + "; ".join(_change(k, stored.get(k), new.get(k)) for k in changed)
            + ". To run this file as a new campaign, give it a new name (retort run FILE --name NEW-NAME, or 'name:' in "
            "the file) or another store (--store URL); to continue the stored one, restore the settings named above. "
            f"Between runs of one campaign only 'budget' and these may change: {', '.join(OPERATIONAL_TOP)}, and the lab's "
            f"{', '.join(OPERATIONAL)}"
        )


def _change(key: str, old: object, new: object) -> str:
    old_text, new_text = json.dumps(old), json.dumps(new)
    if len(old_text) + len(new_text) <= 80:
        return f"{key} {old_text} -> {new_text}"
    if isinstance(old, dict) and isinstance(new, dict):  # e.g. lab: name the settings that changed
        return "; ".join(_change(f"{key}.{k}", old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
    return key


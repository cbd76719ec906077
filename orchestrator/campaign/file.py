"""The campaign file: a validated, YAML-backed description of one optimisation campaign.

Example:
    >>> campaign = Campaign.model_validate({
    ...     "name": "branin-demo", "budget": 8, "batch_size": 2,
    ...     "parameters": [{"name": "x1", "type": "continuous", "lower": -5, "upper": 10},
    ...                    {"name": "x2", "type": "continuous", "lower": 0, "upper": 15}],
    ...     "objectives": [{"name": "y", "goal": "minimize"}],
    ...     "lab": {"kind": "virtual_analytic", "function": "branin"}})
    >>> campaign.space.dim, campaign.initial_design
    (2, 4)
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from retort.agents.design import default_size, BatchSelection, InitialDesign
from retort.agents.fields import Number, Whole
from retort.agents.objectives import Goal, Objective, OutcomeConstraint
from retort.agents.space import LinearConstraint, Parameter, SearchSpace
from retort.orchestrator.campaign.defaults import DEFAULT_STORE
from retort.orchestrator.campaign.fidelities import FidelityConfig, check_fidelities
from retort.orchestrator.campaign.labs import LabConfig, LookupLabConfig
from retort.orchestrator.campaign.learning import LearningConfig, check_learning
from retort.orchestrator.campaign.yamlfile import read_yaml
from retort.orchestrator.errors import CampaignError

MAX_SEED = 2**32 - 1  # numpy, torch and Sobol seeds all take 32 bits
MAX_INITIAL_DESIGN = 10_000  # the design is drawn in memory at once


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


OPERATIONAL = ("deck", "robot_url", "allow_hardware", "auto_refill", "robots", "time_scale", "faults",  # lab settings a campaign
               "runner", "workers", "address")  # may change between runs (a computation's: where it runs)
# Campaign settings that may change between runs. The initial design's method only chooses where the design goes
# next (each proposal records which design chose it); campaigns stored while `random` was the default resume unchanged.
OPERATIONAL_TOP = ("schedule", "on_interrupted", "approval", "initial_design_method", "batch_selection")


class Approval(_Strict):
    """Who lets a proposal reach the instruments. `auto`: every proposal is approved as it is made. `required`:
    proposals wait, `proposed`, until a person decides (``retort approve``); with `wait` (minutes) a proposal
    nobody decided in time is handled as `then` says (approved, or rejected: a rejection spends no budget)."""

    mode: Literal["auto", "required"] = "auto"
    wait: Optional[Annotated[Number, Field(gt=0, le=525_600)]] = Field(default=None, description="minutes; none: wait for ever")
    then: Optional[Literal["approve", "reject"]] = None
    notify: Optional[HttpUrl] = Field(default=None, description="with 'required': POST a JSON notice here whenever new proposals wait")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"mode": data} if isinstance(data, str) else data  # approval: required

    @model_validator(mode="after")
    def _check(self) -> "Approval":
        if (self.wait is None) != (self.then is None):
            raise ValueError("give 'wait' (minutes) and 'then' (approve or reject) together: what happens to a proposal "
                             "nobody decided in time; without them proposals wait for ever")
        if self.mode == "auto" and self.notify is not None:
            raise ValueError("'notify' applies to mode 'required'; with 'auto' no proposal waits for anyone")
        if self.mode == "auto" and self.wait is not None:
            raise ValueError("'wait' and 'then' apply to mode 'required'; with 'auto' every proposal is approved at once")
        return self

    def describe(self) -> str:
        if self.mode == "auto":
            return "automatic"
        return "required, waits for ever" if self.wait is None else f"required; after {self.wait:g} min undecided: {self.then}"


class WarmStartFile(_Strict):
    """A warm start's source kept in a file: measurements over the campaign's parameters (a CSV as `retort import` reads it)."""

    file: str = Field(min_length=1, description="a CSV of measurements (relative to the campaign file), as `retort import` reads")

    @property
    def name(self) -> str:
        return Path(self.file).name


class Campaign(_Strict):
    """One campaign: search space, objectives, budget, planner, lab and store."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)  # `goal` in a file is `purpose` here

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    parameters: list[Parameter] = Field(min_length=1)
    constraints: list[LinearConstraint] = Field(default_factory=list)
    objectives: list[Objective] = Field(min_length=1)
    trade_off: Literal["weighted", "pareto"] = Field(
        default="weighted", description="weighted: maximise the weighted sum of the objectives; pareto: find their Pareto front (qLogNEHVI)")
    reference_point: Optional[dict[str, Number]] = Field(
        default=None, description="pareto: the worst value of each objective worth having (default: inferred from the data)")
    outcome_constraints: list[OutcomeConstraint] = Field(
        default_factory=list, description="outcomes proposals must keep to, e.g. {name: yield, op: '>=', value: 80}")
    batch_size: Whole = Field(default=4, ge=1, le=96)
    budget: Whole = Field(ge=1, le=100_000)
    initial_design: Optional[Whole] = Field(default=None, ge=0, le=MAX_INITIAL_DESIGN)
    seed: Whole = Field(default=0, ge=0, le=MAX_SEED)
    planner: Literal["qLogNEI", "random"] = "qLogNEI"
    initial_design_method: InitialDesign = Field(
        default="levels", description="how a finite space's initial design is chosen: spread over the options of every parameter "
                                      "(levels), random draws, or spread over the encoded candidates (maximin distance, or "
                                      "k-means medoids); continuous spaces use a Sobol sequence")
    batch_selection: BatchSelection = Field(
        default="sequential", description="continuous spaces: each member of a batch optimised in turn with those already picked as "
                                          "pending (sequential), or the batch at once (joint: most members end up ones the model "
                                          "itself rules out); discrete and mixed spaces are always chosen greedily")
    schedule: Literal["batch", "async"] = Field(
        default="batch", description="batch: propose for every instrument, wait for all; async: propose for each instrument as it frees up")
    on_interrupted: Literal["leave", "rerun"] = Field(
        default="leave", description="experiments a stop caught on an instrument, with nothing to collect: failed and left to the operator, "
                                     "or failed and run again as new experiments (same parameters, fresh well; within the budget)")
    approval: Approval = Field(default_factory=Approval, description="auto, or required: a person approves each proposal")
    lab: LabConfig
    fidelities: list[FidelityConfig] = Field(
        default_factory=list, description="a dry-wet campaign: the truth (measured by `lab`) and computations, each with its cost; "
                                          "the budget counts truth experiments")
    warm_start: list[Union[str, WarmStartFile]] = Field(
        default_factory=list, description="earlier campaigns in the same store (by name), or files of measurements ({file: "
                                          "path.csv}), over the same parameters and objective, whose measurements the model "
                                          "learns from as related tasks (used while they predict this campaign's own "
                                          "measurements better than this campaign's own model does)")
    purpose: Literal["optimise", "learn"] = Field(
        default="optimise", alias="goal", description="optimise: find the best experiment; learn: a model of the whole space, labelling "
                                                     "what a committee of models disagrees on (`learning`)")
    learning: Optional[LearningConfig] = Field(default=None, description="goal learn: trust levels, convergence, committee size")
    store: str = DEFAULT_STORE

    @model_validator(mode="after")
    def _check(self) -> "Campaign":
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        clash = sorted(set(names) & {p.name for p in self.parameters})
        if clash:
            raise ValueError(f"objectives and parameters share names {clash}")
        if self.initial_design is None:
            object.__setattr__(self, "initial_design", default_size(self.budget, self.batch_size, self.space))
        elif self.initial_design > self.budget:
            raise ValueError(f"initial_design {self.initial_design} is larger than the budget {self.budget}; "
                             "the design is the first experiments of the budget")
        _ = self.space  # builds and checks constraints feasibility
        if self.batch_selection == "joint" and not self.space.is_continuous:
            raise ValueError("batch_selection 'joint' applies to continuous spaces only; this one has integer, categorical or molecule "
                             "parameters, whose batches are always chosen greedily: leave batch_selection out")
        _ = self.goal  # checks the trade-off and reference point against the objectives
        known = set(names) | {r for o in self.objectives for r in o.readings}
        if isinstance(self.lab, LookupLabConfig):
            known |= set([self.lab.output] if isinstance(self.lab.output, str) else self.lab.output)
        for c in self.outcome_constraints:
            if c.name not in known:
                raise ValueError(f"outcome constraint {c}: {c.name!r} is not an objective or a reading the lab reports; known: {sorted(known)}")
        check_fidelities(self.fidelities, self)
        check_learning(self)
        self._check_generation()
        if self.warm_start:
            names = self.warm_start_names
            if self.name in names or len(set(names)) != len(names):
                raise ValueError(f"warm_start: {names} names this campaign or one source twice (a file counts by its name); name each "
                                 "source once")
            if len(self.objectives) != 1 or self.outcome_constraints or self.fidelities or self.planner != "qLogNEI":
                raise ValueError("warm_start: a warm start models one objective, without outcome constraints or fidelities, with the "
                                 "qLogNEI planner")
        return self

    def _check_generation(self) -> None:
        """A generating parameter (molecules or materials): one, with the Bayesian planner optimising; its proposals wait
        for a person's approval unless the file says otherwise (``approval: auto``)."""
        generating = [p.name for p in self.space.open]
        if not generating:
            return
        if len(generating) > 1:
            raise ValueError(f"parameters {generating} generate: at most one parameter of a campaign may generate")
        if self.planner != "qLogNEI" or self.purpose != "optimise" or self.fidelities or self.warm_start:
            raise ValueError(f"parameter {generating[0]!r} generates: generated candidates are screened by the qLogNEI planner "
                             "of an optimising campaign, without fidelities or a warm start")
        if "approval" not in self.model_fields_set:
            object.__setattr__(self, "approval", Approval(mode="required"))

    @property
    def warm_start_names(self) -> list[str]:
        """Each warm-start source's name: a campaign's, or a file's name."""
        return [w if isinstance(w, str) else w.name for w in self.warm_start]

    @property
    def truth(self) -> Optional[str]:
        """A dry-wet campaign's truth fidelity (measured by `lab`); None for a campaign without fidelities."""
        return next((f.name for f in self.fidelities if f.is_truth), None)

    @property
    def dry(self) -> dict[str, FidelityConfig]:
        """A dry-wet campaign's computations, by fidelity name."""
        return {f.name: f for f in self.fidelities if not f.is_truth}

    @cached_property
    def space(self) -> SearchSpace:
        return SearchSpace(parameters=self.parameters, constraints=self.constraints)

    @cached_property
    def goal(self) -> Goal:
        """The objectives, their trade-off and the outcome constraints, as the planner takes them."""
        return Goal(objectives=self.objectives, trade_off=self.trade_off, reference=self.reference_point, constraints=self.outcome_constraints)

    def utility(self, objectives: dict[str, float]) -> float:
        """The weighted sum of the objectives (higher is better)."""
        return self.goal.utility_of(objectives)

    def config_json(self) -> str:
        return self.model_dump_json(exclude={"store"})

    @staticmethod
    def normalise_config(config_json: str) -> str:
        """A configuration in the form two runs of one campaign must agree on: as this release writes it
        (settings new since it was stored take their defaults, so a campaign stored by an earlier release
        still matches its unchanged file), without the lab's operational settings (`OPERATIONAL`: where
        the robot is and how its deck is laid out may change between batches; each batch's plan stores
        the deck it ran on). As stored if it no longer validates."""
        try:
            data = json.loads(Campaign.model_validate_json(config_json).config_json())
        except (ValidationError, ValueError):
            try:
                data = json.loads(config_json)
            except ValueError:
                return config_json
        for key in OPERATIONAL_TOP if isinstance(data, dict) else ():
            data.pop(key, None)
        labs = [data.get("lab")] + [f.get("lab") for f in data.get("fidelities") or [] if isinstance(f, dict)] if isinstance(data, dict) else []
        for lab in labs:
            if not isinstance(lab, dict):
                continue
            for key in OPERATIONAL:
                lab.pop(key, None)
            if isinstance(lab.get("path"), str):  # the dataset's name: a project moved (or stored relative by an
                lab["path"] = Path(lab["path"]).name  # earlier release) still matches; another file is refused
        for w in data.get("warm_start") or [] if isinstance(data, dict) else []:
            if isinstance(w, dict) and isinstance(w.get("file"), str):
                w["file"] = Path(w["file"]).name  # a warm start's file: by name, as a dataset
        for key in ("fidelities", "warm_start", "learning"):
            if isinstance(data, dict) and not data.get(key):
                data.pop(key, None)  # stored before the setting existed
        if isinstance(data, dict) and data.get("purpose") == "optimise":
            data.pop("purpose")
        return json.dumps(data)


def load_campaign(path: str | Path, files_in: Optional[Path] = None) -> Campaign:
    """Read and validate a campaign YAML file; every problem becomes one `CampaignError`.

    The files the campaign names (a dataset, a deck file, a fault log) are relative to the campaign file; with
    `files_in` (a campaign uploaded to the UI) they are relative to that folder and must lie inside it: an absolute
    path, ``..`` or a link out of it is refused before anything is opened, with the same message whether or not
    such a file exists.
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: a campaign file must be a YAML mapping (name:, parameters:, ...), got {type(data).__name__}")
    base = Path(path).parent if files_in is None else Path(files_in)
    _read_deck_file(data, Path(path), base, files_in is not None)
    _read_molecule_tables(data, base, files_in is not None)
    _resolve_files(data, base, files_in is not None)
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignError(f"{path}: invalid campaign\n" + format_validation_error(exc, data)) from exc


def _named_file(value: str, field: str, base: Path, confined: bool) -> Path:
    """The absolute path of a file a campaign names, relative to `base`; `confined`: only one inside `base`."""
    if not confined:
        return (base / Path(value).expanduser()).resolve()
    given = Path(value)
    inside = base.resolve()
    if given.is_absolute() or ".." in given.parts or value.startswith("~") or not (inside / given).resolve().is_relative_to(inside):
        raise CampaignError(f"{field}: {value!r} is not a file of this server's data folder; an uploaded campaign names its files "
                            "relative to that folder ('retort ui --data-dir'), and only files inside it are read")
    return (inside / given).resolve()


def _read_deck_file(data: dict, path: Path, base: Path, confined: bool) -> None:
    """`lab.deck` may name a YAML file (relative to `base`) holding the deck; read it in place."""
    lab = data.get("lab")
    if isinstance(lab, dict) and isinstance(lab.get("deck"), str):
        deck_path = _named_file(lab["deck"], "lab.deck", base, confined)
        if not deck_path.is_file():
            raise CampaignError(f"{path}: lab.deck: no deck file {lab['deck']!r} (looked for {deck_path})")
        deck = read_yaml(deck_path)
        if not isinstance(deck, dict):
            raise CampaignError(f"{deck_path}: a deck file must be a YAML mapping (name:, robot:, pipettes:, ...)")
        lab["deck"] = deck


TABLE_KEYS = {"file", "smiles", "names"}
MAX_TABLE_BYTES = 50 << 20  # a table of compounds; a complete HTE grid is a few MB


def _read_molecule_tables(data: dict, base: Path, confined: bool) -> None:
    """A molecule parameter's `values` may name a CSV table and its columns, ``{file: grid.csv, smiles: ligand_smiles,
    names: ligand_name}`` (a chemist's export as it is): read in place as the mapping name -> SMILES of its distinct
    rows, in file order (without `names`, the list of distinct SMILES). A name written with two structures, or a
    structure under two names, is refused naming both lines."""
    import csv

    for i, p in enumerate(data.get("parameters") or []):
        values = p.get("values") if isinstance(p, dict) else None
        if not (isinstance(values, dict) and {"file", "smiles"} <= set(values) <= TABLE_KEYS):
            continue
        where = f"parameter {p.get('name', i)!r}: values"
        if not all(isinstance(values[k], str) and values[k].strip() for k in values):
            raise CampaignError(f"{where}: file, smiles and names must each be text (a file and its column names)")
        table = _named_file(values["file"], f"{where}.file", base, confined)
        try:
            if table.stat().st_size > MAX_TABLE_BYTES:
                raise CampaignError(f"{where}: {values['file']!r} is larger than {MAX_TABLE_BYTES >> 20} MB")
            with open(table, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
                header = list(rows[0]) if rows else []
        except OSError as exc:
            raise CampaignError(f"{where}: cannot read {values['file']!r}: {exc.strerror}") from exc
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CampaignError(f"{where}: {values['file']!r} is not a UTF-8 CSV file: {exc}") from exc
        wanted = [values["smiles"]] + ([values["names"]] if "names" in values else [])
        missing = [c for c in wanted if c not in header]
        if missing:
            raise CampaignError(f"{where}: {values['file']!r} has no column {missing[0]!r} (its columns: {header})")
        p["values"] = _compounds(rows, values["smiles"], values.get("names"), f"{where} ({values['file']})")


def _compounds(rows: list[dict], smiles: str, names: Optional[str], where: str) -> list[str] | dict[str, str]:
    """The distinct compounds of `rows`: name -> SMILES (or the SMILES alone), each name and each structure once."""
    from retort.surrogates.featurisers import FeaturisationError, canonical

    structures: dict[str, str] = {}  # SMILES text -> canonical SMILES (a grid repeats each compound many times)
    first: dict[str, tuple[str, str, int]] = {}  # structure -> (name, SMILES, line)
    named: dict[str, tuple[str, int]] = {}  # name -> (SMILES, line)
    for line, row in enumerate(rows, start=2):
        text = (row.get(smiles) or "").strip()
        name = (row.get(names) or "").strip() if names else text
        if not text or not name:
            raise CampaignError(f"{where}: line {line} has no {'name or SMILES' if names else 'SMILES'}")
        if text not in structures:
            try:
                structures[text] = canonical(text)
            except FeaturisationError as exc:
                raise CampaignError(f"{where}: line {line}: {exc}") from None
        structure = structures[text]
        if names and name in named and structures[named[name][0]] != structure:
            raise CampaignError(f"{where}: {name!r} is {named[name][0]!r} at line {named[name][1]} but {text!r} at line {line}")
        if names and structure in first and first[structure][0] != name:
            raise CampaignError(f"{where}: line {line} names {name!r} the compound line {first[structure][2]} names "
                                f"{first[structure][0]!r}; give each compound one name")
        first.setdefault(structure, (name, text, line))
        named.setdefault(name, (text, line))
    return {name: text for name, text, _ in first.values()} if names else [text for _, text, _ in first.values()]


def _resolve_files(data: dict, base: Path, confined: bool) -> None:
    """Files the lab names (`lab.path`, a dataset; `lab.faults.log`) are relative to `base` (the campaign file's folder),
    wherever `retort` runs from; stored as absolute paths, so every process of the campaign finds the same file."""
    lab = data.get("lab")
    holders = [(lab, "path", "lab.path"), (lab.get("faults") if isinstance(lab, dict) else None, "log", "lab.faults.log")]
    fidelities = data.get("fidelities")
    for i, f in enumerate(fidelities if isinstance(fidelities, list) else []):
        if isinstance(f, dict):
            holders.append((f.get("lab"), "path", f"fidelities[{i}].lab.path"))
    warm = data.get("warm_start")
    for i, w in enumerate(warm if isinstance(warm, list) else []):
        if isinstance(w, dict):
            holders.append((w, "file", f"warm_start[{i}].file"))
    for holder, key, field in holders:
        if isinstance(holder, dict) and isinstance(holder.get(key), str) and holder[key].strip():
            holder[key] = str(_named_file(holder[key], field, base, confined))


def with_changes(campaign: Campaign, source: str, **changes: object) -> Campaign:
    """`campaign` with some fields replaced (command-line overrides), validated like the file.

    `source` names where the changes come from in messages (e.g. ``"command line"``).
    """
    data = campaign.model_dump(mode="json") | changes
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignError(f"{source}: invalid campaign\n" + format_validation_error(exc, data)) from exc


def format_validation_error(exc: ValidationError, data: dict) -> str:
    """One line per problem, naming the field (and the parameter's name where there is one)."""
    lines = []
    for err in exc.errors():
        loc = _describe_location(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and err["loc"][-1] == "generate" and err["loc"][:1] == ("parameters",):
            msg = "only molecule parameters generate (listed molecules are their seeds); this parameter's type cannot"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; unknown keys are not ignored)"
        lines.append(f"  - {loc}: {msg}" if loc else f"  - {msg}")
    return "\n".join(lines)


def _describe_location(loc: tuple, data: object) -> str:
    parts, node, tagged = [], data, None
    for key in loc:
        if isinstance(key, int):
            name = node[key].get("name") if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{key}]" + (f" ({name!r})" if name else "")]
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            if isinstance(node, dict) and tagged is not node and key in (node.get("type"), node.get("kind")):
                tagged = node  # pydantic's union tag (once per node: a key spelt like the tag, `kind: colour` + `colour:`, is the user's)
                continue
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)

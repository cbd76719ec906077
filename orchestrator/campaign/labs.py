"""The lab section of a campaign file: which lab runs the experiments and how (`LabConfig`, one model per kind)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retort.agents.fields import Number, Whole
from retort.instruments.deck import DeckConfig
from retort.instruments.plate_reader import MAX_WAVELENGTH, MIN_WAVELENGTH


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VirtualFaults(_Strict):
    """Faults the virtual robots inject, each drawn per robot run from the campaign's seed and the run
    (probabilities), or fixed (`slow`)."""

    transient: Number = Field(default=0.0, ge=0, le=1, description="the robot refuses the run before anything moves; retried with back-off")
    hard: Number = Field(default=0.0, ge=0, le=1, description="the robot breaks down part-way: touched experiments failed, robot out of service")
    hang: Number = Field(default=0.0, ge=0, le=1, description="the robot stops answering part-way; its run's deadline catches it: as `hard`")
    slow: dict[Annotated[Whole, Field(ge=1)], Annotated[Number, Field(ge=1, le=100)]] = Field(
        default_factory=dict, description="robot number -> how many times slower it runs")
    deadline: Number = Field(default=3.0, ge=1, le=100, description="a run taking this many times its planned duration has hung")
    log: Optional[str] = Field(default=None, description="JSON-lines file the virtual robots append every dispense to (their own record)")

    @model_validator(mode="after")
    def _check(self) -> "VirtualFaults":
        if self.transient + self.hard + self.hang > 1:
            raise ValueError("transient + hard + hang are probabilities of one run's fault; their sum must be at most 1")
        return self


RobotUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+(:[0-9]+)?/?$")]


class ColourLabConfig(_Strict):
    """The colour-mixing lab: a liquid handler dispensing dye stocks into a plate, and an absorbance reader.

    Parameters are stock volumes (uL) named after the deck's stocks; readings are absorbances named
    ``A<nm>``, one per wavelength. `backend` picks who dispenses: the virtual bench, or an Opentrons
    robot at `robot_url` (its deck described by `deck`); a list of addresses names several identical
    robots, each with a deck of its own. Until a reader driver exists, the virtual reader reads what
    the robot reports it dispensed.
    """

    kind: Literal["colour", "virtual_colour"]
    backend: Literal["virtual", "opentrons"] = "virtual"
    robot_url: Union[RobotUrl, Annotated[list[RobotUrl], Field(min_length=1, max_length=16)]] = Field(
        default="http://127.0.0.1:31950", description="the robot's address; a list: several identical robots, run in parallel")
    allow_hardware: bool = Field(default=False, description="must be true to drive a robot that is not a simulator")
    auto_refill: Optional[bool] = Field(default=None, description="virtual backend: a virtual operator refills the deck (the default); false: the campaign pauses, as on a robot")
    deck: Optional[DeckConfig] = Field(default=None, description="the robot's deck; default: an OT-2 deck built from pipettes, plate and stock_volume")
    wavelengths: list[Annotated[Whole, Field(ge=MIN_WAVELENGTH, le=MAX_WAVELENGTH)]] = Field(
        default=[430, 480, 520, 580, 630], min_length=1, max_length=64)
    pipettes: list[str] = Field(default=["p20_single_gen2", "p300_single_gen2"], min_length=1)
    plate: str = "corning_96_wellplate_360ul_flat"
    stock_volume: Number = Field(default=15000.0, gt=0)
    mix_repetitions: Whole = Field(default=3, ge=0, le=20)
    pipetting_cv: Number = Field(default=0.01, ge=0, le=0.5)
    reader_noise: Number = Field(default=0.005, ge=0, le=1)
    nan_readings_at: list[Annotated[Whole, Field(ge=1)]] = Field(default_factory=list, description="fault injection: experiment numbers read as NaN")
    fail_runs_at: list[Annotated[Whole, Field(ge=1)]] = Field(
        default_factory=list, description="fault injection (virtual backend): the liquid handler fails while dispensing these experiments")
    robots: Whole = Field(default=1, ge=1, le=16, description="virtual backend: identical robots, each with a deck of its own, run in parallel")
    time_scale: Number = Field(default=0.0, ge=0, le=10, description="virtual backend: wall-clock seconds per simulated second (0: instant)")
    faults: VirtualFaults = Field(default_factory=VirtualFaults, description="virtual backend: injected instrument faults")

    @model_validator(mode="after")
    def _check(self) -> "ColourLabConfig":
        repeated = sorted({nm for nm in self.wavelengths if self.wavelengths.count(nm) > 1})
        if repeated:
            raise ValueError(f"wavelengths {repeated} are listed twice")
        if self.deck is not None:
            fields = type(self).model_fields
            both = sorted(k for k in ("pipettes", "plate", "stock_volume") if getattr(self, k) != fields[k].get_default(call_default_factory=True))
            if both:
                raise ValueError(f"give the deck's pipettes, plate and stocks in 'deck' only; remove {both}")
        elif self.backend == "opentrons":
            raise ValueError("backend 'opentrons' needs 'deck': the robot's pipettes, tip racks, reservoir, stocks and plate")
        if self.backend == "opentrons" and (self.fail_runs_at or self.nan_readings_at):
            raise ValueError("fail_runs_at and nan_readings_at inject faults into the virtual lab; remove them for backend 'opentrons'")
        if self.backend == "opentrons" and (self.robots != 1 or self.time_scale or self.faults != VirtualFaults()):
            raise ValueError("robots, time_scale and faults describe virtual robots; an Opentrons campaign drives the robots "
                             "listed in robot_url")
        twice = sorted({u for u in self.robot_urls if self.robot_urls.count(u) > 1})
        if twice:
            raise ValueError(f"robot_url: {twice} listed twice; each robot is driven by one lab")
        if self.robots != 1 and len(self.robot_urls) > 1 and self.robots != len(self.robot_urls):
            raise ValueError(f"robots: {self.robots}, but robot_url lists {len(self.robot_urls)} robots; give one or make them agree")
        bad = sorted(n for n in self.faults.slow if n > self.robot_count)
        if bad:
            raise ValueError(f"faults.slow: robots {bad} do not exist; robots are numbered 1 to {self.robot_count}")
        if self.backend == "opentrons" and self.auto_refill:
            raise ValueError("auto_refill: a robot's deck is refilled by a person ('retort deck refill'); remove auto_refill")
        return self

    @property
    def robot_urls(self) -> list[str]:
        return [self.robot_url] if isinstance(self.robot_url, str) else list(self.robot_url)

    @property
    def robot_count(self) -> int:
        """How many robots: one per address in `robot_url` (on the virtual backend too, so an Opentrons file
        switched to `backend: virtual` simulates as many robots), else `robots` virtual ones."""
        return len(self.robot_urls) if len(self.robot_urls) > 1 or self.backend == "opentrons" else self.robots


class AnalyticLabConfig(_Strict):
    """A fast analytic lab with Gaussian noise; its one reading is `y`. Functions of numbers (Branin, Hartmann-6), or
    of one molecule parameter: GuacaMol's goal-directed objectives (`retort.simulators.molecules`, scores in [0, 1])."""

    kind: Literal["virtual_analytic"]
    function: Literal["branin", "hartmann6", "celecoxib_rediscovery", "troglitazone_rediscovery", "median_camphor_menthol",
                      "isomer_c9h10n2o2pf2cl", "osimertinib_mpo", "fexofenadine_mpo"]
    noise_sd: Number = Field(default=0.0, ge=0, le=1e6)
    nan_readings_at: list[Annotated[Whole, Field(ge=1)]] = Field(default_factory=list, description="fault injection: experiment numbers read as NaN")


class LookupLabConfig(_Strict):
    """A lab that answers from a measured grid (every combination measured once).

    `dataset` names a packaged grid (``suzuki_perera2018``, ``buchwald_hartwig_ahneman2018``,
    ``deoxyfluorination_nielsen2018``, ``amide_coupling_wang2024``, ``ni_borylation_stevens2022``,
    ``aryl_scope_ligand_wang2024``, ``lnp3``) or
    `path` a CSV file with a header row. `columns` maps parameter names to CSV columns (default:
    the same names). The readings are named after `output`: one column, or a list of them.
    """

    kind: Literal["dataset_lookup"]
    dataset: Optional[Literal["suzuki_perera2018", "buchwald_hartwig_ahneman2018", "deoxyfluorination_nielsen2018",
                              "amide_coupling_wang2024", "ni_borylation_stevens2022", "aryl_scope_ligand_wang2024", "lnp3"]] = None
    path: Optional[str] = None
    output: Union[str, Annotated[list[str], Field(min_length=1)]] = "yield"
    columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _source(self) -> "LookupLabConfig":
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of 'dataset' (a packaged grid) or 'path' (a CSV file)")
        return self


class EmulatorLabConfig(_Strict):
    """A lab that answers from a GP fitted to a scattered dataset: an emulator, and it says so.

    `dataset` names a packaged Olympus dataset (``suzuki``, ``snar``, ``crossed_barrel``,
    ``p3ht``, ``agnp``, ``photo_pce10``, ``hplc``), the composition set ``hea_hardness`` (alloy
    formula -> Vickers hardness; campaigns use a composition parameter), or `path` an
    Olympus-format folder (``config.json`` + ``data.csv``). `output` picks the measurement (default: the first);
    `columns` maps parameter names to dataset inputs (default: the same names). Readings: the
    output, and ``<output>_emulator_std``, the emulator's own standard deviation there.
    `noise`: add Gaussian noise of the fitted noise level (seeded per experiment).
    """

    kind: Literal["dataset_emulator"]
    dataset: Optional[Literal["suzuki", "snar", "crossed_barrel", "p3ht", "agnp", "photo_pce10", "hplc", "hea_hardness"]] = None
    path: Optional[str] = None
    output: Optional[str] = None
    columns: dict[str, str] = Field(default_factory=dict)
    noise: bool = True

    @model_validator(mode="after")
    def _source(self) -> "EmulatorLabConfig":
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of 'dataset' (a packaged Olympus dataset) or 'path' (an Olympus-format folder)")
        return self


class ComputationLabConfig(_Strict):
    """A computation engine as the instrument: each experiment computes the candidate's properties (the readings).

    `engine`: ``xtb`` (GFN2-xTB through tblite on a seeded RDKit conformer: energy, homo_lumo_gap, dipole,
    solvation_free_energy in `settings.solvent`), ``lookup`` (values already computed: the columns `output` of the CSV
    file `path`, found by the molecule's structure in its column `key`) or ``chgnet`` (CHGNet energy_per_atom of the
    prototype cell in the CIF file `path`, made a `supercell`, its `site` atoms shared out by the composition; settings
    relax, steps). The input is the campaign's molecule parameter, or for chgnet its composition parameter (`input` names
    it when there are several). Every computation is stored once with its provenance and never run twice;
    one that fails is stored as failed with the engine's message and the campaign goes on.

    `runner`: ``processes`` (default: `workers` local processes), ``dask`` (a Dask cluster through prefect-dask: the
    scheduler at `address`, or a `LocalCluster` of `workers` workers) or ``inline`` (this process, one at a time).
    """

    kind: Literal["computation"]
    engine: Literal["xtb", "lookup", "chgnet"]
    method: Optional[str] = Field(default=None, description="xtb: GFN2-xTB (default), GFN1-xTB or IPEA1-xTB")
    settings: dict[str, Union[str, float, int, bool]] = Field(default_factory=dict, description="xtb: solvent, accuracy, max_iterations")
    seed: Annotated[Whole, Field(ge=0)] = 0
    input: Optional[str] = Field(default=None, description="the parameter computed on (default: the campaign's one molecule parameter)")
    path: Optional[str] = Field(default=None, description="lookup: the CSV file of computed values; chgnet: the prototype's CIF file")
    site: Optional[str] = Field(default=None, description="chgnet: the prototype's element whose sites the composition fills")
    supercell: list[Annotated[Whole, Field(ge=1, le=8)]] = Field(default=[1, 1, 1], min_length=3, max_length=3)
    key: Optional[str] = Field(default=None, description="lookup: the file's column of SMILES (or the parameter's labels)")
    output: Union[str, Annotated[list[str], Field(min_length=1)], None] = Field(default=None, description="lookup: the value columns")
    runner: Literal["processes", "dask", "inline"] = "processes"
    workers: Annotated[Whole, Field(ge=1, le=256)] = 2
    address: Optional[str] = Field(default=None, description="runner dask: an existing cluster's scheduler, e.g. tcp://10.0.0.5:8786")

    @model_validator(mode="after")
    def _check(self) -> "ComputationLabConfig":
        needs = {"lookup": ("path", "key", "output"), "chgnet": ("path", "site"), "xtb": ()}[self.engine]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"engine {self.engine!r} needs {missing}" + {"lookup": ": the CSV file, its column of molecules and the value columns",
                                                                          "chgnet": ": the prototype's CIF file and the element its composition fills"}[self.engine])
        extra = [k for k in ("path", "key", "output", "site") if getattr(self, k) is not None and k not in needs]
        if extra or self.engine != "chgnet" and self.supercell != [1, 1, 1]:
            raise ValueError(f"{extra or ['supercell']}: engine {self.engine!r} does not use them; remove them")
        if self.address is not None and self.runner != "dask":
            raise ValueError("address is a Dask scheduler's; set runner: dask, or remove address")
        return self

    @property
    def outputs(self) -> list[str]:
        return [self.output] if isinstance(self.output, str) else list(self.output or [])


LabConfig = Annotated[Union[ColourLabConfig, AnalyticLabConfig, LookupLabConfig, EmulatorLabConfig, ComputationLabConfig],
                      Field(discriminator="kind")]

"""The colour lab's deck: the OT-2 deck a campaign without `lab.deck` gets, the deck of each of its robots, and the
campaign checked against the deck it runs on (before anything is stored)."""

from __future__ import annotations

from pydantic import ValidationError

from retort.agents.space import ContinuousParameter
from retort.instruments.deck import DeckConfig
from retort.instruments.labware import LABWARE, PIPETTES, labware_spec
from retort.orchestrator.campaign import Campaign, ColourLabConfig
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.labs.base import check_readings
from retort.simulators import DYES

PLATE_SLOT = "1"
RESERVOIR_SLOT = "2"
RESERVOIR = "nest_12_reservoir_15ml"
TIP_SLOTS = ("3", "4")


def reading_name(nm: int) -> str:
    return f"A{nm}"


def default_deck(config: ColourLabConfig, campaign: Campaign) -> DeckConfig:
    """The OT-2 deck a campaign without `lab.deck` gets: its pipettes, one tip rack each, a 12-well reservoir of stocks."""
    if len(config.pipettes) > 2 or len(set(config.pipettes)) != len(config.pipettes):
        raise CampaignError(f"lab.pipettes: a robot has two mounts; give one or two different pipettes, got {config.pipettes}")
    unknown = [p for p in config.pipettes if p not in PIPETTES]
    if unknown:
        raise CampaignError(f"lab.pipettes: unknown pipettes {unknown}; known: {sorted(PIPETTES)}")
    robot = "flex" if all(p.startswith("flex_") for p in config.pipettes) else "ot2"
    slots = {"ot2": (PLATE_SLOT, RESERVOIR_SLOT) + TIP_SLOTS, "flex": ("D1", "D2", "C1", "C2")}[robot]
    wells = LABWARE[RESERVOIR].wells()
    if len(campaign.parameters) > len(wells):
        raise CampaignError(f"the reservoir has {len(wells)} wells; the campaign has {len(campaign.parameters)} stocks")
    data = {
        "name": f"virtual-{campaign.name}"[:64],
        "robot": robot,
        "pipettes": dict(zip(("left", "right"), config.pipettes)),
        "tip_racks": {slot: PIPETTES[p].tip_rack for slot, p in zip(slots[2:], config.pipettes)},
        "reservoir": {"slot": slots[1], "load_name": RESERVOIR},
        "stocks": {p.name: {"well": wells[i], "volume": config.stock_volume} for i, p in enumerate(campaign.parameters)},
        "plate": {"slot": slots[0], "load_name": config.plate},
    }
    try:
        return DeckConfig.model_validate(data)
    except ValidationError as exc:
        raise CampaignError("lab.pipettes, plate, stock_volume: " + "; ".join(
            e["msg"].removeprefix("Value error, ") for e in exc.errors())) from exc


def deck_of(config: ColourLabConfig, campaign: Campaign) -> DeckConfig:
    """The deck a colour campaign runs on. On the virtual backend a configured deck is stored under
    ``NAME-virtual``, so a simulation never uses up the real robot's recorded tips and wells."""
    if config.deck is None:
        return default_deck(config, campaign)
    if config.backend == "virtual":
        return config.deck.model_copy(update={"name": f"{config.deck.name[:56]}-virtual"})
    return config.deck


def robot_decks(config: ColourLabConfig, campaign: Campaign) -> list[DeckConfig]:
    """The deck of each robot: one robot's is `deck_of`; several robots (virtual, or Opentrons robots listed in
    `robot_url`, in that order) get decks of their own, named ``DECK-1``, ``DECK-2``, ..."""
    base = deck_of(config, campaign)
    if config.robot_count == 1:
        return [base]
    return [base.model_copy(update={"name": f"{base.name[:60]}-{i}"}) for i in range(1, config.robot_count + 1)]


def check_campaign(config: ColourLabConfig, campaign: Campaign, deck: DeckConfig) -> None:
    """The campaign against the deck it runs on: stock volumes it can dispense into a well of its plate, a batch within one filling of each stock."""
    smallest = min(p.min_volume for p in deck.mounted())
    capacity = labware_spec(deck.plate.load_name).well_capacity
    for p in campaign.parameters:
        where = f"parameter {p.name!r}"
        if not isinstance(p, ContinuousParameter) or p.unit != "uL":
            raise CampaignError(f"{where}: the colour lab's parameters are stock volumes, continuous with unit 'uL'")
        if p.name not in deck.stocks:
            raise CampaignError(f"{where}: deck {deck.name!r} has no stock {p.name!r}; its stocks are {sorted(deck.stocks)}")
        if p.name not in DYES:
            raise CampaignError(f"{where}: the virtual reader knows no stock {p.name!r}; it knows {sorted(DYES)}")
        if p.lower < smallest:
            raise CampaignError(
                f"{where}: lower bound {p.lower:g} uL is below what any mounted pipette can dispense "
                f"(smallest: {smallest:g} uL); raise it to at least {smallest:g} uL"
            )
        if p.upper > capacity:
            raise CampaignError(f"{where}: upper bound {p.upper:g} uL exceeds the well capacity of {capacity:g} uL")
    names = [p.name for p in campaign.parameters]
    max_total = campaign.space.max_linear({name: 1.0 for name in names})
    if max_total > capacity + 1e-9:
        raise CampaignError(
            f"the parameters allow {max_total:g} uL in one well, more than its {capacity:g} uL; add a constraint "
            f"such as 'terms: {{{', '.join(f'{s}: 1' for s in names)}}}, op: \"<=\", rhs: {capacity:g}'"
        )
    wells = len(labware_spec(deck.plate.load_name).wells())
    if campaign.batch_size > wells:
        raise CampaignError(f"batch_size {campaign.batch_size} is more than the {wells} wells of a {deck.plate.load_name}")
    for name in names:  # one batch must fit in one filling of a stock
        most = campaign.batch_size * campaign.space.max_linear({name: 1.0})
        if most > deck.stocks[name].volume:
            raise CampaignError(
                f"stock {name!r}: a batch of {campaign.batch_size} can draw up to {most:g} uL of {name}, more than the "
                f"{deck.stocks[name].volume:g} uL filled; raise the stock volume or lower batch_size"
            )
    check_readings(campaign, [reading_name(nm) for nm in config.wavelengths], "colour")

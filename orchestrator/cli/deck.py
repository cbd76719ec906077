"""`retort deck ...` (what is left on a robot's deck, and operators' refills) and `retort opentrons setup`.

An operator who refills tips or stocks, or puts a new plate on the deck, records it here; the next
batch then plans against it. Every change is stored as a deck event with who made it.
"""

from __future__ import annotations

import argparse

from retort.orchestrator.cli.common import out, user
from retort.orchestrator.errors import CampaignError


def add_parsers(sub) -> None:
    deck = sub.add_parser("deck", help="show a campaign's deck, or record refills and new plates")
    actions = deck.add_subparsers(dest="action", required=True)
    for name, text in (("show", "what is left on the deck: tips, stocks, plate wells, recent events"),
                       ("refill", "record that tips and/or stocks were refilled"),
                       ("new-plate", "record that an empty plate replaced the one on the deck"),
                       ("reset", "record that the deck was set up anew as the campaign file describes it (full)"),
                       ("cancel", "cancel batches reserved on the deck but not running (nothing of them moved: their tips, wells and stocks are free again)"),
                       ("pause", "take the instrument out of service for every campaign (it finishes the run it is on)"),
                       ("release", "put an instrument that broke down or was paused back in service")):
        p = actions.add_parser(name, help=text)
        p.add_argument("campaign", help="campaign YAML file (names the deck and the store)")
        p.add_argument("--store", help="store URL (default: the campaign file's)")
        p.add_argument("--robot", type=int, metavar="N", help="which robot's deck, when the campaign has several (lab.robots, or a list in lab.robot_url)")
        if name != "show":
            p.add_argument("--by", default=user(), help="who did it (stored with the event; default: your login)")
        if name == "refill":
            p.add_argument("--tips", nargs="*", metavar="SLOT", help="tip racks replaced with full ones (no slot: all racks)")
            p.add_argument("--stocks", nargs="*", metavar="NAME[=UL]", help="stocks refilled (no name: all, to their configured volume)")
    setup = sub.add_parser("opentrons", help="Opentrons' analysis environment")
    setup.add_argument("action", choices=["setup"], help="create the virtualenv with opentrons==9.0.0 that analyses protocols")
    setup.add_argument("--python", help="the Python 3.11 to build it with (default: found on PATH or in pyenv)")


def deck_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.store.decks import DeckStore

    store, chosen = _deck(args)
    decks = DeckStore(store)
    if args.action == "show":
        for deck in chosen:
            if deck.name in decks.names():
                _show(decks, deck.name)
            else:
                out.print(f"deck {deck.name}: not used yet", highlight=False)
        return 0
    deck = chosen[0]
    if args.action in ("refill", "new-plate") or (args.action == "reset" and deck.name not in decks.names()):
        decks.open(deck)  # created if new; a changed deck file is refused (reset records a new set-up)
    if args.action == "refill":
        if args.tips is None and args.stocks is None:
            raise CampaignError("say what was refilled: --tips (all racks, or slots) and/or --stocks (all, or NAME[=UL] ...)")
        volumes = _volumes(args.stocks, deck) if args.stocks is not None else None
        bad = [s for s in args.tips or [] if s not in deck.tip_racks]
        if bad:
            raise CampaignError(f"--tips: deck {deck.name!r} has no tip racks in slots {bad}; its racks: {deck.tip_racks}")
        decks.refill(deck.name, args.by, tips=args.tips, stocks=volumes, all_stocks=args.stocks is not None)
    elif args.action == "new-plate":
        decks.new_plate(deck.name, args.by)
    elif args.action == "reset":
        decks.replace_config(deck, args.by)
    elif args.action == "cancel":
        _cancel(decks, deck, args)
    elif args.action == "pause":
        decks.open(deck)
        decks.change(deck.name, "out_of_service", args.by, {"reason": f"paused by {args.by}"},
                     lambda config, state: state.model_copy(update={"out_of_service": f"paused by {args.by}"}), while_active=True)
    elif args.action == "release":
        if deck.name not in decks.names() or decks.get(deck.name)[1].out_of_service is None:
            out.print(f"deck {deck.name}: in service; nothing to release", highlight=False)
            return 0
        else:
            decks.change(deck.name, "released", args.by, {}, lambda config, state: state.model_copy(update={"out_of_service": None}),
                         while_active=True)
    _show(decks, deck.name)
    return 0


def _cancel(decks, deck, args: argparse.Namespace) -> None:
    """Cancel reserved batches; a robot run created for one (idle, never played) is stopped on the robot."""
    cancelled = decks.cancel(deck.name, args.by)
    for run in cancelled:
        line = f"cancelled lab run {run.id} (experiments {run.seqs})"
        if run.robot_run_id:
            from retort.instruments.opentrons.backend import OpentronsBackend
            from retort.instruments.protocols import Submission

            url = run.backend.removeprefix("opentrons ")
            with OpentronsBackend(url) as robot:
                robot.stop(Submission(run_id=run.robot_run_id))
            line += f"; robot run {run.robot_run_id} at {url} stopped"
        out.print(line, highlight=False)
    if not cancelled:
        out.print(f"deck {deck.name}: no reserved batch waits to run", highlight=False)


def opentrons_command(args: argparse.Namespace) -> int:
    from retort.instruments.opentrons.analysis import setup_environment

    venv = setup_environment(python=args.python)
    out.print(f"Opentrons' analysis environment is ready: {venv}", highlight=False)
    return 0


def _deck(args: argparse.Namespace):
    from retort.orchestrator.campaign import ColourLabConfig, load_campaign, with_changes
    from retort.orchestrator.labs.colour import robot_decks
    from retort.orchestrator.store import Store, check_persistent

    campaign = load_campaign(args.campaign)
    if args.store:
        campaign = with_changes(campaign, "command line", store=args.store)
    if not isinstance(campaign.lab, ColourLabConfig):
        raise CampaignError(f"{args.campaign}: lab {campaign.lab.kind!r} has no deck; decks belong to liquid-handling labs")
    check_persistent(campaign.store)
    decks = robot_decks(campaign.lab, campaign)
    if args.robot is None and len(decks) > 1 and args.action == "show":
        return Store(campaign.store), decks
    if args.robot is None and len(decks) > 1:
        raise CampaignError(f"{args.campaign}: the campaign has {len(decks)} robots; say which with --robot 1 ... --robot {len(decks)}")
    if args.robot is not None and not 1 <= args.robot <= len(decks):
        raise CampaignError(f"--robot {args.robot}: the campaign's robots are numbered 1 to {len(decks)}")
    return Store(campaign.store), [decks[(args.robot or 1) - 1]]


def _volumes(items: list[str], deck) -> dict[str, float] | None:
    if not items:
        return None
    volumes = {}
    for item in items:
        name, _, volume = item.partition("=")
        if name not in deck.stocks:
            raise CampaignError(f"--stocks: deck {deck.name!r} has no stock {name!r}; stocks: {sorted(deck.stocks)}")
        try:
            volumes[name] = float(volume) if volume else deck.stocks[name].volume
        except ValueError:
            raise CampaignError(f"--stocks: {item!r}: the volume must be a number of uL, e.g. {name}=15000") from None
    return volumes


def _show(decks, name: str) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    config, state = decks.get(name)
    table = Table(title=f"Deck {name} ({config.robot})", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("what")
    table.add_column("left")
    for slot, load_name in sorted(config.tip_racks.items()):
        table.add_row(f"tips, slot {slot} ({load_name})", f"{len(state.free_tips(config, slot))} of 96")
    for stock, volume in sorted(state.stocks.items()):
        table.add_row(f"stock {stock} ({config.reservoir.slot}:{config.stocks[stock].well})", f"{volume:g} uL")
    free = state.free_wells(config)
    table.add_row(f"plate {state.plate} (slot {config.plate.slot})", f"{len(free)} free wells" + (f", next {free[0]}" if free else ""))
    out.print(table)
    if state.out_of_service:
        out.print(f"[bold red]out of service[/]: {escape(state.out_of_service)}", highlight=False)
    runs = decks.runs(deck=name, active=True)
    if runs:
        out.print("in progress: " + "; ".join(f"lab run {r.id} ({r.status}, experiments {r.seqs})" for r in runs), highlight=False)
    for event in reversed(decks.events(name, limit=5)):
        out.print(f"  {event.created_at:%Y-%m-%d %H:%M} {event.kind} by {escape(event.actor)}{_released(event)}", highlight=False)


def _released(event) -> str:
    """What a `released` event gave back, in a few words (tips, wells, uL of stocks, for which lab run)."""
    if event.kind != "released":
        return ""
    d = event.detail
    stocks = sum(d.get("stocks", {}).values())
    return (f": lab run {d.get('lab_run')} never touched {len(d.get('tips', []))} tips, {len(d.get('wells', []))} wells and "
            f"{stocks:g} uL of stocks; they are free again")


COMMANDS = {"deck": deck_command, "opentrons": opentrons_command}

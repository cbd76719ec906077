"""`retort deck ...` where an operator meets it: a paused campaign, a refill recorded, the campaign continuing."""

import subprocess
import sys
from pathlib import Path

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.errors import DeckEmpty
from retort.orchestrator.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def campaign_file(tmp_path):
    """The OT-2 example on the virtual backend without its virtual operator, stocks for two batches of water."""
    text = (EXAMPLES / "colour_match_ot2.yaml").read_text().replace("  backend: opentrons", "  backend: virtual\n  auto_refill: false")
    deck = (EXAMPLES / "decks" / "ot2-bench.yaml").read_text().replace("water:  {well: A4, volume: 15000}", "water:  {well: A4, volume: 1000}")
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "ot2-bench.yaml").write_text(deck)
    path = tmp_path / "ot2.yaml"
    path.write_text(text.replace("sqlite:///retort.db", f"sqlite:///{tmp_path / 'retort.db'}"))
    return path


def deck(*args, cwd):
    return subprocess.run([sys.executable, "-m", "retort.orchestrator.cli", "deck", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_running_out_pauses_and_a_recorded_refill_lets_the_campaign_continue(tmp_path):
    path = campaign_file(tmp_path)
    campaign = load_campaign(path)
    store = Store(campaign.store)
    run = loop.open_run(campaign, store=store)
    paused = None
    for iteration in range(1, 5):
        try:
            loop.run_iteration(run, iteration)
        except DeckEmpty as exc:
            paused = str(exc)
            break
    assert paused and "uL more water" in paused and "retort deck refill" in paused
    waiting = [e for e in run.experiments() if e.status == "approved"]
    assert len(waiting) == 4
    shown = deck("show", str(path), cwd=tmp_path)
    assert shown.returncode == 0 and "stock water (2:A4)" in shown.stdout
    refused = deck("refill", str(path), "--stocks", "milk=10", cwd=tmp_path)
    assert refused.returncode == 2 and "has no stock 'milk'" in refused.stderr and "Traceback" not in refused.stderr
    refilled = deck("refill", str(path), "--stocks", "water", "--by", "ada", cwd=tmp_path)
    assert refilled.returncode == 0, refilled.stderr
    assert "refill by ada" in refilled.stdout
    loop.run_iteration(run, loop.next_iteration(run))
    assert {e.status for e in run.experiments() if e.seq in {w.seq for w in waiting}} == {"measured"}
    plate = deck("new-plate", str(path), cwd=tmp_path)
    assert plate.returncode == 0 and "plate 2 (slot 1)" in plate.stdout and "96 free wells" in plate.stdout
    assert [e.kind for e in DeckStore(store).events("ot2-bench-virtual")][:2] == ["new_plate", "reserved"]


def test_a_changed_deck_file_is_refused_until_the_deck_is_reset(tmp_path):
    path = campaign_file(tmp_path)
    assert deck("refill", str(path), "--tips", cwd=tmp_path).returncode == 0
    deck_file = tmp_path / "decks" / "ot2-bench.yaml"
    deck_file.write_text(deck_file.read_text().replace('"4": opentrons_96_tiprack_300ul', '"5": opentrons_96_tiprack_300ul'))
    refused = deck("show", str(path), cwd=tmp_path)
    assert refused.returncode == 0  # showing reads the stored set-up
    changed = deck("refill", str(path), "--tips", cwd=tmp_path)
    assert changed.returncode == 2 and "stored with a different set-up (tip_racks changed)" in changed.stderr
    reset = deck("reset", str(path), cwd=tmp_path)
    assert reset.returncode == 0 and "tips, slot 5" in reset.stdout


def test_a_robot_campaign_without_the_analysis_environment_is_refused_naming_the_setup_command(tmp_path):
    env = {**__import__("os").environ, "RETORT_OPENTRONS_VENV": str(tmp_path / "missing")}
    result = subprocess.run([sys.executable, "-m", "retort.orchestrator.cli", "validate", str(EXAMPLES / "colour_match_ot2.yaml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "retort opentrons setup" in result.stderr and not (tmp_path / "retort.db").exists()


def test_a_deck_with_a_batch_reserved_is_not_refilled_until_the_batch_runs_or_is_cancelled(tmp_path):
    from retort.orchestrator.labs import LabRequest

    path = campaign_file(tmp_path)
    campaign = load_campaign(path)
    run = loop.open_run(campaign, store=Store(campaign.store))
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    run.lab.prepare([LabRequest(seq=e.seq, params=e.params) for e in batch])  # reserved; then the process dies
    refused = deck("refill", str(path), "--tips", cwd=tmp_path)
    assert refused.returncode == 2 and "lab run 1 (planned, experiments [1, 2, 3, 4])" in refused.stderr
    assert "retort deck cancel" in refused.stderr
    cancelled = deck("cancel", str(path), "--by", "ada", cwd=tmp_path)
    assert cancelled.returncode == 0 and "cancelled lab run 1 (experiments [1, 2, 3, 4])" in cancelled.stdout
    assert deck("refill", str(path), "--tips", cwd=tmp_path).returncode == 0
    again = loop.open_run(campaign, store=Store(campaign.store))
    shown = deck("show", str(path), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr  # the cancelled batch's tips, wells and stocks came back, and it says so
    assert "released by ada: lab run 1 never touched 16 tips, 4 wells and" in " ".join(shown.stdout.split())
    loop.run_iteration(again, 1)  # the approved batch is planned anew, in the wells the cancelled one never touched
    assert [e.location for e in again.experiments()] == ["plate 1 A1", "plate 1 B1", "plate 1 C1", "plate 1 D1"]

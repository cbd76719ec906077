"""Campaigns through Opentrons' real robot-server (simulated OT-2 and Flex), where a user meets them:
`retort run` on the robot examples, a kill -9 in the middle of a robot run, and a robot that does not
match its deck or does not answer."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from retort.instruments.opentrons.client import RobotClient
from retort.instruments.opentrons.commands import labware_slots
from retort.instruments.plan import Plan, RunReport
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.store import Store

pytestmark = [pytest.mark.robot_server, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RETORT = [sys.executable, "-m", "retort.orchestrator.cli"]
HEADERS = {"Opentrons-Version": "3"}


def campaign_file(tmp_path, robot, server, **replace):
    """The robot example pointed at `server`, its deck file by absolute path, its store in tmp_path."""
    text = (EXAMPLES / f"colour_match_{robot}.yaml").read_text()
    text = text.replace("http://127.0.0.1:31950", server.url).replace("deck: decks/", f"deck: {EXAMPLES}/decks/")
    text = text.replace("sqlite:///retort.db", f"sqlite:///{tmp_path / 'retort.db'}")
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / f"{robot}.yaml"
    path.write_text(text)
    return path


def retort(*args, cwd, timeout=300):
    env = os.environ | {"RETORT_LOG_DIR": str(cwd / "logs")}
    return subprocess.run([*RETORT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def run_until_a_robot_run_plays(path, cwd):
    """Start `retort run path` and return its process once a lab run is `running` in its store (the robot is moving)."""
    db = cwd / "retort.db"
    proc = subprocess.Popen([*RETORT, "run", str(path)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    if conn.execute("SELECT count(*) FROM lab_run WHERE status = 'running'").fetchone()[0]:
                        return proc
            except sqlite3.OperationalError:
                pass
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.01)
    pytest.fail("no robot run started within 120 s")


def robot_did(server, store, deck):
    """What the robot itself reports for each of the deck's lab runs it holds (``GET /runs/{id}`` and its commands, not
    Retort's stored copy), in order: per run, the tips it picked up (``slot:well``), the plate wells it dispensed into
    (``plate:well``) and the uL it aspirated from each stock's reservoir well."""
    out = []
    with RobotClient(server.url) as client:
        for run in DeckStore(store).runs(deck=deck):
            if not run.robot_run_id:
                continue
            plan = Plan.model_validate_json(run.plan_json)
            commands = client.commands(run.robot_run_id)
            slots = labware_slots(commands, client.run(run.robot_run_id).labware)
            ok = [c for c in commands if c["status"] == "succeeded"]
            stock_of = {s.well: name for name, s in plan.deck.stocks.items()}
            drawn = {}
            for c in ok:
                if c["commandType"] == "aspirate" and slots.get(c["params"]["labwareId"]) == plan.deck.reservoir.slot:
                    name = stock_of[c["params"]["wellName"]]
                    drawn[name] = drawn.get(name, 0.0) + c["params"]["volume"]
            tips = [f"{slots[c['params']['labwareId']]}:{c['params']['wellName']}" for c in ok if c["commandType"] == "pickUpTip"]
            wells = [f"{plan.plate}:{c['params']['wellName']}" for c in ok
                     if c["commandType"] == "dispense" and slots.get(c["params"]["labwareId"]) == plan.deck.plate.slot]
            out.append({"lab_run": run.id, "robot_run": run.robot_run_id, "tips": tips, "wells": sorted(set(wells), key=wells.index),
                        "drawn": drawn})
    return out


def stored_inventory(store, deck):
    """The deck's stored state: used tips (``slot:well``), used wells of its plate (``plate:well``), stock volumes left."""
    config, state = DeckStore(store).get(deck)
    tips = {f"{slot}:{w}" for slot, ws in state.used_tips.items() for w in ws}
    return config, tips, {f"{state.plate}:{w}" for w in state.wells}, state.stocks


def assert_no_reuse_and_the_store_matches_the_robot(runs, store, deck, exact=True):
    """Across `runs` (the robot's own reports, `robot_did`, since the deck's racks and plate were last filled): no tip
    picked up twice, no well dispensed into by two runs, each inside the store's inventory; `exact`: the store's
    used tips and wells are exactly the robot's and its stocks are what the robot drew from a full deck."""
    tips = [t for r in runs for t in r["tips"]]
    wells = [w for r in runs for w in r["wells"]]
    assert len(tips) == len(set(tips)), "a tip was picked up twice"
    assert len(wells) == len(set(wells)), "a well was dispensed into by two runs"
    config, stored_tips, stored_wells, stocks = stored_inventory(store, deck)
    assert set(tips) <= stored_tips and set(wells) <= stored_wells
    if exact:
        assert set(tips) == stored_tips and set(wells) == stored_wells
        for name, stock in config.stocks.items():
            drawn = sum(r["drawn"].get(name, 0.0) for r in runs)
            assert stocks[name] == pytest.approx(stock.volume - drawn, abs=1e-6), name
    return tips, wells


@pytest.mark.parametrize("robot", ["ot2", "flex"])
def test_the_robot_example_runs_end_to_end_and_the_stored_inventory_matches_the_robots_commands(robot, robot_servers, tmp_path, opentrons_venv):
    server = robot_servers.get(robot)
    result = retort("run", str(campaign_file(tmp_path, robot, server)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "16 measured, 0 failed, budget 16" in result.stdout
    store = Store(f"sqlite:///{tmp_path / 'retort.db'}")
    deck = f"{robot}-bench"
    runs = DeckStore(store).runs(deck=deck)
    assert [r.status for r in runs] == ["collected"] * 4 and all(r.robot_run_id and r.protocol_digest for r in runs)
    tips, wells = assert_no_reuse_and_the_store_matches_the_robot(robot_did(server, store, deck), store, deck)
    assert len(tips) == 16 * 4 and len(wells) == 16


def test_one_campaign_drives_two_robots_at_once_each_on_its_own_deck(robot_servers, tmp_path, opentrons_venv):
    first, second = robot_servers.get("ot2"), robot_servers.get("ot2", 2)
    path = campaign_file(tmp_path, "ot2", first, **{f"robot_url: {first.url}": f"robot_url: [{first.url}, {second.url}]",
                                                    "planner: qLogNEI": "planner: qLogNEI\nschedule: async"})
    result = retort("run", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "16 measured, 0 failed, budget 16" in result.stdout
    store = Store(f"sqlite:///{tmp_path / 'retort.db'}")
    for deck, server in (("ot2-bench-1", first), ("ot2-bench-2", second)):
        runs = DeckStore(store).runs(deck=deck)
        assert runs and all(r.status == "collected" for r in runs), deck
        robot_runs = [httpx.get(f"{server.url}/runs/{r.robot_run_id}", headers=HEADERS).json()["data"] for r in runs]
        assert all(r["status"] == "succeeded" for r in robot_runs)  # each run is on the robot its deck names
        tips, wells = assert_no_reuse_and_the_store_matches_the_robot(robot_did(server, store, deck), store, deck)
        assert len(tips) == 4 * sum(len(r.seqs) for r in runs) and len(wells) == sum(len(r.seqs) for r in runs)
        measured = [e for e in store.experiments(store.campaign("colour-match-ot2").id) if e.location.startswith(deck)]
        assert sorted(e.seq for e in measured) == sorted(s for r in runs for s in r.seqs)
    firsts = [DeckStore(store).runs(deck=deck)[0] for deck in ("ot2-bench-1", "ot2-bench-2")]
    assert max(r.created_at for r in firsts) < min(r.updated_at for r in firsts)  # both robots' first runs were in hand at once


def test_kill_9_during_a_robot_run_then_run_again_collects_it_and_reuses_nothing(ot2_server, tmp_path, opentrons_venv):
    path = campaign_file(tmp_path, "ot2", ot2_server, **{"batch_size: 4": "batch_size: 12", "budget: 16": "budget: 24",
                                                         "initial_design: 8": "initial_design: 12"})
    db = tmp_path / "retort.db"
    proc = run_until_a_robot_run_plays(path, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    store = Store(f"sqlite:///{db}")
    [killed] = DeckStore(store).runs(deck="ot2-bench")
    assert killed.status == "running" and killed.report_json is None
    again = retort("run", str(path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "24 measured, 0 failed, budget 24" in again.stdout  # the killed run's 12 were collected, not lost or repeated
    runs = DeckStore(store).runs(deck="ot2-bench")
    assert [r.status for r in runs] == ["collected", "collected"] and runs[0].robot_run_id == killed.robot_run_id
    tips, wells = assert_no_reuse_and_the_store_matches_the_robot(robot_did(ot2_server, store, "ot2-bench"), store, "ot2-bench")
    assert len(tips) == 24 * 4 and len(wells) == 24


def test_a_deck_whose_pipettes_the_robot_does_not_carry_is_refused_before_anything_is_stored(ot2_server, tmp_path):
    deck = (EXAMPLES / "decks" / "ot2-bench.yaml").read_text().replace(
        "{left: p20_single_gen2, right: p300_single_gen2}", "{left: p300_single_gen2, right: p20_single_gen2}")
    (tmp_path / "swapped.yaml").write_text(deck)
    path = campaign_file(tmp_path, "ot2", ot2_server, **{f"deck: {EXAMPLES}/decks/ot2-bench.yaml": f"deck: {tmp_path}/swapped.yaml"})
    result = retort("run", str(path), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "left mount: the deck says p300_single_gen2" in result.stderr and "nothing was sent to the robot" in result.stderr
    assert not (tmp_path / "retort.db").exists() or Store(f"sqlite:///{tmp_path / 'retort.db'}").campaigns() == []


def test_a_module_on_the_deck_that_the_robot_lacks_is_refused_before_any_tip_or_well_is_reserved(ot2_server, tmp_path):
    deck = (EXAMPLES / "decks" / "ot2-bench.yaml").read_text() + 'modules: {"9": heaterShakerModuleV1}\n'
    (tmp_path / "shaker.yaml").write_text(deck)
    path = campaign_file(tmp_path, "ot2", ot2_server, **{f"deck: {EXAMPLES}/decks/ot2-bench.yaml": f"deck: {tmp_path}/shaker.yaml"})
    for _ in range(2):  # run again: still nothing reserved
        result = retort("run", str(path), cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "slot 9: heaterShakerModuleV1" in result.stderr and "nothing was reserved or sent to the robot" in result.stderr
    store = Store(f"sqlite:///{tmp_path / 'retort.db'}") if (tmp_path / "retort.db").exists() else None
    assert store is None or DeckStore(store).runs(deck="ot2-bench") == []  # no batch reserved, no tip or well marked used


def test_a_robot_that_does_not_answer_is_one_clear_error(tmp_path):
    from retort.orchestrator.flows.server import free_port

    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}"

    result = retort("validate", str(campaign_file(tmp_path, "ot2", Nowhere)), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert Nowhere.url in result.stderr and result.stderr.count("\n") == 1


def wait_until_the_robot_has_started(server, db, count, timeout=120):
    """Wait until the robot run of the store's running lab run has started `count` experiments, as the robot itself
    reports (their ``retort experiment N`` comments ran); returns how many it had started by then."""
    with sqlite3.connect(db, timeout=5) as conn:
        [(robot_run,)] = conn.execute("SELECT robot_run_id FROM lab_run WHERE status = 'running'").fetchall()
    deadline = time.monotonic() + timeout
    with RobotClient(server.url) as client:
        while time.monotonic() < deadline:
            started = sum(1 for c in client.commands(robot_run) if c["commandType"] == "comment"
                          and c["params"].get("message", "").startswith("retort experiment "))
            if started >= count:
                return started
            time.sleep(0.05)
    pytest.fail(f"robot run {robot_run} did not start {count} experiments within {timeout} s")


def test_sigterm_during_a_robot_run_stops_the_robot_and_stores_what_it_did(ot2_server, tmp_path, opentrons_venv):
    path = campaign_file(tmp_path, "ot2", ot2_server, **{"batch_size: 4": "batch_size: 24", "budget: 16": "budget: 24",
                                                         "initial_design: 8": "initial_design: 24"})
    db = tmp_path / "retort.db"
    proc = run_until_a_robot_run_plays(path, tmp_path)
    wait_until_the_robot_has_started(ot2_server, db, 3)  # two done, the third under way, 21 to go
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr.decode()
    store = Store(f"sqlite:///{db}")
    [run] = DeckStore(store).runs(deck="ot2-bench")
    assert run.status == "collected" and run.report_json  # stored before Retort exited
    report = RunReport.model_validate_json(run.report_json)
    robot = httpx.get(f"{ot2_server.url}/runs/{run.robot_run_id}", headers=HEADERS).json()["data"]["status"]
    assert robot == report.status == "stopped"  # the robot was stopped part-way, not left to finish
    outcome = {k: [e.seq for e in report.experiments if e.status == k] for k in ("done", "failed", "not_started")}
    assert len(outcome["done"]) >= 2 and outcome["not_started"], outcome
    stopped = robot_did(ot2_server, store, "ot2-bench")
    assert_no_reuse_and_the_store_matches_the_robot(stopped, store, "ot2-bench", exact=False)
    plan = Plan.model_validate_json(run.plan_json)
    _, tips_before, wells_before, _ = stored_inventory(store, "ot2-bench")
    # what the robot's commands began (a stopped one included) stays used; what the run never reached came back
    assert tips_before == {str(t) for t in report.touched.tips} and wells_before == {f"{plan.plate}:{w}" for w in report.touched.wells}
    never = {e.seq for e in report.experiments if e.status == "not_started"}
    assert not {f"{plan.plate}:{e.well.well}" for e in plan.experiments if e.seq in never} & wells_before
    refill = retort("deck", "refill", str(path), "--tips", cwd=tmp_path)  # new racks: every tip position is fresh again
    assert refill.returncode == 0, refill.stderr
    again = retort("run", str(path), cwd=tmp_path)  # collects: done ones measured, the touched one failed, the rest rerun
    assert again.returncode == 0, again.stderr
    experiments = store.experiments(store.campaign("colour-match-ot2").id)
    assert sorted(e.seq for e in experiments if e.status == "measured") == sorted(outcome["done"] + outcome["not_started"])
    assert [e.seq for e in experiments if e.status == "failed"] == outcome["failed"]
    assert all("interrupted" in e.failure_reason for e in experiments if e.status == "failed")
    rerun = [r for r in robot_did(ot2_server, store, "ot2-bench") if r["lab_run"] != run.id]
    assert rerun and sum(len(r["wells"]) for r in rerun) == len(outcome["not_started"])
    assert_no_reuse_and_the_store_matches_the_robot(rerun, store, "ot2-bench", exact=False)  # tips since the refill
    _, tips_after, wells_after, _ = stored_inventory(store, "ot2-bench")
    assert tips_after == {t for r in rerun for t in r["tips"]}  # the refill forgot the old racks; the rerun used what it took
    rerun_wells = {w for r in rerun for w in r["wells"]}
    assert not rerun_wells & wells_before and wells_after == wells_before | rerun_wells  # same plate: no well twice


def test_a_robot_run_started_from_the_robots_screen_is_collected_not_submitted_again(ot2_server, tmp_path, opentrons_venv):
    from retort.orchestrator import loop
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.labs import LabRequest

    campaign = load_campaign(campaign_file(tmp_path, "ot2", ot2_server))
    store = Store(campaign.store)
    run = loop.open_run(campaign, store=store)
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    run.lab.prepare([LabRequest(seq=e.seq, params=e.params) for e in batch])  # submitted; Retort dies before playing
    [lab_run] = DeckStore(store).runs(deck="ot2-bench")
    headers = {"Opentrons-Version": "3"}
    assert httpx.post(f"{ot2_server.url}/runs/{lab_run.robot_run_id}/actions", headers=headers,
                      json={"data": {"actionType": "play"}}).status_code == 201  # someone presses Start on the robot
    before = {r["id"] for r in httpx.get(f"{ot2_server.url}/runs", headers=headers).json()["data"]}
    again = loop.open_run(campaign, store=Store(campaign.store))
    loop.run_iteration(again, 1)
    assert [e.status for e in again.experiments()] == ["measured"] * 4
    [collected] = DeckStore(store).runs(deck="ot2-bench")
    assert collected.robot_run_id == lab_run.robot_run_id and collected.status == "collected"
    after = {r["id"] for r in httpx.get(f"{ot2_server.url}/runs", headers=headers).json()["data"]}
    assert after == before  # no second run: the robot's own run was collected


@pytest.mark.parametrize("died", ["after creating the run", "before playing it"])
def test_a_robot_run_created_but_never_played_when_retort_died_reuses_nothing_and_leaves_the_robot_free(died, ot2_server, tmp_path, opentrons_venv):
    from retort.orchestrator import loop
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.labs import LabRequest

    path = campaign_file(tmp_path, "ot2", ot2_server, **{"budget: 16": "budget: 8"})
    campaign = load_campaign(path)
    store = Store(campaign.store)
    run = loop.open_run(campaign, store=store)
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    locations = run.lab.prepare([LabRequest(seq=e.seq, params=e.params) for e in batch]).locations  # reserved, analysed, run created
    if died == "before playing it":  # loop.execute's next step; then the process dies before the play request
        store.set_status([e.id for e in batch], "running", location={e.id: locations[e.seq] for e in batch})
    [created] = DeckStore(store).runs(deck="ot2-bench")
    on_robot = httpx.get(f"{ot2_server.url}/runs/{created.robot_run_id}", headers=HEADERS).json()["data"]
    assert created.status == "submitted" and on_robot["status"] == "idle" and on_robot["actions"] == []
    _, reserved_tips, reserved_wells, _ = stored_inventory(store, "ot2-bench")
    again = retort("run", str(path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "8 measured, 0 failed, budget 8" in again.stdout
    with RobotClient(ot2_server.url) as client:
        current = client.current_run()
        assert current is None or current.finished  # the robot is free: no run left idle or running
        first = client.run(created.robot_run_id)
    runs = robot_did(ot2_server, store, "ot2-bench")
    if died == "after creating the run":  # the experiments were still approved: their created run is played, once
        assert first.status == "succeeded" and runs[0]["robot_run"] == created.robot_run_id and len(runs) == 2
        assert set(runs[0]["tips"]) == reserved_tips and set(runs[0]["wells"]) == reserved_wells
        assert_no_reuse_and_the_store_matches_the_robot(runs, store, "ot2-bench")
    else:  # left running: the idle run is stopped, its experiments requeued; it touched nothing, so all it reserved came back
        assert first.status == "stopped" and runs[0]["tips"] == [] and runs[0]["wells"] == []
        assert len(runs[1:]) == 2
        assert_no_reuse_and_the_store_matches_the_robot(runs, store, "ot2-bench")  # the store holds exactly what the robot used
        released = [e for e in DeckStore(store).events("ot2-bench") if e.kind == "released"]
        assert len(released) == 1 and {*released[0].detail["tips"]} == reserved_tips
    experiments = store.experiments(store.campaign("colour-match-ot2").id)
    assert sorted(e.seq for e in experiments if e.status == "measured") == list(range(1, 9))


def test_a_deck_opentrons_refuses_cancels_the_reservation_and_a_reset_deck_then_runs(flex_server, tmp_path, opentrons_venv):
    bad = (EXAMPLES / "decks" / "flex-bench.yaml").read_text() + "modules: {B2: temperature module gen2}\n"
    (tmp_path / "flex-bench.yaml").write_text(bad)
    path = campaign_file(tmp_path, "flex", flex_server, **{f"deck: {EXAMPLES}/decks/flex-bench.yaml": f"deck: {tmp_path}/flex-bench.yaml",
                                                           "budget: 16": "budget: 4", "initial_design: 8": "initial_design: 4"})
    refused = retort("run", str(path), cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "cannot be loaded into slot B2" in refused.stderr and "retort deck reset" in refused.stderr
    store = Store(f"sqlite:///{tmp_path / 'retort.db'}")
    assert {e.status for e in store.experiments(store.campaign("colour-match-flex").id)} == {"approved"}
    assert [r.status for r in DeckStore(store).runs(deck="flex-bench")] == ["cancelled"]
    (tmp_path / "flex-bench.yaml").write_text(bad.replace("modules: {B2: temperature module gen2}\n", ""))  # the module removed
    assert retort("deck", "reset", str(path), cwd=tmp_path).returncode == 0
    done = retort("run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 measured, 0 failed, budget 4" in done.stdout


def test_a_run_failing_at_the_robots_start_three_times_leaves_the_inventory_equal_to_the_robots_commands(tmp_path, opentrons_venv):
    """Retort checks the deck's Temperature Module against GET /modules; then the module is unplugged (the robot comes
    back without it). Every batch now fails at the robot's loadModule, before any tip or liquid moves: three in a row.
    What the store holds as used must be what the robot's own commands used (nothing), not three reservations."""
    from retort.orchestrator import loop
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.errors import LabRunFailed
    from tests.instruments import robot_server

    deck = (EXAMPLES / "decks" / "ot2-bench.yaml").read_text() + 'modules: {"9": temperature module gen2}\n'
    (tmp_path / "tempdeck.yaml").write_text(deck)
    server = robot_server.start("ot2")
    try:
        path = campaign_file(tmp_path, "ot2", server, **{f"deck: {EXAMPLES}/decks/ot2-bench.yaml": f"deck: {tmp_path}/tempdeck.yaml"})
        store = Store(f"sqlite:///{tmp_path / 'retort.db'}")
        run = loop.open_run(load_campaign(path), store=store)  # the robot carries the module: checked and set up
        without = robot_server.sim_config_of("ot2", server.work)
        without["attached_modules"] = {k: v for k, v in without["attached_modules"].items() if k != "tempdeck"}
        (tmp_path / "unplugged.json").write_text(json.dumps(without))
        robot_server.stop(server)
        server = robot_server.start("ot2", port=server.port, sim_config=tmp_path / "unplugged.json")
        for attempt in range(3):
            with pytest.raises(LabRunFailed, match=r"loadModule|[Mm]odule"):
                loop.run_iteration(run, 1)
            assert {e.status for e in run.experiments()} == {"approved"}  # nothing moved: the batch waits to run again
        runs = robot_did(server, store, "ot2-bench")
        assert len(runs) == 3 and all(r["tips"] == [] and r["wells"] == [] and r["drawn"] == {} for r in runs)
        assert_no_reuse_and_the_store_matches_the_robot(runs, store, "ot2-bench", exact=True)  # nothing stored as used
        config, state = DeckStore(store).get("ot2-bench")
        assert state == config.full_state()
        released = [e for e in DeckStore(store).events("ot2-bench") if e.kind == "released"]
        assert len(released) == 3 and all(len(e.detail["tips"]) == 16 and len(e.detail["wells"]) == 4 for e in released)
    finally:
        robot_server.stop(server)

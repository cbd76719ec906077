"""The closed loop through the real Prefect flow on the virtual colour lab, and kill-and-resume via the CLI."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retort.orchestrator.errors import LabError
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.store import Store
from tests.conftest import colour_campaign

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "colour_match.yaml"


def test_closed_loop_through_the_prefect_flow(prefect_harness, tmp_path):
    from retort.orchestrator.flows import campaign_flow

    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    campaign = colour_campaign(budget=12, store=url)
    summary = campaign_flow(campaign)
    assert summary.measured == 12 and summary.failed == 0 and summary.iterations == 3
    store = Store(url)
    record = store.campaign(campaign.name)
    experiments = store.experiments(record.id)
    assert [e.seq for e in experiments] == list(range(1, 13))
    assert [e.location for e in experiments[:2]] == ["plate 1 A1", "plate 1 B1"]
    assert all(len(e.raw()) == 5 and "colour_distance" in e.objectives() for e in experiments)
    bo = [e for e in experiments if e.provenance.planner == "qLogNEI"]
    assert len(bo) == 4 and all(e.provenance.model_version is not None for e in bo)
    versions = store.model_versions(record.id)
    assert len(versions) == 2 and versions[-1].n_train == 8
    assert summary.best_objectives["colour_distance"] == min(e.objectives()["colour_distance"] for e in experiments)


def test_nan_measurement_stops_the_flow_and_keeps_the_data(prefect_harness, tmp_path):
    from retort.orchestrator.flows import campaign_flow

    url = f"sqlite:///{tmp_path / 'nan.db'}"
    lab = colour_campaign().lab.model_copy(update={"nan_readings_at": [6]})
    campaign = colour_campaign(budget=8, store=url, lab=lab)
    with pytest.raises(LabError, match=r"experiment 6 at plate 1 F1: plate_reader returned non-finite values for A430"):
        campaign_flow(campaign)
    store = Store(url)
    experiments = store.experiments(store.campaign(campaign.name).id)
    assert [e.status for e in experiments] == ["measured"] * 5 + ["failed"] + ["measured"] * 2
    summary = campaign_flow(campaign.model_copy(update={"budget": 12}))  # continuing runs past it
    assert summary.measured == 11 and summary.failed == 1


def _count_done(url, name):
    try:
        store = Store(url)
        return sum(e.status in ("measured", "failed") for e in store.experiments(store.campaign(name).id))
    except Exception:
        return 0


def _retort_run(campaign_file, url, tmp_path):
    """The `retort run` command line and environment for a campaign file and store."""
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / ".prefect"), COLUMNS="200")
    return [sys.executable, "-m", "retort.orchestrator.cli", "run", str(campaign_file), "--store", url], env


def _start_retort_run(campaign_file, url, tmp_path, stderr):
    """`retort run` in a session of its own (so that the test can see and stop everything it starts)."""
    command, env = _retort_run(campaign_file, url, tmp_path)
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)


def _wait_until_done(url, name, n, process):
    deadline = time.time() + 300
    while _count_done(url, name) < n and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be stopped"


def test_killing_retort_run_and_running_again_loses_and_repeats_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    campaign_file = tmp_path / "campaign.yaml"
    campaign_file.write_text(EXAMPLE.read_text().replace("budget: 40", "budget: 16").replace("initial_design: 8", "initial_design: 4"))
    first = _start_retort_run(campaign_file, url, tmp_path, subprocess.DEVNULL)
    try:
        _wait_until_done(url, "colour-match", 6, first)
        first.send_signal(signal.SIGKILL)  # only the run itself: no chance to clean up
        first.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
    store = Store(url)
    record = store.campaign("colour-match")
    before = store.experiments(record.id)
    assert 6 <= sum(e.status == "measured" for e in before) < 16
    reported = {s for r in DeckStore(store).runs(record.id) if r.report_json for s in r.seqs}  # the bench's report reached the store

    command, env = _retort_run(campaign_file, url, tmp_path)
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "Report:" in second.stdout
    after = store.experiments(record.id)
    assert len(after) == 16 and [e.seq for e in after] == list(range(1, 17))
    assert sum(e.status in ("measured", "failed") for e in after) == 16
    for e in before:
        if e.status in ("measured", "failed"):
            assert after[e.seq - 1] == e  # stored results are untouched
        elif e.status in ("proposed", "approved"):
            assert after[e.seq - 1].params == e.params and after[e.seq - 1].status == "measured"  # continued, not re-proposed
        elif e.seq in reported:  # killed after its run's report was stored: its well is read, not re-dispensed
            assert after[e.seq - 1].params == e.params and after[e.seq - 1].status == "measured"
            assert after[e.seq - 1].location == e.location
        else:  # on the instruments with no report stored: failed, never re-dispensed
            assert after[e.seq - 1].status == "failed" and "interrupted" in after[e.seq - 1].failure_reason
    locations = [e.location for e in after]
    assert len(set(locations)) == 16  # no well used twice


def test_buchwald_hartwig_grid_through_the_prefect_flow(prefect_harness, tmp_path):
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.flows import campaign_flow

    url = f"sqlite:///{tmp_path / 'bh.db'}"
    campaign = load_campaign(EXAMPLE.parent / "buchwald_hartwig.yaml").model_copy(update={"budget": 10, "store": url})
    summary = campaign_flow(campaign)
    assert summary.measured == 10 and summary.model_versions == 1
    assert 0 < summary.best_objectives["yield"] <= 100


def test_a_nan_reading_through_retort_run_exits_2_naming_the_well_and_keeps_every_reading(tmp_path):
    url = f"sqlite:///{tmp_path / 'nan.db'}"
    campaign_file = tmp_path / "campaign.yaml"
    text = EXAMPLE.read_text().replace("budget: 40", "budget: 4").replace("initial_design: 8", "initial_design: 4")
    campaign_file.write_text(text.replace("reader_noise: 0.005", "reader_noise: 0.005\n  nan_readings_at: [2]"))
    command, env = _retort_run(campaign_file, url, tmp_path)
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stderr
    assert "error: experiment 2 at plate 1 B1: plate_reader returned non-finite values for A430" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "Report:" in result.stdout
    assert result.stderr.count("error: ") == 1  # said once, before the summary, whose title says the run stopped on it
    assert "Campaign colour-match so far (stopped: see the error above)" in " ".join(result.stdout.split())
    store = Store(url)
    experiments = store.experiments(store.campaign("colour-match").id)
    assert [e.status for e in experiments] == ["measured", "failed", "measured", "measured"]
    assert experiments[1].raw() == dict.fromkeys(["A430", "A480", "A520", "A580", "A630"]) and experiments[1].objectives() == {}


@pytest.mark.postgres
def test_a_run_on_postgresql_never_shows_the_password_and_stops_after_the_iterations_asked(tmp_path):
    from tests.conftest import _pg_database

    databases = _pg_database()
    url = next(databases).replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:s3cret@")  # trust auth ignores it
    try:
        command, env = _retort_run(EXAMPLE.parent / "branin.yaml", url, tmp_path)
        result = subprocess.run(command + ["--name", "branin-pg", "--iterations", "1"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        status = subprocess.run(command[:3] + ["status", "--store", url], cwd=tmp_path, env=env, capture_output=True, text=True)
        shown = result.stdout + result.stderr + status.stdout + status.stderr
        assert "s3cret" not in shown and "postgres:***@" in shown
        for record in (tmp_path / ".prefect").glob("prefect.db*"):  # flow-run parameters on Prefect's server
            assert b"s3cret" not in record.read_bytes(), record
        store = Store(url)
        assert [e.status for e in store.experiments(store.campaign("branin-pg").id)] == ["measured", "measured"]  # one batch of 2
    finally:
        next(databases, None)


def test_a_pareto_campaign_through_retort_run_lists_its_front_and_plots_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'lnp.db'}"
    campaign_file = tmp_path / "campaign.yaml"
    text = (EXAMPLE.parent / "lnp3_pareto.yaml").read_text().replace("budget: 40", "budget: 8").replace("initial_design: 8", "initial_design: 4")
    campaign_file.write_text(text + "outcome_constraints: [{name: particle_diameter, op: '<=', value: 400}]\n")
    command, env = _retort_run(campaign_file, url, tmp_path)
    result = subprocess.run(command + ["--report", str(tmp_path / "lnp.png")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr + result.stdout and "best drug_loading" not in result.stdout
    assert "particle_diameter <= 400" in result.stdout
    store = Store(url)
    experiments = store.experiments(store.campaign("lnp3-pareto").id)
    assert [e.provenance.planner for e in experiments] == ["levels design"] * 4 + ["qLogNEHVI"] * 4
    assert all(set(e.provenance.predicted) == {"drug_loading", "encap_efficiency", "particle_diameter"} for e in experiments[4:])
    from retort.orchestrator.campaign import load_campaign
    from retort.orchestrator.campaign.results import pareto_front

    front = pareto_front(load_campaign(campaign_file), experiments)
    assert front and all(e.objectives()["particle_diameter"] <= 400 for e in front)
    assert ", ".join(f"#{e.seq}" for e in front) in result.stdout
    assert (tmp_path / "lnp.png").stat().st_size > 10_000

"""The operator UI in a real browser (Debian's chromium, driven by Playwright by path), as an operator meets it:
`retort users add`, then `retort ui`; the operator signs in, starts a campaign by uploading its file (a file with
mistakes first), approves, edits and rejects its proposals while it waits, and reads the campaign page and the audit
trail. The campaign runs in a `retort run` process of its own, sharing only the store with the UI."""

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from retort.orchestrator.store.leases import holder_of
from retort.orchestrator.flows.server import free_port
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign

pytestmark = pytest.mark.slow


def retort(tmp_path, *args, stdin=None, background=False):
    env = os.environ | {"RETORT_LOG_DIR": str(tmp_path / "logs"), "RETORT_DECISION_POLL": "0.2", "PREFECT_HOME": str(tmp_path / ".prefect")}
    command = [sys.executable, "-m", "retort.orchestrator.cli", *args]
    if background:
        return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(command, cwd=tmp_path, input=stdin, capture_output=True, text=True, env=env, timeout=300)


def serving(ui, port: int) -> str:
    """The UI's address, once `retort ui` (the process `ui`) answers on `port` (within a minute)."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/login").status_code == 200:
                return base
        except httpx.TransportError:
            assert time.monotonic() < deadline and ui.poll() is None, ui.communicate()
            time.sleep(0.2)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert os.path.exists(path), "Debian's chromium is missing: bash scripts/install-browser.sh"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_an_operator_drives_a_campaign_with_approval_required_from_the_browser(tmp_path, browser):
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = branin_campaign(approval="required", budget=5, initial_design=2, store=url)
    (tmp_path / "c.yaml").write_text(campaign.model_dump_json())
    added = retort(tmp_path, "users", "add", "olga", "--role", "operator", "--store", url, stdin="olga-password\n")
    assert added.returncode == 0, added.stderr
    admin = retort(tmp_path, "users", "add", "ada", "--role", "admin", "--store", url, stdin="ada-password\n")
    assert admin.returncode == 0, admin.stderr
    port = free_port()
    ui = retort(tmp_path, "ui", "--store", url, "--port", str(port), background=True)
    (tmp_path / "bad.yaml").write_text(campaign.model_dump_json().replace(f'"budget":{campaign.budget}', '"budget":-4'))
    (tmp_path / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (tmp_path / "leak.yaml").write_text("name: leak\nparameters: [{name: x, type: categorical, values: [a]}]\nbudget: 1\nbatch_size: 1\n"
                                        f"objectives: [{{name: y, goal: maximize}}]\nlab: {{kind: dataset_lookup, path: '{tmp_path / 'shadow'}', output: y}}\n")
    try:
        base = serving(ui, port)
        context = browser.new_context()  # one session for the pages opened below
        page = context.new_page()
        page.goto(f"{base}/approvals")
        assert page.url.startswith(f"{base}/login")  # a session first
        page.fill("input[name=name]", "olga")
        page.fill("input[name=password]", "olga-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/approvals")
        page.click("text=New campaign")
        page.set_input_files("input[type=file]", str(tmp_path / "bad.yaml"))
        page.click("text=Check and start")
        assert "budget: Input should be greater than or equal to 1" in page.locator("[role=alert]").inner_text()
        page.set_input_files("input[type=file]", str(tmp_path / "leak.yaml"))  # a server file named by an upload
        page.click("text=Check and start")
        refusal = page.locator("[role=alert]").inner_text()
        assert "is not a file of this server's data folder" in refusal and "root:" not in page.content()
        page.set_input_files("input[type=file]", str(tmp_path / "c.yaml"))
        page.click("text=Check and start")
        page.wait_for_url(f"{base}/campaigns/branin-test?**")
        assert "branin-test started by olga" in page.locator("[role=status]").inner_text()
        watcher = context.new_page()  # left open on the campaign page, never reloaded: its script keeps all of it current
        watcher.goto(page.url)
        page.goto(f"{base}/approvals")

        def proposal(seq):
            for _ in range(300):  # the run proposes once Prefect is up
                page.reload()
                if page.locator(f"#proposal-branin-test-{seq}").count():
                    return page.locator(f"#proposal-branin-test-{seq}")
                time.sleep(0.2)
            raise AssertionError(f"experiment {seq} was never proposed: {list((tmp_path / 'retort-ui' / 'logs').glob('*.log'))}")

        proposal(1).locator("button[value=edit]").click()  # "Approve with these values", nothing changed: a plain approval
        expect(page.locator("[role=status]")).to_contain_text("branin-test: experiment 1 approved by olga")  # retried until the page shows it
        page.goto(f"{base}/campaigns/branin-test")  # stop the run from its page, then continue it from there
        page.locator("form.controls button[value=stop]").click()
        expect(page.locator("[role=status]")).to_contain_text("branin-test stopped: the run ends once what is on the instruments is done by olga")
        expect(page.locator(".summary")).to_contain_text("idle: no process runs it", timeout=120_000)  # the page refreshes itself
        expect(page.locator(".summary")).to_contain_text("press Continue above")
        assert "Run log branin-test-" in page.locator(".summary").inner_text()  # the stopped run's last lines
        page.reload()
        page.locator("form.controls button[value=continue]").click()
        expect(page.locator("[role=status]")).to_contain_text("branin-test continued by olga")
        expect(page.locator(".summary")).to_contain_text("running on", timeout=120_000)
        page.goto(f"{base}/approvals")
        second = proposal(2)
        second.locator("input[name='v.x1']").fill("99")  # outside the space: refused, at the field's proposal
        second.locator("button[value=edit]").click()
        expect(page.locator("[role=alert]")).to_contain_text("experiment 2: parameter 'x1': value 99.0 is outside its domain")
        typed = page.locator("#proposal-branin-test-2 input[name='v.x1']")  # the form drawn again as typed, the reason beside it
        expect(typed).to_have_value("99")
        expect(typed).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#why-2-x1")).to_contain_text("outside its domain")
        typed.fill("2.5")
        typed.press("Enter")  # Enter decides nothing, and keeps what was typed
        expect(page.locator("[role=alert]")).to_contain_text("pressing Enter decides nothing")
        expect(page.locator("#proposal-branin-test-2 input[name='v.x1']")).to_have_value("2.5")
        page.locator("#proposal-branin-test-2 button[value=edit]").click()
        expect(page.locator("[role=status]")).to_contain_text("experiment 2 edited and approved by olga")  # the page before said 1 approved

        page.locator("summary", has_text="Add an experiment of your own").click()  # refused: it stays open, as typed
        add = page.locator("details", has_text="Add an experiment of your own").locator("form")
        add.locator("input[name='v.x1']").fill("-7")
        add.locator("input[name='v.x2']").fill("3")
        add.locator("button[value=add]").click()
        expect(page.locator("[role=alert]")).to_contain_text("parameter 'x1'")
        add = page.locator("details[open]", has_text="Add an experiment of your own").locator("form")
        expect(add.locator("input[name='v.x1']")).to_have_value("-7")
        expect(add.locator("input[name='v.x2']")).to_have_value("3")
        expect(add.locator("input[name='v.x1']")).to_have_attribute("aria-invalid", "true")
        third = proposal(3)  # the next batch, proposed once 1 and 2 are measured
        third.locator("input[name=reason]").fill("too close to the last one")
        third.locator("button[value=reject]").click()
        expect(page.locator("[role=status]")).to_contain_text("branin-test: experiment 3 rejected by olga")
        proposal(4).locator("button[value=approve]").click()
        expect(page.locator("[role=status]")).to_contain_text("branin-test: experiment 4 approved by olga")
        proposal(6)  # the last batch (the rejected one's place included), both at once
        page.locator("form.bulk button", has_text="Approve all 2 as proposed").click()
        expect(page.locator("[role=status]")).to_contain_text("branin-test: experiments 5, 6 approved by olga")
        store = Store(url)
        record = store.campaign("branin-test")
        deadline = time.monotonic() + 300
        while holder_of(store, record.id) is not None or store.status_counts(record.id).get("measured", 0) < 5:
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.5)
        logs = sorted((tmp_path / "retort-ui" / "logs").glob("branin-test-*.log"))
        assert len(logs) == 2 and "5 measured, 0 failed, budget 5" in logs[-1].read_text()  # the continued run took it to its budget

        expect(watcher.locator("#live-table tr.measured")).to_have_count(5, timeout=15_000)
        expect(watcher.locator("#live-table tr.rejected")).to_have_count(1)
        expect(watcher.locator(".summary")).to_contain_text("5 of 5")
        assert watcher.locator("#live-top h2", has_text="Model versions").count() == 1
        page.goto(f"{base}/campaigns/branin-test")
        assert page.locator("svg.plot").count() == 3 and "5 of 5" in page.locator(".summary").inner_text()
        best_plot = page.locator("svg.plot").first  # Branin is minimised: the best so far in its own units, not minus them
        expect(best_plot).to_contain_text("best so far: y (lower is better")
        assert all(float(t) >= 0 for t in best_plot.locator("text.tick").all_text_contents() if t.strip())
        assert "nothing measured yet" not in page.content()
        page.screenshot(path=str(tmp_path / "campaign.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen, the header holds its text
        for path in ("/", "/approvals", "/audit", "/new", "/campaigns/branin-test"):
            page.goto(f"{base}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
            header, who = page.locator("header").bounding_box(), page.locator("header .who span").bounding_box()
            assert who["x"] + who["width"] <= 390 and who["y"] + who["height"] <= header["y"] + header["height"], path
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/audit")
        rows = page.locator("tbody tr").all_inner_texts()
        assert [r.split("\t")[3:5] for r in rows] == [["approve", "olga"]] * 3 + [["reject", "olga"], ["edit", "olga"],
                                                       ["continue", "olga"], ["resume", "olga"], ["stop", "olga"], ["approve", "olga"],
                                                       ["start", "olga"]]
        assert [e.status for e in store.experiments(record.id)] == ["measured"] * 2 + ["rejected"] + ["measured"] * 3
        page.select_option("select[name=action]", "approve")  # the audit filtered, and exported as filtered
        page.click("form.filters button[type=submit]")
        expect(page.locator("tbody tr")).to_have_count(4)
        exported = page.request.get(f"{base}/audit.csv?action=reject").text().splitlines()
        assert len(exported) == 2 and ",reject,olga,too close to the last one," in exported[1]
        missing = page.goto(f"{base}/campaigns/no-such-campaign")
        assert missing.status == 404 and "lab.db" not in page.content()

        clocked = browser.new_context().new_page()  # a clock of its own (a context's pages share one): 7 h 56 min on, it warns
        clocked.clock.install()
        clocked.goto(f"{base}/login")
        clocked.fill("input[name=name]", "olga")
        clocked.fill("input[name=password]", "olga-password")
        clocked.click("button[type=submit]")
        clocked.wait_for_url(f"{base}/")
        expect(clocked.locator("#session-warning")).to_have_count(0)
        clocked.clock.fast_forward("07:56:00")
        expect(clocked.locator("#session-warning")).to_contain_text("Your session ends at")

        page.goto(f"{base}/approvals")  # olga types a result by hand; meanwhile her session ends (an admin ends it)
        page.locator("summary", has_text="Record a result measured by hand").click()
        record_form = page.locator("form[action='/campaigns/branin-test/record']")
        record_form.locator("input[name=seq]").fill("5")
        record_form.locator("input[name='m.y']").fill("1.25")
        admin = browser.new_context().new_page()
        admin.goto(f"{base}/login")
        admin.fill("input[name=name]", "ada")
        admin.fill("input[name=password]", "ada-password")
        admin.click("button[type=submit]")
        admin.goto(f"{base}/users")
        admin.locator("tr", has_text="olga").locator("button[value=revoke]").click()
        expect(admin.locator("[role=status]")).to_contain_text("sessions of olga ended")
        record_form.locator("button[type=submit]").click()  # posted after her session ended: nothing taken, the form kept
        page.wait_for_url(f"{base}/login**")
        assert "your last decision was not taken" in page.content()
        page.fill("input[name=name]", "olga")
        page.fill("input[name=password]", "olga-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/approvals")
        expect(page.locator("[role=alert]").first).to_contain_text("your session had expired before this reached the server")
        expect(record_form.locator("input[name='m.y']")).to_have_value("1.25")  # drawn again as typed, to submit again
        expect(record_form.locator("input[name=seq]")).to_have_value("5")
        admin.locator("tr", has_text="olga").locator("button[value=disable]").click()  # her open session ends at once
        expect(admin.locator("[role=status]")).to_contain_text("olga is disabled")
        expect(admin.locator("tbody tr", has_text="sign in").first).to_be_visible()  # sign-ins are kept with the changes
        page.goto(f"{base}/approvals")
        assert page.url.startswith(f"{base}/login")
        ui.terminate()
        _, said = ui.communicate(timeout=60)
        assert ("warning: the UI runs as root" in said) == (os.geteuid() == 0), said  # this machine's tests run as root
    finally:
        stop_runs(url)
        if ui.poll() is None:
            ui.terminate()
            ui.communicate(timeout=60)


def stop_runs(url):
    """End a run the UI started, should the test fail before it finishes (it lives in a session of its own)."""
    import signal

    try:
        store = Store(url)
        lease = holder_of(store, store.campaign("branin-test").id)
    except Exception:  # no campaign: nothing was started
        return
    if lease is not None:
        os.kill(lease.pid, signal.SIGTERM)

"""The operator UI over HTTP (in process): sign-in, roles, CSRF, forged and stale requests, the pages, decisions
and imports. The browser meets the same routes in test_browser.py."""

import re
from pathlib import Path
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from retort.orchestrator import loop
from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.store import Store
from retort.orchestrator.store.tables import SessionRow
from retort.orchestrator.ui.app import create_app
from retort.orchestrator.ui.pages import show
from retort.orchestrator.store.users import Users
from tests.conftest import branin_campaign

BASE = "http://127.0.0.1:8765"


def alert(response):
    found = re.search(r'role="alert">([^<]+)<', response.text)
    return found.group(1).replace("&#39;", "'") if found else response.text[:300]


def csrf_of(response):
    return re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)


@pytest.fixture
def lab(tmp_path):
    """A store with a Branin campaign asking for approval, two proposals waiting, and three users."""
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = branin_campaign(approval="required", store=url)
    run = loop.open_run(campaign, store=Store(url))
    loop.propose(run, 1, None, 2)
    users = Users(run.store)
    for name, role in (("olga", "operator"), ("vic", "viewer"), ("ada", "admin")):
        users.add(name, role, f"{name}-password")
    return url, run


def signed_in(url, name, **app_args):
    client = TestClient(create_app(url, **app_args), base_url=BASE)
    form = client.get("/login")
    response = client.post("/login", data={"name": name, "password": f"{name}-password", "csrf": csrf_of(form), "next": "/approvals"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/approvals"
    return client


def test_every_page_needs_a_session_and_sign_in_returns_where_you_were_going(lab):
    url, _ = lab
    client = TestClient(create_app(url), base_url=BASE)
    for path in ("/", "/campaigns/branin-test", "/approvals", "/audit", "/campaigns/branin-test/experiments.csv"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path
    assert client.get("/api/inbox").status_code == 401
    assert client.get("/static/ui.css").status_code == 200
    form = client.get("/login")
    wrong = client.post("/login", data={"name": "olga", "password": "nope", "csrf": csrf_of(form), "next": "/audit"})
    assert wrong.status_code == 401 and alert(wrong) == "wrong name or password"
    right = client.post("/login", data={"name": "olga", "password": "olga-password", "csrf": csrf_of(wrong), "next": "//evil.example/x"},
                        follow_redirects=False)
    assert right.headers["location"] == "/"  # never sent to another site
    assert "HttpOnly" in right.headers["set-cookie"] and "SameSite=strict" in right.headers["set-cookie"]
    assert f"Max-Age={8 * 3600 + 86400}" in right.headers["set-cookie"]  # outlives the session: a late request is told it expired


def test_failed_sign_ins_are_limited(lab):
    url, _ = lab
    client = TestClient(create_app(url), base_url=BASE)
    response = client.get("/login")
    for _ in range(5):
        response = client.post("/login", data={"name": "olga", "password": "guess", "csrf": csrf_of(response)})
        assert response.status_code == 401
    response = client.post("/login", data={"name": "olga", "password": "olga-password", "csrf": csrf_of(response)})
    assert response.status_code == 429 and "too many failed sign-ins; try again in 10 min" in alert(response)


def test_a_forged_cross_site_or_stale_request_changes_nothing(lab):
    url, run = lab
    client = signed_in(url, "olga")
    token = csrf_of(client.get("/approvals"))
    forged = client.post("/campaigns/branin-test/decide", data={"csrf": "guess", "seq": "1", "action": "approve"})
    assert forged.status_code == 403 and "CSRF token does not match" in alert(forged)
    cross = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "approve"},
                        headers={"origin": "http://evil.example"})
    assert cross.status_code == 403 and "a request from http://evil.example was refused" in alert(cross)
    login_csrf = TestClient(create_app(url), base_url=BASE).post("/login", data={"name": "olga", "password": "olga-password", "csrf": "x"})
    assert login_csrf.status_code == 403 and "sign-in form is stale" in alert(login_csrf)
    assert [e.status for e in run.experiments()] == ["proposed", "proposed"]
    with run.store.session("expire") as s:  # the session runs out
        for row in s.exec(__import__("sqlmodel").select(SessionRow)):
            row.expires_at = row.expires_at - timedelta(hours=9)
            s.add(row)
        s.commit()
    stale = client.post("/campaigns/branin-test/control", data={"csrf": token, "action": "pause"}, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == "/login?next=/&why=expired"
    assert "your session has expired; sign in again" in client.get(stale.headers["location"]).text
    late = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "edit", "v.x1": "0.5", "v.x2": "7",
                                                             "reason": "late"}, follow_redirects=False)  # a decision: kept
    assert late.status_code == 303 and late.headers["location"] == "/login?next=/approvals&why=kept"
    assert [e.status for e in run.experiments()] == ["proposed", "proposed"] and loop.control(run) == "run"
    assert client.get("/campaigns/branin-test/live").status_code == 401  # the page's script stops and says so
    form = client.get(late.headers["location"])
    assert "your last decision was not taken" in form.text
    again = client.post("/login", data={"name": "olga", "password": "olga-password", "csrf": csrf_of(form), "next": "/approvals"})
    assert "your session had expired before this reached the server, so nothing was decided" in alert(again)
    shown = again.text[again.text.index('id="proposal-branin-test-1"'):]
    assert 'name="v.x1" value="0.5"' in shown and 'name="v.x2" value="7"' in shown and 'value="late"' in shown
    assert "your session had expired" not in client.get("/approvals").text  # shown once
    client.cookies.set("retort_kept", "eyJjYW1wYWlnbiI6IngifQ.0000")
    assert "your session had expired" not in client.get("/approvals").text  # only what this server signed
    spoofed = client.get("/login?why=The UI moved to evil.example")
    assert "evil.example" not in spoofed.text


def test_a_viewer_sees_but_cannot_decide(lab):
    url, run = lab
    client = signed_in(url, "vic")
    inbox = client.get("/approvals")
    assert inbox.status_code == 200 and "Experiment 1" in inbox.text and 'value="approve"' not in inbox.text
    refused = client.post("/campaigns/branin-test/decide", data={"csrf": csrf_of(inbox), "seq": "1", "action": "approve"})
    assert refused.status_code == 403 and "vic is a viewer: only operators and admins decide" in alert(refused)
    assert run.experiments()[0].status == "proposed"


def test_an_operator_approves_edits_rejects_and_adds_and_the_audit_page_shows_who(lab):
    url, run = lab
    client = signed_in(url, "olga")
    token = csrf_of(client.get("/approvals"))
    bad = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "2", "action": "edit", "v.x1": "99", "v.x2": "1"})
    assert bad.status_code == 400 and alert(bad) == "branin-test: experiment 2: parameter 'x1': value 99.0 is outside its domain"
    no_reason = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "2", "action": "reject"})
    assert no_reason.status_code == 400 and "a rejection needs a reason" in alert(no_reason)
    enter = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "", "reason": "unsafe"})
    assert enter.status_code == 400 and "pressing Enter decides nothing" in alert(enter)
    typed = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "approve", "v.x1": "0.5",
                                                               "v.x2": f"{run.experiments()[0].params['x2']:.6g}"})
    assert typed.status_code == 400 and "experiment 1: you changed x1; press 'Approve with these values'" in alert(typed)
    huge = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "9" * 30, "action": "approve"})
    assert huge.status_code == 400 and "which experiment?" in alert(huge)
    proposed = run.experiments()[0]
    shown = {f"v.{k}": show(v, full=True) for k, v in proposed.params.items()}  # "Approve with these values", nothing changed
    done = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "edit"} | shown)
    assert done.status_code == 200 and "branin-test: experiment 1 approved by olga" in done.text
    approved = run.experiments()[0]
    assert approved.params == proposed.params and approved.provenance == proposed.provenance  # not rounded, not "edited"
    assert "approved by mallory" not in client.get("/approvals?done=x: experiment 1 approved by mallory&sig=0").text  # unsigned: not shown
    client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "2", "action": "edit", "v.x1": "2.5", "v.x2": "3", "reason": "known"})
    client.post("/campaigns/branin-test/decide", data={"csrf": token, "action": "add", "v.x1": "1", "v.x2": "1", "reason": "control"})
    again = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "reject", "reason": "late"})
    assert again.status_code == 400 and "experiment 1 is already approved (approve by olga at" in alert(again)
    assert [(e.status, e.params) for e in run.experiments()][1:] == [("approved", {"x1": 2.5, "x2": 3.0}), ("approved", {"x1": 1.0, "x2": 1.0})]
    audit = client.get("/audit")
    assert audit.status_code == 200 and audit.text.count("<td>olga</td>") == 3
    assert [e.actor for e in DecisionStore(run.store).events(run.record.id)] == ["olga"] * 3


def test_the_campaign_page_shows_figures_models_and_a_sortable_filtered_table_and_exports_csv(lab):
    url, run = lab
    campaign = run.campaign.model_copy(update={"approval": branin_campaign().approval})  # auto, to run it
    auto = loop.open_run(campaign, store=run.store)
    loop.approve(auto, auto.experiments())
    while loop.remaining(auto) > 0:
        loop.run_iteration(auto, loop.next_iteration(auto))
    client = signed_in(url, "vic")
    page = client.get("/campaigns/branin-test?sort=objective:y&status=measured")
    assert page.status_code == 200 and page.text.count("<svg") == 3  # best so far, y against iteration, predicted against measured
    ys = [float(v) for v in re.findall(r'<tr class="measured">(?:\s*<td>[^<]*</td>){5}\s*<td>([^<]+)</td>', page.text)]
    assert len(ys) == 8 and ys == sorted(ys)
    assert "Best so far: experiment" in page.text and "Model versions" in page.text
    best_plot = page.text[page.text.index("<svg"):page.text.index("</svg>")]  # Branin is minimised: its values, not minus them
    assert "best so far: y (lower is better" in best_plot and "best y" in best_plot
    assert all(float(t) >= 0 for t in re.findall(r'class="tick" text-anchor="end">([^<]+)<', best_plot))
    live = client.get("/campaigns/branin-test/live?sort=objective:y&status=measured")  # what the page's script swaps in
    assert live.status_code == 200 and "<html" not in live.text and live.text.count("<svg") == 3
    assert 'id="live-top" data-part' in live.text and 'id="live-table" data-part' in live.text and "Model versions" in live.text
    live_ys = [float(v) for v in re.findall(r'<tr class="measured">(?:\s*<td>[^<]*</td>){5}\s*<td>([^<]+)</td>', live.text)]
    assert live_ys == ys  # the same rows, filter and order as the page
    assert 'data-live="/campaigns/branin-test/live?status=measured&amp;sort=objective%3Ay&amp;desc=false&amp;page_no=1"' in page.text
    csv = client.get("/campaigns/branin-test/experiments.csv?status=measured")
    assert csv.headers["content-type"].startswith("text/csv") and len(csv.text.strip().splitlines()) == 9
    missing = client.get("/campaigns/no-such")
    assert missing.status_code == 404 and "no campaign 'no-such' here" in alert(missing) and "sqlite" not in missing.text
    overview = client.get("/")
    assert "branin-test" in overview.text and "8 / 8" in overview.text


def test_measurements_imported_from_the_page_are_checked_and_stored(lab, tmp_path):
    url, run = lab
    client = signed_in(url, "olga")
    token = csrf_of(client.get("/approvals"))
    bad = client.post("/campaigns/branin-test/import", data={"csrf": token}, files={"file": ("old.csv", b"x1,x2,y\n1,2,nan\n", "text/csv")})
    assert bad.status_code == 400 and "old.csv row 2, column 'y': 'nan' is not a finite number" in alert(bad)
    odd = client.post("/campaigns/branin-test/import", data={"csrf": token}, files={"file": ("..", b"\xff\xfe", "text/csv")})
    assert odd.status_code == 400 and alert(odd) == "upload.csv: not a UTF-8 text file"
    anonymous = TestClient(create_app(url), base_url=BASE).post("/campaigns/branin-test/import", files={"file": ("a.csv", b"x", "text/csv")},
                                                                follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")  # the session before the body
    good = client.post("/campaigns/branin-test/import", data={"csrf": token}, files={"file": ("old.csv", b"x1,x2,y\n1,2,20\n3,4,5\n", "text/csv")})
    assert good.status_code == 200 and "imported 2 measurements from old.csv" in good.text
    assert [e.provenance.planner for e in run.experiments()][-2:] == ["import", "import"]


def test_an_operator_pauses_resumes_and_stops_from_the_campaign_page_and_a_viewer_cannot(lab):
    url, run = lab
    viewer = signed_in(url, "vic")
    page = viewer.get("/campaigns/branin-test")
    assert 'value="pause"' not in page.text
    refused = viewer.post("/campaigns/branin-test/control", data={"csrf": csrf_of(page), "action": "pause"})
    assert refused.status_code == 403
    operator = signed_in(url, "olga")
    token = csrf_of(operator.get("/campaigns/branin-test"))
    paused = operator.post("/campaigns/branin-test/control", data={"csrf": token, "action": "pause", "reason": "deck"})
    assert paused.status_code == 200 and "branin-test paused: no new work is handed out by olga" in paused.text
    assert "paused by an operator" in paused.text and 'value="continue"' in paused.text  # nothing runs it: resuming alone would not
    assert 'value="resume"' not in paused.text
    from retort.orchestrator.store.leases import hold

    with hold(run.store, run.record.id, "branin-test"):  # a process holds it, paused: Resume is what it needs
        held = operator.get("/campaigns/branin-test").text
        assert 'value="resume"' in held and 'value="continue"' not in held
    twice = operator.post("/campaigns/branin-test/control", data={"csrf": token, "action": "pause"})
    assert twice.status_code == 400 and "it is paused already" in alert(twice)
    operator.post("/campaigns/branin-test/control", data={"csrf": token, "action": "stop"})
    assert loop.control(run) == "stopped"
    assert [e.action for e in DecisionStore(run.store).events(run.record.id)][:2] == ["stop", "pause"]


def test_users_are_added_from_the_command_line_with_a_password_on_stdin(tmp_path):
    from tests.orchestrator.test_cli import retort

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    added = retort("users", "add", "olga", "--role", "operator", "--store", url, cwd=tmp_path, stdin="a-long-password\n")
    assert added.returncode == 0 and "added operator 'olga'" in added.stdout
    again = retort("users", "add", "olga", "--role", "viewer", "--store", url, cwd=tmp_path, stdin="another-password\n")
    assert again.returncode == 2 and again.stderr == "error: user 'olga' exists already\n"
    short = retort("users", "add", "vic", "--role", "viewer", "--store", url, cwd=tmp_path, stdin="short\n")
    assert short.returncode == 2 and "too short: at least 8 characters" in short.stderr
    role = retort("users", "add", "vic", "--role", "boss", "--store", url, cwd=tmp_path, stdin="a-long-password\n")
    assert role.returncode == 2 and role.stderr == "error: role 'boss': choose one of viewer, operator, admin\n"
    listed = retort("users", "list", "--store", url, cwd=tmp_path)
    assert listed.stdout.splitlines()[0].startswith("olga  operator")
    stored = Users(Store(url))
    assert stored.authenticate("olga", "a-long-password").role == "operator" and stored.authenticate("olga", "wrong") is None


def test_an_uploaded_campaign_file_with_mistakes_is_refused_naming_each_field_and_nothing_is_stored(lab, tmp_path):
    url, run = lab
    client = signed_in(url, "olga")
    token = csrf_of(client.get("/new"))
    text = (b"name: new-one\nparameters:\n  - {name: x1, type: continuous, lower: 5, upper: 1}\n"
            b"objectives: [{name: y, goal: minimize}]\nbudget: 4\nbatch: 2\nlab: {kind: virtual_analytic, function: branin}\n")
    bad = client.post("/new", data={"csrf": token}, files={"file": ("mine.yaml", text, "application/yaml")})
    assert bad.status_code == 400
    problems = re.findall(r"<li><code>([^<]+)</code>: ([^<]+)</li>", bad.text)
    assert ("parameters[0] (&#39;x1&#39;)", "lower bound 5.0 must be finite and below upper bound 1.0") in problems
    assert ("batch", "unknown key (check its spelling; unknown keys are not ignored)") in problems
    assert "mine.yaml: invalid campaign" in bad.text and ".upload-" not in bad.text
    taken = client.post("/new", data={"csrf": token}, files={"file": ("b.yaml", run.campaign.model_dump_json().encode(), "application/yaml")})
    assert taken.status_code == 400 and "a campaign named &#39;branin-test&#39; is stored already" in taken.text
    viewer = signed_in(url, "vic")
    refused = viewer.post("/new", data={"csrf": csrf_of(viewer.get("/new"))}, files={"file": ("mine.yaml", text, "application/yaml")})
    assert refused.status_code == 403
    assert [c.name for c in Store(url).campaigns()] == ["branin-test"]


def test_sign_in_attempts_sent_at_once_cannot_pass_the_limit_and_are_limited_per_account_and_per_address():
    from retort.orchestrator.ui.security import ACCOUNT_FAILURES, ADDRESS_FAILURES, LoginLimiter, keys_for

    limiter = LoginLimiter()
    keys = keys_for("1.2.3.4", "olga")
    assert [limiter.attempt(*keys) == 0 for _ in range(7)] == [True] * 5 + [False] * 2  # counted before the password is checked
    assert limiter.attempt(*keys_for("1.2.3.4", "vic")) == 0  # a shared bench PC: one person's typos lock no one else
    other = LoginLimiter()
    for _ in range(4):
        other.attempt(*keys_for("a", "x"))
    other.attempt(*keys_for("a", "vic"))
    other.forgive(*keys_for("a", "vic"))  # a success forgives its own attempt only
    assert other.attempt(*keys_for("a", "x")) == 0 and other.attempt(*keys_for("a", "x")) > 0
    spread = LoginLimiter()  # one account guessed from many addresses (or through a proxy)
    assert [spread.attempt(*keys_for(f"10.0.0.{i}", "olga")) == 0 for i in range(ACCOUNT_FAILURES + 1)] == [True] * ACCOUNT_FAILURES + [False]
    many = LoginLimiter()  # many accounts guessed from one address
    assert [many.attempt(*keys_for("b", f"user{i}")) == 0 for i in range(ADDRESS_FAILURES + 1)] == [True] * ADDRESS_FAILURES + [False]


def test_pages_show_mixtures_and_a_campaign_whose_stored_settings_broke(tmp_path):
    from retort.agents.proposal import Proposal, Provenance
    from retort.orchestrator.campaign import Campaign

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    store = Store(url)
    mix = Campaign.model_validate({  # pages read the stored campaign; no lab is built for them
        "name": "mix", "budget": 4, "batch_size": 2, "initial_design": 2, "approval": "required", "store": url,
        "parameters": [{"name": "solvent", "type": "mixture", "components": ["water", "ethanol"]}],
        "objectives": [{"name": "y", "goal": "maximize"}], "lab": {"kind": "virtual_analytic", "function": "branin"}})
    record = store.open_campaign("mix", mix.config_json())
    first, second = store.add_proposals(record.id, 1, [Proposal(params={"solvent": {"water": 0.75, "ethanol": 0.25}},
                                                                provenance=Provenance(planner="sobol")) for _ in range(2)])
    store.set_status([first.id], "approved")
    store.set_status([first.id], "running")
    store.record_result(first.id, {"y": 1.0}, {"y": 1.0}, {}, "test", 1.0)
    store.open_campaign("broken", '{"name": "broken"}')
    Users(store).add("olga", "operator", "olga-password")
    client = signed_in(url, "olga")
    page = client.get("/campaigns/mix")
    assert page.status_code == 200 and "solvent=water=0.75, ethanol=0.25" in page.text
    inbox = client.get("/approvals")
    assert inbox.status_code == 200
    assert 'value="{&#34;water&#34;: 0.75, &#34;ethanol&#34;: 0.25}"' in inbox.text  # JSON, quoted inside the attribute
    approved = client.post("/campaigns/mix/decide", data={"csrf": csrf_of(inbox), "seq": "2", "action": "approve",  # the form as shown
                                                           "v.solvent": '{"water": 0.75, "ethanol": 0.25}'})
    assert approved.status_code == 200 and "mix: experiment 2 approved by olga" in approved.text
    overview = client.get("/")
    assert overview.status_code == 200 and "mix" in overview.text and "campaign &#39;broken&#39;: its stored configuration is refused by this release of Retort" in overview.text


def test_a_result_measured_by_hand_is_entered_from_the_approvals_page(lab):
    url, run = lab
    client = signed_in(url, "olga")
    token = csrf_of(client.get("/approvals"))
    bad = client.post("/campaigns/branin-test/record", data={"csrf": token, "seq": "1", "m.y": "high"})
    assert bad.status_code == 400 and "experiment 1, y: 'high' is not a number" in alert(bad)
    good = client.post("/campaigns/branin-test/record", data={"csrf": token, "seq": "1", "m.y": "3.5", "reason": "bench"})
    assert good.status_code == 200 and "branin-test: experiment 1 measured by hand, entered by olga" in good.text
    assert run.experiments(seqs=[1])[0].objectives() == {"y": 3.5}


def test_a_colour_campaign_page_shows_what_is_left_on_its_deck(tmp_path):
    from tests.conftest import colour_campaign

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = colour_campaign(store=url)
    run = loop.open_run(campaign, store=Store(url))
    loop.run_iteration(run, 1)
    Users(run.store).add("vic", "viewer", "vic-password")
    page = signed_in(url, "vic").get("/campaigns/colour-match")
    assert page.status_code == 200
    deck = run.lab.deck.name
    assert f"Deck {deck}" in page.text and "tips, slot" in page.text and "free wells, next" in page.text
    assert re.search(r"<td>plate 1 \(slot \d+\)</td><td>92 free wells, next ", page.text)  # a batch of 4 used 4 wells


def test_an_uploaded_campaign_reads_files_only_from_the_data_folder_and_no_error_shows_a_files_content(lab, tmp_path):
    """An operator's upload naming a server file (an absolute path, '..', a link out of the data folder) is refused
    before the file is opened, with one message whether or not it exists; nothing of it reaches the page."""
    from retort.orchestrator.ui.starting import check_upload

    url, _ = lab
    secret = tmp_path / "shadow"
    secret.write_text("root:*:19000:0:99999:7:::\nolga:$y$j9T$secret:19000\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "grid.csv").write_text("ligand,y\na,1.0\nb,2.0\n")
    (data / "out.csv").symlink_to(secret)
    client = signed_in(url, "olga", data_dir=data)
    token = csrf_of(client.get("/new"))

    def upload(path):
        text = ("name: leak\nparameters: [{name: ligand, type: categorical, values: [a, b]}]\nobjectives: [{name: y, goal: maximize}]\n"
                f"budget: 2\nbatch_size: 1\nlab: {{kind: dataset_lookup, path: '{path}', output: y}}\n").encode()
        return client.post("/new", data={"csrf": token}, files={"file": ("leak.yaml", text, "application/yaml")})

    messages = set()
    for path in (secret, tmp_path / "no-such-file", "../shadow", "out.csv", "~/.bashrc"):
        refused = upload(path)
        assert refused.status_code == 400, path
        assert "root:" not in refused.text and "secret" not in refused.text and "No such file" not in refused.text, path
        problems = re.search(r'<ul class="problems">(.*?)</ul>', refused.text, re.S).group(1)
        messages.add(re.sub(r"&#39;.*?&#39; is not a file", "PATH is not a file", problems, count=1))
    assert messages == {"<li><code>lab.path</code>: PATH is not a file of this server&#39;s data folder; an uploaded campaign names its "
                        "files relative to that folder (&#39;retort ui --data-dir&#39;), and only files inside it are read</li>"}
    assert [c.name for c in Store(url).campaigns()] == ["branin-test"]
    text = (b"name: fine\nparameters: [{name: ligand, type: categorical, values: [a, b]}]\nobjectives: [{name: y, goal: maximize}]\n"
            b"budget: 2\nbatch_size: 1\nlab: {kind: dataset_lookup, path: grid.csv, output: y}\n")
    campaign, kept = check_upload(Store(url), "fine.yaml", text, data)  # a file inside the data folder is read
    assert campaign.lab.path == str(data / "grid.csv") and str(data / "grid.csv") in kept.read_text()


def test_the_approvals_page_shows_each_proposals_chance_and_says_when_the_model_rules_it_out(lab):
    from sqlmodel import select

    from retort.agents.proposal import Provenance
    from retort.orchestrator.store.tables import ExperimentRow

    url, run = lab
    chances = {1: Provenance(planner="qLogNEI", acquisition_value=-1.5, improvement_probability=0.42, ruled_out=False),
               2: Provenance(planner="qLogNEI", acquisition_value=-9.0, improvement_probability=0.0, ruled_out=True,
                             note="the model rules out improving on what is measured here")}
    with run.store.session("setting the proposals' provenance") as s:
        for row in s.exec(select(ExperimentRow)).all():
            row.provenance_json = chances[row.seq].model_dump_json()
            s.add(row)
        s.commit()
    page = signed_in(url, "olga").get("/approvals").text
    assert "chance to beat the best measured 42 %" in page and "chance to beat the best measured 0 %" in page
    assert page.count("the model rules out improving on what is measured here") == 1


def test_the_prediction_panel_says_why_it_is_empty(tmp_path):
    """Measured experiments that no model proposed (the initial design) are not "nothing measured"."""
    from retort.orchestrator.ui import pages

    url = f"sqlite:///{tmp_path / 'design.db'}"
    campaign = branin_campaign(store=url)
    campaign = campaign.model_copy(update={"budget": campaign.initial_design})
    run = loop.open_run(campaign, store=Store(url))
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    svgs = pages.figures(campaign, pages.lines(run.store, run.record, campaign))
    n = campaign.initial_design
    assert f"none of the {n} measured experiments was proposed by a model yet" in svgs[2] and "nothing measured yet" not in "".join(svgs)


def test_a_refused_form_comes_back_as_typed_with_the_reason_beside_the_field(lab):
    url, run = lab
    client = signed_in(url, "olga")
    token = csrf_of(client.get("/approvals"))
    bad = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "2", "action": "edit", "v.x1": "99", "v.x2": "1.5",
                                                             "reason": "try the edge"})
    assert bad.status_code == 400
    form = bad.text[bad.text.index('id="proposal-branin-test-2"'):]
    assert re.search(r'name="v.x1" value="99" aria-invalid="true"', form) and 'name="v.x2" value="1.5"' in form
    assert 'value="try the edge"' in form and "parameter &#39;x1&#39;: value 99.0 is outside its domain" in form
    enter = client.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "", "v.x1": "0.25", "v.x2": "2"})
    assert enter.status_code == 400 and "pressing Enter decides nothing" in alert(enter)  # the approvals page, not a bare error
    assert 'name="v.x1" value="0.25"' in enter.text[enter.text.index('id="proposal-branin-test-1"'):]
    add = client.post("/campaigns/branin-test/decide", data={"csrf": token, "action": "add", "v.x1": "1", "v.x2": "-4", "reason": "control"})
    assert add.status_code == 400 and "<details open>\n  <summary>Add an experiment of your own" in add.text
    assert 'name="v.x2" required value="-4" aria-invalid="true"' in add.text and 'value="control"' in add.text
    record = client.post("/campaigns/branin-test/record", data={"csrf": token, "seq": "1", "m.y": "nan", "reason": "bench"})
    assert record.status_code == 400 and "<details open>\n  <summary>Record a result measured by hand" in record.text
    assert 'name="m.y" value="nan"' in record.text and 'name="seq" inputmode="numeric" required value="1"' in record.text
    assert [e.status for e in run.experiments()] == ["proposed", "proposed"]


def test_continue_is_refused_while_a_process_runs_the_campaign_or_when_its_budget_is_spent(lab):
    from retort.orchestrator.store.leases import hold

    url, run = lab
    client = signed_in(url, "olga")
    page = client.get("/campaigns/branin-test")
    assert "idle: no process runs it" in page.text and 'value="continue"' in page.text and "press Continue above" in page.text
    token = csrf_of(page)
    with hold(run.store, run.record.id, "branin-test"):  # this process drives it
        busy = client.post("/campaigns/branin-test/control", data={"csrf": token, "action": "continue"})
        assert busy.status_code == 400 and "branin-test is running already" in alert(busy) and "nothing was started" in alert(busy)
        assert re.search(r"running on \S+ \(pid \d+; alive \d+ s ago\)", client.get("/campaigns/branin-test").text)  # a second on a loaded machine
    auto = loop.open_run(run.campaign.model_copy(update={"approval": branin_campaign().approval}), store=run.store)
    loop.approve(auto, auto.experiments())
    while loop.remaining(auto) > 0:
        loop.run_iteration(auto, loop.next_iteration(auto))
    spent = client.post("/campaigns/branin-test/control", data={"csrf": token, "action": "continue"})
    assert spent.status_code == 400 and "has spent its budget (8)" in alert(spent)
    assert not (Path(run.store.file).parent / "retort-ui" / "logs").exists()  # nothing was started
    assert [e.action for e in DecisionStore(run.store).events(run.record.id, action="continue")] == []


def test_the_audit_is_filtered_by_campaign_person_action_and_time_and_exported_as_csv(lab):
    import csv
    import io

    url, run = lab
    olga, ada = signed_in(url, "olga"), signed_in(url, "ada")
    token = csrf_of(olga.get("/approvals"))
    olga.post("/campaigns/branin-test/decide", data={"csrf": token, "seq": "1", "action": "approve"})
    ada.post("/campaigns/branin-test/decide", data={"csrf": csrf_of(ada.get("/approvals")), "seq": "2", "action": "reject", "reason": "dup"})
    olga.post("/campaigns/branin-test/control", data={"csrf": token, "action": "pause", "reason": "deck"})
    everything = olga.get("/audit")
    assert everything.text.count("<td>olga</td>") == 2 and everything.text.count("<td>ada</td>") == 1
    mine = olga.get("/audit?actor=olga&action=approve")
    assert mine.text.count("<td>olga</td>") == 1 and "<td>ada</td>" not in mine.text and "<td>pause</td>" not in mine.text
    today = DecisionStore(run.store).events(run.record.id)[0].created_at.strftime("%Y-%m-%d")
    assert olga.get(f"/audit?since={today}&until={today}").text.count("<td>branin-test</td>") == 3
    assert "<td>branin-test</td>" not in olga.get("/audit?until=2000-01-01").text
    assert "<td>branin-test</td>" not in olga.get("/audit?campaign=other").text
    bad = olga.get("/audit?since=yesterday")
    assert bad.status_code == 400 and "audit filter: 'yesterday' is not a date" in alert(bad)
    exported = olga.get("/audit.csv?actor=ada")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["campaign"], r["experiment"], r["action"], r["who"], r["reason"]) for r in rows] == [("branin-test", "2", "reject", "ada", "dup")]
    assert 'href="/audit.csv?actor=olga&amp;action=approve"' in mine.text


def test_an_operator_approves_every_listed_proposal_at_once_and_nothing_unseen(lab):
    url, run = lab
    client = signed_in(url, "olga")
    inbox = client.get("/approvals")
    assert "Approve all 2 as proposed" in inbox.text
    token = csrf_of(inbox)
    loop.propose(run, 2, None, 1)  # a third proposal arrives after the page was drawn
    stale = client.post("/campaigns/branin-test/approve-all", data={"csrf": token, "seq": ["1", "2", "9"]})
    assert stale.status_code == 400 and "there is no experiment 9" in alert(stale) and "nothing was approved" in alert(stale)
    assert [e.status for e in run.experiments()] == ["proposed"] * 3
    done = client.post("/campaigns/branin-test/approve-all", data={"csrf": token, "seq": ["1", "2"]})
    assert done.status_code == 200 and "branin-test: experiments 1, 2 approved by olga" in done.text
    assert [e.status for e in run.experiments()] == ["approved", "approved", "proposed"]  # the unseen one waits
    viewer = signed_in(url, "vic")
    refused = viewer.post("/campaigns/branin-test/approve-all", data={"csrf": csrf_of(viewer.get("/approvals")), "seq": ["3"]})
    assert refused.status_code == 403 and run.experiments()[2].status == "proposed"


def test_an_admin_manages_users_from_the_page_and_every_change_and_sign_in_is_kept(lab):
    url, run = lab
    ada, olga = signed_in(url, "ada"), signed_in(url, "olga")
    assert olga.get("/users").status_code == 403 and 'href="/users"' not in olga.get("/").text
    page = ada.get("/users")
    assert page.status_code == 200 and "<td>olga</td>" in page.text and 'href="/users"' in page.text
    token = csrf_of(page)

    def act(name, action, **more):
        return ada.post(f"/users/{name}", data={"csrf": token, "action": action, **more})

    assert "olga is disabled" in act("olga", "disable").text
    assert olga.get("/approvals", follow_redirects=False).headers["location"].endswith("why=expired")  # her session ended
    form = TestClient(create_app(url), base_url=BASE).get("/login")
    refused = TestClient(create_app(url), base_url=BASE)
    refused.cookies.set("retort_login", form.cookies.get("retort_login"))
    assert refused.post("/login", data={"name": "olga", "password": "olga-password", "csrf": form.cookies.get("retort_login")}).status_code == 401
    act("olga", "enable")
    olga = signed_in(url, "olga")
    assert "olga is now viewer" in act("olga", "role", role="viewer").text
    denied = olga.post("/campaigns/branin-test/decide", data={"csrf": csrf_of(olga.get("/approvals")), "seq": "1", "action": "approve"})
    assert denied.status_code == 403 and "olga is a viewer" in alert(denied)
    short = act("olga", "reset-password", password="short")
    assert short.status_code == 400 and "too short" in alert(short)
    assert "olga&#39;s password is reset" in act("olga", "reset-password", password="a-new-long-one").text
    assert olga.get("/approvals", follow_redirects=False).status_code == 303  # sessions ended with the old password
    unsure = act("vic", "remove")
    assert unsure.status_code == 400 and "tick 'sure' first" in alert(unsure)
    assert "vic is removed" in act("vic", "remove", sure="yes").text
    myself = act("ada", "disable")
    assert myself.status_code == 400 and "does not disable themself" in alert(myself)
    events = ada.get("/users").text
    for action in ("sign in", "sign in refused", "disable", "enable", "role", "reset password", "remove"):
        assert f"<td>{action}</td>" in events, action
    assert "<td>testclient</td>" in events and "viewer -&gt; " not in events and "operator -&gt; viewer" in events
    from retort.orchestrator.store.users import Users

    assert [(u.name, u.role, u.disabled) for u in Users(Store(url)).all()] == [("ada", "admin", False), ("olga", "viewer", False)]


def test_users_are_administered_from_the_command_line_and_the_last_admin_stays(lab, tmp_path):
    from tests.orchestrator.test_cli import retort

    url, _ = lab
    disabled = retort("users", "disable", "olga", "--store", url, cwd=tmp_path)
    assert disabled.returncode == 0 and "olga is disabled" in disabled.stdout
    assert "olga  operator" in (listing := retort("users", "list", "--store", url, cwd=tmp_path).stdout) and "DISABLED" in listing
    last = retort("users", "role", "ada", "viewer", "--store", url, cwd=tmp_path)
    assert last.returncode == 2 and "'ada' is the last admin who can sign in" in last.stderr and "Traceback" not in last.stderr
    unknown = retort("users", "revoke", "nobody", "--store", url, cwd=tmp_path)
    assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr
    reset = retort("users", "reset-password", "olga", "--by", "ada", "--store", url, cwd=tmp_path, stdin="another-password\n")
    assert reset.returncode == 0 and "olga's password is reset" in reset.stdout
    events = retort("users", "events", "olga", "--store", url, cwd=tmp_path).stdout.splitlines()
    assert [line.split("  ")[1:4] for line in events] == [["reset password", "olga", "by ada"], ["disable", "olga", "by the command line"]]


def test_in_deployment_mode_the_driver_names_prefect_or_says_it_did_not_answer(monkeypatch):
    """With PREFECT_API_URL in the UI's environment the campaign page asks Prefect which flow run drives the campaign
    (tests/test_deployment.py checks it against a real server); a server that does not answer is said so, in 2 s."""
    from retort.orchestrator.flows.server import free_port
    from retort.orchestrator.ui.pages import prefect_flow_run

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert prefect_flow_run("demo") == ""
    api = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", api)
    assert prefect_flow_run("demo") == f" · the Prefect server at {api} did not answer"

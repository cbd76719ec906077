"""The UI's routes: sign-in, campaigns, a campaign's page, the approvals inbox, decisions, controls, imports, starting
a campaign, the audit trail.

Routes that change something check the session (the cookie alone) before reading the request's body, refuse a
body larger than they take, and run the store's work in a worker thread (the server answers others meanwhile).
Messages shown after a redirect are signed by the server (`flash`), so a link cannot put words on its pages.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from retort.orchestrator.decisions.approvals import Decision, decide
from retort.orchestrator.campaign import StoredConfigError
from retort.orchestrator.errors import DecisionError
from retort.orchestrator.campaign.export import to_csv
from retort.orchestrator.ui import pages
from retort.orchestrator.ui.render import page
from retort.orchestrator.ui.security import (COOKIE, COOKIE_GRACE, KEPT_COOKIE, LOGIN_COOKIE, Forbidden, check_origin, client, cookie_args,
                                             current, deciding, flash, keys_for, kept, new_token, read_flash)

router = APIRouter()
FORM_BYTES = 200_000
UPLOAD_BYTES = 20_000_000
MAX_SEQ = 2**31 - 1
WHY = {"expired": "your session has expired; sign in again",
       "kept": "your session had expired, so your last decision was not taken; sign in and it is shown again as you typed it"}


# -- signing in ----------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/", why: str = ""):
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}", token):  # another tab's form stays valid: the token is kept
        token = new_token()
    response = page(request, "login.html", None, next=_local(next), why=WHY.get(why, ""), csrf=token, error="")
    response.set_cookie(LOGIN_COOKIE, token, **cookie_args(request, max_age=3600))
    return response


@router.post("/login")
def login(request: Request, name: str = Form("", max_length=200), password: str = Form("", max_length=1000), csrf: str = Form(""),
          next: str = Form("/")):
    check_origin(request)
    if not csrf or csrf != request.cookies.get(LOGIN_COOKIE):
        raise Forbidden("the sign-in form is stale or was not sent by Retort's own page; reload it and sign in again")
    name = name.strip()
    if not name or len(name) > 64:
        return _login_again(request, next, "wrong name or password", 401)
    limiter = request.app.state.limiter
    keys = keys_for(client(request), name)
    wait = limiter.attempt(*keys)
    if wait > 0:
        return _login_again(request, next, f"too many failed sign-ins; try again in {int(wait // 60) + 1} min", 429)
    user = request.app.state.users.authenticate(name, password, client(request))
    if user is None:
        return _login_again(request, next, "wrong name or password", 401)
    limiter.forgive(*keys)
    token, _ = request.app.state.users.open_session(user, request.app.state.session_hours)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(COOKIE, token, **cookie_args(request, max_age=int(request.app.state.session_hours * 3600) + COOKIE_GRACE))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _login_again(request: Request, next: str, error: str, status: int):
    token = request.cookies.get(LOGIN_COOKIE) or new_token()
    response = page(request, "login.html", None, status, next=_local(next), why="", csrf=token, error=error)
    response.set_cookie(LOGIN_COOKIE, token, **cookie_args(request, max_age=3600))
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")):
    session = current(request)
    check_origin(request)
    import secrets

    if not secrets.compare_digest(csrf, session.csrf):
        raise Forbidden("the sign-out form is stale; reload the page")
    request.app.state.users.close_session(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path of this site is a place to go after signing in (never another site)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


# -- reading -------------------------------------------------------------------------------
@router.get("/")
def campaigns(request: Request):
    session = current(request)
    return page(request, "campaigns.html", session, campaigns=pages.overview(request.app.state.store))


@router.get("/campaigns/{name}")
def campaign(request: Request, name: str, status: str = "", sort: str = "seq", desc: bool = False, page_no: int = 1,
             done: str = "", sig: str = ""):
    session = current(request)
    return page(request, "campaign.html", session, **_campaign_view(request, name, status, sort, desc, page_no),
                done=read_flash(request, done, sig), statuses=("proposed", "approved", "running", "measured", "failed", "rejected"))


@router.get("/campaigns/{name}/live")
def live(request: Request, name: str, status: str = "", sort: str = "seq", desc: bool = False, page_no: int = 1):
    """Everything the campaign page shows from the store, for its script to swap in every few seconds (the same
    filter, sort and page)."""
    session = current(request)
    return page(request, "live.html", session, nav=False, **_campaign_view(request, name, status, sort, desc, page_no))


def _campaign_view(request: Request, name: str, status: str, sort: str, desc: bool, page_no: int) -> dict:
    store = request.app.state.store
    record, config = pages.load(store, name)
    experiments = pages.lines(store, record, config)
    models = store.model_versions(record.id)
    table = pages.table(store, record.id, experiments, status, sort, desc, page_no)

    def query(n: int) -> str:
        return "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in (("status", status), ("sort", sort), ("desc", str(desc).lower()),
                                                                          ("page_no", n)))

    from retort.orchestrator.ui.starting import log_tail

    log_name, log_lines = log_tail(store, name)
    generated = pages.generated(store, record, config)
    return dict(name=name, campaign=config, generated=generated, summary=pages.summary(store, record, config, experiments), figures=pages.figures(config, experiments),
                log_name=log_name, log_lines=log_lines,
                models=models[-20:][::-1], n_models=len(models), table=table, decks=pages.decks(store, config),
                paging={n: query(n) for n in (table["page"] - 1, table["page"] + 1)}, query=query(table["page"]),
                status=status, sort=sort, desc=desc)


@router.get("/campaigns/{name}/experiments.csv")
def export(request: Request, name: str, status: str = ""):
    current(request)
    store = request.app.state.store
    record = store.campaign(name)
    try:
        _, campaign = pages.load(store, name)
    except StoredConfigError:  # its data are exported all the same, without what needs the configuration
        campaign = None
    experiments = store.experiments(record.id, statuses=(status,) if status else None)  # best and front: measured ones only
    return PlainTextResponse(to_csv(experiments, campaign), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{quote(name)}-experiments.csv"'})


@router.get("/approvals")
def approvals(request: Request, done: str = "", sig: str = ""):
    session = current(request)
    again = kept(request)  # a decision posted after its session expired: drawn again as typed, to submit again
    typed, error = None, ""
    if again and isinstance(again.get("fields"), dict) and again.get("route") in ("decide", "record"):
        error = (f"{again.get('campaign', '')}: your session had expired before this reached the server, so nothing was decided. "
                 "It is shown below as you typed it: submit it again")
        typed = pages.Typed.of(str(again.get("campaign", "")), again["route"], {str(k): str(v) for k, v in again["fields"].items()}, error)
    response = page(request, "approvals.html", session, campaigns=pages.waiting(request.app.state.store), done=read_flash(request, done, sig),
                    error=error, typed=typed)
    if request.cookies.get(KEPT_COOKIE):
        response.delete_cookie(KEPT_COOKIE, path="/")
    return response


@router.get("/audit")
def audit(request: Request, chosen: Annotated[pages.AuditFilter, Query()]):
    session = current(request)
    store = request.app.state.store
    return page(request, "audit.html", session, events=pages.audit(store, chosen), chosen=chosen,
                campaigns=[c.name for c in store.campaigns()])


@router.get("/audit.csv")
def audit_csv(request: Request, chosen: Annotated[pages.AuditFilter, Query()]):
    """Every audit event the filter keeps (no limit), as CSV."""
    import csv
    import io
    import json

    current(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["when_utc", "campaign", "experiment", "action", "who", "reason", "proposed", "decided"])
    for x in pages.audit(request.app.state.store, chosen, limit=None):
        a = x["event"]
        writer.writerow([a.created_at.strftime("%Y-%m-%d %H:%M:%S"), x["campaign"], "" if a.seq is None else a.seq, a.action, a.actor,
                         a.reason, json.dumps(a.before), json.dumps(a.after)])
    return PlainTextResponse(out.getvalue(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


@router.get("/new")
def new_campaign(request: Request):
    session = current(request)
    return page(request, "new.html", session, problems=[], text="")


@router.get("/api/inbox")
def inbox(request: Request):
    current(request)
    return JSONResponse({"waiting": pages.inbox_count(request.app.state.store)})


# -- changing ------------------------------------------------------------------------------
async def _form(request: Request, limit: int):
    """The session (checked first, from the cookie alone) and the request's form, refused above `limit` bytes."""
    current(request)
    size = request.headers.get("content-length")
    if size is None or not size.isdigit() or int(size) > limit:
        raise DecisionError(f"the request is larger than this form takes ({limit // 1000:,} kB) or does not say its size; nothing was changed")
    form = await request.form(max_part_size=limit)
    return deciding(request, str(form.get("csrf", ""))), form


@router.post("/campaigns/{name}/decide")
async def decide_one(request: Request, name: str):
    session, form = await _form(request, FORM_BYTES)
    store = request.app.state.store
    record, config = pages.load(store, name)
    action = str(form.get("action", ""))
    try:
        if action not in ("approve", "reject", "edit", "add"):
            raise DecisionError("choose Approve, Approve with these values, or Reject (pressing Enter decides nothing); nothing was changed")
        values = _fields(form, "v.")
        seq: Optional[int] = None if action == "add" else _seq(form, action)
        changed = _changed(store, record.id, seq, values) if action in ("edit", "approve") and seq is not None and values else []  # a rejection ignores the form
        if action == "edit" and values and not changed:
            action, values = "approve", {}  # "Approve with these values" with nothing changed is a plain approval: nothing rounded
        if action == "approve" and changed:  # Approve runs the proposal as proposed: values typed into its form are not lost silently
            raise DecisionError(f"experiment {seq}: you changed {', '.join(changed)}; press 'Approve with these values' to run your "
                                "values, or reload the page to approve it as proposed. Nothing was changed")
        decision = Decision(action=action, seq=seq, values=values if action in ("edit", "add") else {}, reason=str(form.get("reason", ""))[:2000],
                            forbid=str(form.get("forbid", ""))[:500] if action == "reject" else "")
        labs = await run_in_threadpool(_labs, request, config, store) if action in ("edit", "add") else {}  # the lab's limits
        done = await run_in_threadpool(decide, config, store, record.id, labs, [decision], session.user.name)
    except DecisionError as exc:
        return _refused(request, session, name, config, exc, "decide", form)
    what = {"approve": "approved", "reject": "rejected", "edit": "edited and approved", "add": "added"}[action]
    forbidden = f"; substructure {decision.forbid.strip()} forbidden from now on" if decision.forbid.strip() else ""
    return RedirectResponse("/approvals" + flash(request, f"{name}: experiment {done[0].seq} {what} by {session.user.name}{forbidden}"),
                            status_code=303)


@router.post("/campaigns/{name}/approve-all")
async def approve_all(request: Request, name: str):
    """Approve, as proposed, the proposals the operator's page listed (their numbers come with the form: one that
    arrived since is not approved unseen). All or nothing: one that cannot be approved any more refuses the lot."""
    session, form = await _form(request, FORM_BYTES)
    store = request.app.state.store
    record, config = pages.load(store, name)
    seqs = form.getlist("seq")
    if not seqs or len(seqs) > 10_000 or not all(str(q).isdigit() and 1 <= int(q) <= MAX_SEQ for q in seqs):
        raise DecisionError(f"{name}: approve all: which experiments? (got {len(seqs)} numbers); nothing was changed")
    decisions = [Decision(action="approve", seq=int(q), reason=str(form.get("reason", ""))[:2000]) for q in seqs]
    try:
        done = await run_in_threadpool(decide, config, store, record.id, {}, decisions, session.user.name)
    except DecisionError as exc:
        return page(request, "approvals.html", session, 400, campaigns=pages.waiting(store), done="", error=f"{name}: {exc}; nothing was approved")
    numbers = ", ".join(str(e.seq) for e in done)
    return RedirectResponse("/approvals" + flash(request, f"{name}: experiments {numbers} approved by {session.user.name}"), status_code=303)


def _refused(request: Request, session, name: str, config, exc: Exception, route: str, form):
    """The approvals page again, with the form refused at `route` as it was typed (its details opened) and the reason
    beside the field it names (`pages.Typed`)."""
    typed = pages.Typed.of(name, route, form, str(exc), pages.fields_named(str(exc), config))
    return page(request, "approvals.html", session, 400, campaigns=pages.waiting(request.app.state.store), done="",
                error=f"{name}: {exc}", typed=typed)


def _seq(form, action: str) -> int:
    """The form's experiment number, refused unless a whole number the store can hold."""
    text = str(form.get("seq", ""))
    if not text.isdigit() or not 1 <= int(text) <= MAX_SEQ:
        raise DecisionError(f"{action}: which experiment? (got {text!r})")
    return int(text)


def _fields(form, prefix: str) -> dict[str, str]:
    """The form's non-empty fields named PREFIX+NAME, by NAME."""
    return {k[len(prefix):]: str(v).strip() for k, v in form.items() if k.startswith(prefix) and str(v).strip() != ""}


def _changed(store, campaign_id: int, seq: int, values: dict[str, str]) -> list[str]:
    """The fields whose typed text differs from the proposal's value as its form shows it, or that it has no such
    parameter (all, if there is no such experiment: the decision then says so)."""
    from retort.orchestrator.ui.pages import show

    (e,) = store.experiments(campaign_id, seqs=[seq]) or [None]
    if e is None:
        return list(values)
    return [k for k, v in values.items() if k not in e.params or v != show(e.params[k], full=True)]


@router.post("/campaigns/{name}/record")
async def record(request: Request, name: str):
    session, form = await _form(request, FORM_BYTES)
    from retort.orchestrator.decisions.approvals import record_by_hand

    store = request.app.state.store
    record_, config = pages.load(store, name)
    try:
        seq, values = _seq(form, "record"), _fields(form, "m.")
        e = await run_in_threadpool(record_by_hand, config, store, record_.id, seq, values, session.user.name,
                                    str(form.get("reason", ""))[:2000])
    except DecisionError as exc:
        return _refused(request, session, name, config, exc, "record", form)
    return RedirectResponse("/approvals" + flash(request, f"{name}: experiment {e.seq} measured by hand, entered by {session.user.name}"),
                            status_code=303)


@router.post("/campaigns/{name}/control")
async def control(request: Request, name: str):
    session, form = await _form(request, FORM_BYTES)
    from retort.orchestrator.store.decisions import CONTROL_DONE, DecisionStore
    from retort.orchestrator.errors import StoreError

    store = request.app.state.store
    record, _ = pages.load(store, name)
    action = str(form.get("action", ""))
    if action not in ("pause", "resume", "stop", "continue"):
        raise DecisionError(f"unknown control {action!r}: pause, resume, stop or continue")
    if action == "continue":  # a process of its own runs the campaign from where it stands
        from retort.orchestrator.errors import CampaignError
        from retort.orchestrator.ui.starting import continue_run

        try:
            log = await run_in_threadpool(continue_run, store, name, session.user.name, str(form.get("reason", ""))[:2000])
        except CampaignError as exc:
            raise DecisionError(str(exc)) from None
        message = f"{name} continued by {session.user.name}: a retort run process of its own runs it (log {log.name})"
        return RedirectResponse(f"/campaigns/{quote(name, safe='')}" + flash(request, message), status_code=303)
    try:
        state = DecisionStore(store).set_control(record.id, action, session.user.name, str(form.get("reason", ""))[:2000])
    except StoreError as exc:
        raise DecisionError(f"{name}: {exc}") from None
    return RedirectResponse(f"/campaigns/{quote(name, safe='')}" + flash(request, f"{name} {CONTROL_DONE[state]} by {session.user.name}"), status_code=303)


@router.post("/campaigns/{name}/import")
async def import_csv(request: Request, name: str):
    session, form = await _form(request, UPLOAD_BYTES)
    from retort.orchestrator.decisions.importing import import_file

    store = request.app.state.store
    record, config = pages.load(store, name)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise DecisionError("choose a CSV file to import")
    shown = _file_name(upload.filename, "upload.csv")
    data = await upload.read()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(data)
        seqs = await run_in_threadpool(import_file, config, store, record.id, path, session.user.name, f"{shown} (uploaded)", shown)
    message = f"imported {len(seqs)} measurements from {shown} (experiments {seqs[0]}-{seqs[-1]})"
    return RedirectResponse(f"/campaigns/{quote(name, safe='')}" + flash(request, message), status_code=303)


@router.get("/users")
def users_page(request: Request, done: str = "", sig: str = ""):
    session = _admin(current(request))
    users = request.app.state.users
    return page(request, "users.html", session, users=users.all(), events=users.events(limit=200), done=read_flash(request, done, sig), error="")


@router.post("/users/{name}")
async def administer_user(request: Request, name: str):
    from retort.orchestrator.store.users import UserError, administer

    session, form = await _form(request, FORM_BYTES)
    _admin(session)
    users = request.app.state.users
    action = str(form.get("action", ""))
    try:
        if action == "remove" and form.get("sure") != "yes":
            raise UserError(f"remove {name}: tick 'sure' first; nothing was changed")
        if name == session.user.name and action in ("disable", "remove", "role"):
            raise UserError(f"{name}: an admin does not {action} themself here; ask another admin. Nothing was changed")
        done = await run_in_threadpool(administer, users, action, name, session.user.name, role=str(form.get("role", "")),
                                       password=str(form.get("password", "")))
    except UserError as exc:
        return page(request, "users.html", session, 400, users=users.all(), events=users.events(limit=200), done="", error=str(exc))
    return RedirectResponse("/users" + flash(request, f"{done} (by {session.user.name})"), status_code=303)


def _admin(session):
    if session.user.role != "admin":
        raise Forbidden(f"{session.user.name} is a {session.user.role}: only admins manage users. Nothing was changed")
    return session


@router.post("/new")
async def start_campaign(request: Request):
    from retort.orchestrator.errors import CampaignError
    from retort.orchestrator.ui.starting import MAX_UPLOAD, check_upload, start

    session, form = await _form(request, MAX_UPLOAD + FORM_BYTES)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise DecisionError("choose a campaign file to upload")
    store = request.app.state.store
    data = await upload.read()
    try:
        campaign, path = await run_in_threadpool(check_upload, store, _file_name(upload.filename, "campaign.yaml"), data,
                                                  request.app.state.data_dir)
    except CampaignError as exc:
        lines = str(exc).splitlines()
        problems = [line.strip()[2:] for line in lines[1:] if line.strip().startswith("- ")] or [str(exc)]
        return page(request, "new.html", session, 400, problems=[p.split(": ", 1) if ": " in p else ["", p] for p in problems],
                    heading=lines[0], text=data.decode("utf-8", "replace")[:MAX_UPLOAD])
    await run_in_threadpool(start, store, path, campaign, session.user.name)
    message = f"{campaign.name} started by {session.user.name}: a retort run process of its own runs it (its log is in {path.parent.parent / 'logs'})"
    return RedirectResponse(f"/campaigns/{quote(campaign.name, safe='')}" + flash(request, message), status_code=303)


def _file_name(name: Optional[str], default: str) -> str:
    """The uploaded file's name as shown in messages: its last part, printable, at most 100 characters."""
    shown = "".join(c for c in Path(name or "").name if c.isprintable())[:100]
    return shown if shown not in ("", ".", "..") else default


def _labs(request: Request, config, store):
    """The campaign's instruments, built once per configuration (an edit or an add is checked against their limits)."""
    from retort.orchestrator.labs.build import build_labs

    key = config.config_json()
    cache = request.app.state.labs
    if key not in cache:
        cache[key] = build_labs(config, store)
    return cache[key]

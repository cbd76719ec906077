"""The UI's routes: sign-in, campaigns, a campaign's page, the approvals inbox, decisions, imports, the audit trail."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from retort.orchestrator.approvals import Decision, decide
from retort.orchestrator.errors import DecisionError
from retort.orchestrator.export import to_csv
from retort.orchestrator.ui import pages
from retort.orchestrator.ui.app import page
from retort.orchestrator.ui.security import (COOKIE, LOGIN_COOKIE, client, cookie_args, current, deciding, new_token,
                                             check_origin, Forbidden)

router = APIRouter()


# -- signing in ----------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/", why: str = ""):
    token = new_token()
    response = page(request, "login.html", None, next=_local(next), why=why, csrf=token, error="")
    response.set_cookie(LOGIN_COOKIE, token, **cookie_args(request, max_age=3600))
    return response


@router.post("/login")
def login(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form(""), next: str = Form("/")):
    check_origin(request)
    if not csrf or csrf != request.cookies.get(LOGIN_COOKIE):
        raise Forbidden("the sign-in form is stale or was not sent by Retort's own page; reload it and sign in again")
    limiter = request.app.state.limiter
    keys = (f"name:{name.strip()}", f"client:{client(request)}")
    wait = limiter.wait_left(*keys)
    if wait > 0:
        return _login_again(request, next, f"too many failed sign-ins; try again in {int(wait // 60) + 1} min", 429)
    user = request.app.state.users.authenticate(name, password)
    if user is None:
        limiter.failed(*keys)
        return _login_again(request, next, "wrong name or password", 401)
    limiter.succeeded(*keys)
    token, session = request.app.state.users.open_session(user, request.app.state.session_hours)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(COOKIE, token, **cookie_args(request, max_age=int(request.app.state.session_hours * 3600)))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _login_again(request: Request, next: str, error: str, status: int):
    token = new_token()
    response = page(request, "login.html", None, status, next=_local(next), why="", csrf=token, error=error)
    response.set_cookie(LOGIN_COOKIE, token, **cookie_args(request, max_age=3600))
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")):
    session = current(request)
    check_origin(request)
    if csrf != session.csrf:
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
def campaign(request: Request, name: str, status: str = "", sort: str = "seq", desc: bool = False, page_no: int = 1, done: str = ""):
    session = current(request)
    store = request.app.state.store
    record, config = pages.load(store, name)
    experiments = store.experiment_lines(record.id)
    models = store.model_versions(record.id)
    return page(request, "campaign.html", session, name=name, campaign=config, summary=pages.summary(store, record, config, experiments),
                figures=pages.figures(config, experiments), models=models[-20:][::-1], n_models=len(models),
                table=pages.table(store, record.id, experiments, status, sort, desc, page_no), status=status, sort=sort, desc=desc, done=done,
                statuses=("proposed", "approved", "running", "measured", "failed", "rejected"))


@router.get("/campaigns/{name}/live")
def live(request: Request, name: str):
    session = current(request)
    store = request.app.state.store
    record, config = pages.load(store, name)
    experiments = store.experiment_lines(record.id)
    return page(request, "live.html", session, name=name, campaign=config, summary=pages.summary(store, record, config, experiments),
                figures=pages.figures(config, experiments))


@router.get("/campaigns/{name}/experiments.csv")
def export(request: Request, name: str, status: str = ""):
    current(request)
    store = request.app.state.store
    record, _ = pages.load(store, name)
    experiments = store.experiments(record.id, statuses=(status,) if status else None)
    return PlainTextResponse(to_csv(experiments), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}-experiments.csv"'})


@router.get("/approvals")
def approvals(request: Request, done: str = ""):
    session = current(request)
    return page(request, "approvals.html", session, campaigns=pages.waiting(request.app.state.store), done=done, error="")


@router.get("/audit")
def audit(request: Request):
    session = current(request)
    return page(request, "audit.html", session, events=pages.audit(request.app.state.store))


@router.get("/api/inbox")
def inbox(request: Request):
    current(request)
    return JSONResponse({"waiting": pages.inbox_count(request.app.state.store)})


# -- deciding ------------------------------------------------------------------------------
@router.post("/campaigns/{name}/decide")
async def decide_one(request: Request, name: str):
    form = await request.form()
    session = deciding(request, str(form.get("csrf", "")))
    store = request.app.state.store
    record, config = pages.load(store, name)
    action = str(form.get("action", ""))
    values = {k[2:]: str(v) for k, v in form.items() if k.startswith("v.") and str(v).strip() != ""}
    seq: Optional[int] = None
    if action != "add":
        try:
            seq = int(str(form.get("seq", "")))
        except ValueError:
            raise DecisionError(f"{action}: which experiment? (got {form.get('seq')!r})") from None
    if action not in ("approve", "reject", "edit", "add"):
        raise DecisionError(f"unknown action {action!r}: approve, reject, edit or add")
    decision = Decision(action=action, seq=seq, values=values if action in ("edit", "add") else {}, reason=str(form.get("reason", "")))
    try:
        done = decide(config, store, record.id, _labs(request, config, store), [decision], session.user.name)
    except DecisionError as exc:
        return page(request, "approvals.html", session, 400, campaigns=pages.waiting(store), done="", error=f"{name}: {exc}")
    what = {"approve": "approved", "reject": "rejected", "edit": "edited and approved", "add": "added"}[action]
    message = f"{name}: experiment {done[0].seq} {what} by {session.user.name}"
    return RedirectResponse(f"/approvals?done={quote(message)}", status_code=303)


@router.get("/new")
def new_campaign(request: Request):
    session = current(request)
    return page(request, "new.html", session, problems=[], text="")


@router.post("/new")
async def start_campaign(request: Request, file: UploadFile = File(...), csrf: str = Form("")):
    session = deciding(request, csrf)
    from retort.orchestrator.errors import CampaignError
    from retort.orchestrator.ui.starting import MAX_UPLOAD, check_upload, start

    store = request.app.state.store
    data = await file.read(MAX_UPLOAD + 1)
    try:
        campaign, path = check_upload(store, file.filename or "", data)
    except CampaignError as exc:
        lines = str(exc).splitlines()
        problems = [line.strip()[2:] for line in lines[1:] if line.strip().startswith("- ")] or [str(exc)]
        text = data.decode("utf-8", "replace")[:MAX_UPLOAD]
        return page(request, "new.html", session, 400, problems=[p.split(": ", 1) if ": " in p else ["", p] for p in problems],
                    heading=lines[0], text=text)
    start(store, path, campaign)
    message = f"{campaign.name} started by {session.user.name}: a retort run process of its own runs it (its log is in {path.parent.parent / 'logs'})"
    return RedirectResponse(f"/campaigns/{quote(campaign.name)}?done={quote(message)}", status_code=303)


@router.post("/campaigns/{name}/control")
def control(request: Request, name: str, action: str = Form(""), reason: str = Form(""), csrf: str = Form("")):
    session = deciding(request, csrf)
    from retort.orchestrator.decision_store import DecisionStore
    from retort.orchestrator.errors import StoreError

    store = request.app.state.store
    record, _ = pages.load(store, name)
    if action not in ("pause", "resume", "stop"):
        raise DecisionError(f"unknown control {action!r}: pause, resume or stop")
    try:
        state = DecisionStore(store).set_control(record.id, action, session.user.name, reason)
    except StoreError as exc:
        raise DecisionError(f"{name}: {exc}") from None
    message = {"run": "resumed", "paused": "paused: no new work is handed out", "stopped": "stopped: the run ends once the instruments are done"}[state]
    return RedirectResponse(f"/campaigns/{quote(name)}?done={quote(f'{name} {message} by {session.user.name}')}", status_code=303)


@router.post("/campaigns/{name}/import")
async def import_csv(request: Request, name: str, file: UploadFile = File(...), csrf: str = Form("")):
    session = deciding(request, csrf)
    from retort.orchestrator.importing import import_file

    store = request.app.state.store
    record, config = pages.load(store, name)
    data = await file.read(20_000_001)
    if len(data) > 20_000_000:
        raise DecisionError(f"{file.filename}: larger than 20 MB; import it with 'retort import'")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(file.filename or "upload.csv").name
        path.write_bytes(data)
        seqs = import_file(config, store, record.id, path, session.user.name, source=f"{path.name} (uploaded)")
    message = f"imported {len(seqs)} measurements from {path.name} (experiments {seqs[0]}-{seqs[-1]})"
    return RedirectResponse(f"/campaigns/{quote(name)}?done={quote(message)}", status_code=303)


def _labs(request: Request, config, store):
    from retort.orchestrator.labs import build_labs

    key = config.config_json()
    cache = request.app.state.labs
    if key not in cache:
        cache[key] = build_labs(config, store)
    return cache[key]

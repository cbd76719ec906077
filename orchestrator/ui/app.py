"""`retort ui`: the operator's web pages, served by FastAPI from the campaign store.

Server-rendered HTML (Jinja2) with one small script that refreshes a campaign's page, and SVG
plots drawn on the server: nothing is fetched from elsewhere at run time, and a page works with the
script off. The UI reads and writes the store only, so it runs beside `retort run` processes (or a
Prefect deployment) that share nothing else with it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from retort.errors import RetortError
from retort.orchestrator.errors import UnknownCampaign
from retort.orchestrator.store import Store
from retort.orchestrator.store.users import SESSION_HOURS, Users
from retort.orchestrator.ui import views
from retort.orchestrator.ui.render import HEADERS, problem
from retort.orchestrator.ui.security import KEPT_COOKIE, LoginLimiter, SignIn, cookie_args, keep
from retort.orchestrator.ui.starting import data_folder

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def create_app(store_url: str, session_hours: float = SESSION_HOURS, public_origins: tuple[str, ...] = (),
               data_dir: Optional[Path] = None) -> FastAPI:
    """The UI on the store at `store_url`. `public_origins`: the addresses browsers reach it at through a reverse
    proxy (e.g. ``https://lab.example``), accepted as the origin of its forms. `data_dir`: the only folder whose
    files an uploaded campaign may name (default: ``retort-ui/data`` beside the store; created)."""
    import secrets

    if not 0 < session_hours <= 24 * 30:
        raise ValueError(f"session hours must be above 0 and at most 720, got {session_hours}")
    app = FastAPI(title="Retort", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.secret = secrets.token_bytes(32)  # signs the messages shown after a redirect
    app.state.origins = tuple(o.rstrip("/") for o in public_origins)
    app.state.store = Store(store_url)
    app.state.users = Users(app.state.store)
    app.state.data_dir = Path(data_dir or data_folder(app.state.store)).resolve()
    app.state.data_dir.mkdir(parents=True, exist_ok=True)
    app.state.limiter = LoginLimiter()
    app.state.session_hours = session_hours
    app.state.labs = {}  # campaign configuration -> its instruments, built once (edits are checked against them)
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    from retort.orchestrator.ui.drawings import molecule_image
    from retort.orchestrator.ui.pages import show

    app.state.templates.env.filters["show"] = show
    app.state.templates.env.filters["molecule_image"] = molecule_image
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(SignIn)
    async def sign_in(request: Request, exc: SignIn):
        if request.url.path.startswith("/api/") or request.url.path.endswith("/live"):  # fetched by the page's script
            return JSONResponse({"error": "your session has expired" if exc.why else "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "") if request.method == "GET" else "/"
        kept_value = await _kept_decision(request) if exc.why == "expired" and request.method == "POST" else None
        if kept_value:  # nothing was decided; the form comes back as typed after sign-in
            response = RedirectResponse("/login?next=/approvals&why=kept", status_code=303)
            response.set_cookie(KEPT_COOKIE, kept_value, **cookie_args(request, max_age=3600))
            return response
        return RedirectResponse(f"/login?next={quote(target)}" + (f"&why={quote(exc.why)}" if exc.why else ""), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return problem(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
        return problem(request, 400, f"the request was not understood ({fields}); nothing was changed")

    @app.exception_handler(UnknownCampaign)
    async def not_found(request: Request, exc: UnknownCampaign):  # the store's address (it may hold a password) stays out
        return problem(request, 404, f"no campaign {exc.name!r} here; the campaigns are listed on the overview page")

    @app.exception_handler(RetortError)
    async def refused(request: Request, exc: RetortError):
        return problem(request, 400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # a bug: logged with its traceback, one line for the person
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(request, 500, f"unexpected {type(exc).__name__}: the server's log holds the traceback. Nothing stored was lost")

    app.include_router(views.router)
    return app


KEPT_ROUTES = re.compile(r"/campaigns/([^/]+)/(decide|record)")


async def _kept_decision(request: Request) -> Optional[str]:
    """A decision or hand-recorded result posted after its session expired, as a signed cookie value to draw its form
    again after sign-in (None for other requests, or a form too large to keep)."""
    from urllib.parse import unquote

    route = KEPT_ROUTES.fullmatch(request.url.path)
    size = request.headers.get("content-length", "")
    if route is None or not size.isdigit() or int(size) > views.FORM_BYTES:
        return None
    form = await request.form()
    fields = {k: str(v)[:500] for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    return keep(request, {"campaign": unquote(route.group(1)), "route": route.group(2), "fields": fields})

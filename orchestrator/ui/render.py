"""Rendering a page or a problem: the templates with the session and the navigation bar's count, the security
headers on every response."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from retort.orchestrator.ui.pages import inbox_count

HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                      "frame-ancestors 'none'; form-action 'self'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


def problem(request: Request, status: int, message: str):
    if request.url.path.startswith("/api/"):
        response = JSONResponse({"error": message}, status_code=status)
    else:
        templates: Jinja2Templates = request.app.state.templates
        response = templates.TemplateResponse(request, "problem.html", {"status": status, "message": message, "session": None},
                                              status_code=status)
    response.headers.update(HEADERS)  # an unexpected error's response is made outside the middleware that adds them
    return response


def page(request: Request, template: str, session, http_status: int = 200, nav: bool = True, **context) -> HTMLResponse:
    """`template` rendered for `session`; `nav`: the page has the navigation bar (its approvals badge is counted)."""
    templates: Jinja2Templates = request.app.state.templates
    waiting = inbox_count(request.app.state.store) if session and nav else 0
    return templates.TemplateResponse(request, template, {"session": session, "inbox": waiting, **context}, status_code=http_status)

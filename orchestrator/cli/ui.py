"""`retort ui` (the operator's web pages) and `retort users` (who may sign in to them)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from retort.orchestrator.campaign.defaults import DEFAULT_STORE
from retort.orchestrator.cli.common import err, open_store, out

STORE_HELP = f"store URL (default {DEFAULT_STORE})"


def add_parsers(sub) -> None:
    ui = sub.add_parser("ui", help="serve the operator UI: campaigns, approvals, audit (sign in with a user from 'retort users add')")
    ui.add_argument("--store", help=STORE_HELP)
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    ui.add_argument("--session-hours", type=float, default=8.0, help="a sign-in lasts this long (default 8, at most 720)")
    ui.add_argument("--public-origin", action="append", default=[], metavar="URL",
                    help="behind a reverse proxy: the address browsers use, e.g. https://lab.example (repeatable)")
    ui.add_argument("--data-dir", metavar="DIR", help="the only folder whose files (datasets, deck files) an uploaded campaign may "
                                                     "name (default: retort-ui/data beside the store)")
    ui.add_argument("--forwarded-allow-ips", metavar="IPS",
                    help="behind a reverse proxy: the proxy's address(es), whose X-Forwarded-For/-Proto headers are trusted")
    users = sub.add_parser("users", help="people who sign in to the UI")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user (the password is asked for, or read from standard input when it is not a terminal)")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="viewer: sees; operator: also decides and controls; admin: also manages users")
    add.add_argument("--store", help=STORE_HELP)
    listing = actions.add_parser("list", help="list users, their roles and whether they are disabled")
    listing.add_argument("--store", help=STORE_HELP)
    for action, helptext in (("disable", "no sign-in until enabled again; their open sessions end now"), ("enable", "let a disabled user sign in again"),
                             ("remove", "remove a user (what they decided stays in the audit under their name)"),
                             ("reset-password", "set a new password (asked for, or one line on standard input); their sessions end"),
                             ("revoke", "end every open session of a user"), ("role", "change a user's role"),
                             ("events", "sign-ins, refused sign-ins and account changes, newest first")):
        one = actions.add_parser(action, help=helptext)
        one.add_argument("name", nargs="?" if action == "events" else None)
        if action == "role":
            one.add_argument("role", help="viewer, operator or admin")
        one.add_argument("--by", default="the command line", help="who does it, for the record (default: the command line)")
        one.add_argument("--store", help=STORE_HELP)


def users_command(args: argparse.Namespace) -> int:
    from retort.orchestrator.store.users import Users, check_role

    if args.action == "add":
        check_role(args.role)  # before the password is asked for
    users = Users(_store(args.store, create=args.action == "add"))
    if args.action == "list":
        for user in users.all():
            out.print(f"{user.name}  {user.role}  (added {user.created_at:%Y-%m-%d}){'  DISABLED' if user.disabled else ''}", highlight=False)
        return 0
    if args.action == "add":
        user = users.add(args.name, args.role, _password(args.name))
        out.print(f"added {user.role} {user.name!r}; they sign in to 'retort ui' with that password", highlight=False)
        return 0
    if args.action == "events":
        for e in users.events(args.name):
            where = f" from {e['address']}" if e["address"] else ""
            out.print(f"{e['created_at']:%Y-%m-%d %H:%M:%S}  {e['action']}  {e['subject']}  by {e['actor']}{where}  {e['detail']}".rstrip(),
                      highlight=False)
        return 0
    from retort.orchestrator.store.users import administer

    done = administer(users, args.action, args.name, args.by, role=getattr(args, "role", None),
                      password=_password(args.name) if args.action == "reset-password" else None)
    out.print(done, highlight=False)
    return 0


def ui_command(args: argparse.Namespace) -> int:
    import uvicorn

    from retort.orchestrator.ui.app import create_app
    from retort.orchestrator.store.users import Users

    from retort.orchestrator.errors import CampaignError

    store = _store(args.store, create=False)
    if not 0 < args.session_hours <= 720:
        raise CampaignError(f"--session-hours {args.session_hours:g}: give more than 0 and at most 720")
    if not Users(store).all():
        err.print("note: no user can sign in yet; add one with 'retort users add NAME --role operator'", highlight=False)
    app = create_app(store.secret_url.get_secret_value(), session_hours=args.session_hours, public_origins=tuple(args.public_origin),
                     data_dir=args.data_dir)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        err.print("warning: the UI runs as root: a mistake in it could reach every file of this machine; run it as a user of its "
                  "own that can read the store and its data folder only (docs/operator-ui.md)", highlight=False)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: listening on {args.host}: other machines can reach the sign-in page; put it behind HTTPS", highlight=False)
    err.print(f"Retort UI on http://{args.host}:{args.port}/ (store {store.url}; uploaded campaigns read files in {app.state.data_dir}); "
              "Ctrl-C stops it", highlight=False)
    proxy = {"proxy_headers": True, "forwarded_allow_ips": args.forwarded_allow_ips} if args.forwarded_allow_ips else {"proxy_headers": False}
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", **proxy)
    return 0


def _store(url, create: bool):
    return open_store(url, create=create, hint=f"pass --store, or add the first user there ('retort users add NAME --role operator "
                                                f"--store {url or DEFAULT_STORE}'), which creates it")


def _password(name: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != first:
            from retort.orchestrator.store.users import UserError

            raise UserError("the two passwords differ; nothing was added")
        return first
    line = sys.stdin.readline()
    if not line:
        from retort.orchestrator.store.users import UserError

        raise UserError("no password on standard input; give one line holding it")
    return line.rstrip("\r\n")


COMMANDS = {"ui": ui_command, "users": users_command}

"""Starting a campaign from the UI: an uploaded campaign file is checked as `retort validate` checks it, kept
beside the store, and run by a `retort run` process of its own (it outlives the UI; a stop from the UI or
`retort control` ends it). The files an uploaded campaign names (a dataset, a deck file) are read only from the
UI's data folder (`data_folder`, or ``retort ui --data-dir``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from retort.orchestrator.campaign import Campaign, load_campaign, with_changes
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.store import Store

MAX_UPLOAD = 1_000_000


def folder_for(store: Store) -> Path:
    """Where the UI keeps campaign files and run logs: beside a SQLite store's file, else in the working directory."""
    base = Path(store.file).parent if store.file else Path.cwd()
    return base / "retort-ui"


def data_folder(store: Store) -> Path:
    """The default folder whose files uploaded campaigns may name: ``retort-ui/data`` beside the store."""
    return folder_for(store) / "data"


def check_upload(store: Store, filename: str, data: bytes, files_in: Path) -> tuple[Campaign, Path]:
    """The uploaded campaign, run against this UI's store and reading files only from `files_in`, checked before
    anything is stored; and the file kept for its run (the campaign as checked: its files by absolute path).
    Raises `CampaignError` listing every problem, one per field."""
    from retort.orchestrator.loop import check_run

    if len(data) > MAX_UPLOAD:
        raise CampaignError(f"{filename}: larger than {MAX_UPLOAD // 1000} kB; a campaign file is a page of YAML")
    name = Path(filename or "campaign.yaml").name
    if not name.endswith((".yaml", ".yml")):
        raise CampaignError(f"{name}: upload a campaign file ending in .yaml or .yml")
    campaigns = folder_for(store) / "campaigns"
    campaigns.mkdir(parents=True, exist_ok=True)
    draft = campaigns / f".upload-{os.getpid()}-{datetime.now():%H%M%S%f}-{name}"
    draft.write_bytes(data)
    try:
        campaign = load_campaign(draft, files_in=files_in)
    except CampaignError as exc:
        raise CampaignError(str(exc).replace(str(draft), name)) from None
    finally:
        draft.unlink(missing_ok=True)
    campaign = with_changes(campaign, "the UI", store=store.secret_url.get_secret_value())  # the UI's store, whatever the file says
    if campaign.name in {c.name for c in store.campaigns()}:
        raise CampaignError(f"{name}: a campaign named {campaign.name!r} is stored already; give the file another name: (or "
                            "continue that campaign from its page)")
    check_run(campaign, store)
    path = campaigns / f"{campaign.name}.yaml"
    path.write_text(json.dumps(campaign.model_dump(mode="json", exclude={"store"}), indent=1))  # JSON is YAML; the run reads what was checked
    os.chmod(path, 0o600)
    return campaign, path


def start(store: Store, path: Path, campaign: Campaign, actor: str) -> Path:
    """Store the campaign (its page is there at once) and run it in a process of its own; returns its log file."""
    from retort.orchestrator.store.decisions import DecisionStore

    record = store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    log = launch(store, path, campaign.name)
    DecisionStore(store).note_run(record.id, "start", actor, detail={"file": path.name, "log": log.name})
    return log


def continue_run(store: Store, name: str, actor: str, reason: str = "") -> Path:
    """Run a stored campaign nobody runs, from where it stands: a paused or stopped campaign is resumed first; its file is
    the one the UI kept when it was started here, else written from the stored configuration. Returns the log file.
    Refused (`CampaignError`) while a process holds the campaign or when its budget is spent."""
    from retort.orchestrator.campaign import stored_campaign
    from retort.orchestrator.store.decisions import DecisionStore
    from retort.orchestrator.store.leases import holder_of

    record = store.campaign(name)
    lease = holder_of(store, record.id)
    if lease is not None:
        raise CampaignError(f"{name} is running already: {lease.host} pid {lease.pid} holds it; nothing was started")
    campaign = stored_campaign(record, store.url)
    counts = store.status_counts(record.id)
    if counts.get("measured", 0) + counts.get("failed", 0) >= campaign.budget and not counts.get("approved") and not counts.get("proposed"):
        raise CampaignError(f"{name} has spent its budget ({campaign.budget}); raise 'budget' in its file to run more")
    decisions = DecisionStore(store)
    if decisions.control(record.id) != "run":
        decisions.set_control(record.id, "resume", actor, reason)
    path = folder_for(store) / "campaigns" / f"{name}.yaml"
    if not path.exists():  # started from the command line: its stored configuration is the campaign
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(campaign.model_dump(mode="json", exclude={"store"}), indent=1))
        os.chmod(path, 0o600)
    log = launch(store, path, name)
    decisions.note_run(record.id, "continue", actor, reason, detail={"file": path.name, "log": log.name})
    return log


def launch(store: Store, path: Path, name: str) -> Path:
    """`retort run` of the campaign file `path` in a process of its own (it outlives the UI), logging to a new file."""
    logs = folder_for(store) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.log"
    with open(log, "wb") as out:
        subprocess.Popen([sys.executable, "-m", "retort.orchestrator.cli", "run", str(path), "--store", store.secret_url.get_secret_value()],
                         cwd=path.parent, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                         env=os.environ | {"RETORT_LOG_DIR": str(logs)})
    return log


def log_tail(store: Store, name: str, lines: int = 15) -> tuple[str, list[str]]:
    """The newest run log of campaign `name` the UI started, and its last `lines` lines (("", []) if none)."""
    pattern = re.compile(re.escape(name) + r"-\d{8}-\d{6}\.log")  # this campaign's, not those of one named like 'NAME-2'
    logs = sorted((p for p in (folder_for(store) / "logs").glob("*.log") if pattern.fullmatch(p.name)), key=lambda p: p.stat().st_mtime)
    if not logs:
        return "", []
    with open(logs[-1], "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64_000))
        text = handle.read().decode("utf-8", "replace")
    shown = [line.rstrip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return logs[-1].name, shown[-lines:]

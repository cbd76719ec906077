"""What every `retort` command shares: its consoles, the store a command means, a stored campaign read back, who is
acting, and how values are written. Light at import (the parser reads it for every command); what it needs of the
campaign and the store is imported when used."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from rich.console import Console

from retort.orchestrator.campaign.defaults import DEFAULT_STORE

if TYPE_CHECKING:
    from retort.orchestrator.campaign import Campaign
    from retort.orchestrator.store import Store
    from retort.orchestrator.store.records import CampaignRecord

out = Console()
err = Console(stderr=True)
STORE_HELP = f"store URL (default {DEFAULT_STORE}, or the campaign file's)"


def is_file(campaign_arg: str) -> bool:
    """Whether a command's CAMPAIGN argument names a campaign file (else a stored campaign's name)."""
    return campaign_arg.endswith((".yaml", ".yml")) or Path(campaign_arg).is_file()


def open_store(url: Optional[str], create: bool = False, hint: str = "pass --store or run a campaign first") -> Store:
    """The store at `url` (default `DEFAULT_STORE`); a SQLite file that does not exist is refused unless `create`."""
    from retort.orchestrator.errors import StoreError
    from retort.orchestrator.store import Store, check_persistent, sqlite_file_missing

    url = url or DEFAULT_STORE
    check_persistent(url)
    if not create and sqlite_file_missing(url):
        raise StoreError(f"no store at {url} (nothing has been run here yet); {hint}")
    return Store(url)


def store_and_name(campaign_arg: Optional[str], store_arg: Optional[str]) -> tuple[Store, Optional[str]]:
    """The store and (optionally) campaign name a command refers to: a campaign file names both (`--store` wins)."""
    from retort.orchestrator.campaign import load_campaign

    name, url = campaign_arg, store_arg
    if campaign_arg and is_file(campaign_arg):
        campaign = load_campaign(campaign_arg)
        name, url = campaign.name, store_arg or campaign.store
    return open_store(url), name


def stored(store: Store, name: str) -> tuple[Campaign, CampaignRecord]:
    """A stored campaign, as stored (its settings then are the ones that hold), and its record."""
    from retort.orchestrator.campaign import stored_campaign

    record = store.campaign(name)
    return stored_campaign(record, store.url), record


def user() -> str:
    """Who is acting: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else f"{v}"


def params(values: dict) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in values.items())

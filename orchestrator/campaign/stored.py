"""A stored campaign's configuration, read back: the one way every command, page and process does it.

A store keeps each campaign's configuration as the release that ran it wrote it. Today's rules may refuse it
(a setting renamed, a limit tightened): `stored_campaign` then raises `StoredConfigError` naming the campaign
and each field, and the campaign's data stay readable (`retort status` lists it, `retort export` exports it).

Example:
    >>> from types import SimpleNamespace
    >>> record = SimpleNamespace(name="old", config_json='{"name": "old", "budget": 0}')
    >>> stored_campaign(record)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    retort.orchestrator.campaign.stored.StoredConfigError: campaign 'old': its stored configuration is refused by this release...
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Protocol

from pydantic import ValidationError

from retort.orchestrator.campaign.file import Campaign, format_validation_error
from retort.orchestrator.errors import CampaignError


class StoredConfigError(CampaignError):
    """A stored campaign whose configuration this release refuses; its experiments are still stored and exportable."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name, self.problems = name, list(problems)
        super().__init__(f"campaign {name!r}: its stored configuration is refused by this release of Retort: {'; '.join(problems)}. "
                         f"Its experiments are kept and 'retort export {name}' exports them; to go on, run its file under a new "
                         "name (--name), or with the release that stored it")


class _Stored(Protocol):
    name: str
    config_json: str


def stored_campaign(record: _Stored, store_url: str = "") -> Campaign:
    """The campaign `record` holds, validated by today's rules (with `store_url` as its store, when given).

    Raises:
        StoredConfigError: today's rules refuse it; names the campaign and each field.
    """
    campaign = _validated(record.name, record.config_json)
    return campaign.model_copy(update={"store": store_url}) if store_url else campaign


@lru_cache(maxsize=64)
def _validated(name: str, config_json: str) -> Campaign:
    """Validated once per configuration (pages read every campaign's on each view; a `Campaign` is frozen)."""
    try:
        data = json.loads(config_json)
    except ValueError as exc:
        raise StoredConfigError(name, [f"not JSON ({exc})"]) from None
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        problems = [line.strip().removeprefix("- ") for line in format_validation_error(exc, data).splitlines()]
        raise StoredConfigError(name, problems) from None

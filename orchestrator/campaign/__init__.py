"""The campaign: its file (`file.py`, the lab section in `labs.py`, read safely by `yamlfile.py`), an experiment's
lifecycle, what a campaign has found (`results.py`), a stored configuration read back (`stored.py`) and flat
exports of its experiments. Imports nothing of the store, the loop or torch: every other package builds on it.

The names below are loaded when first used, so that a light module here (`defaults`, `lifecycle`) is imported
without the campaign's models.
"""

from __future__ import annotations

from retort.lazy import lazy_exports
from typing import TYPE_CHECKING

_EXPORTS = {
    "DEFAULT_STORE": "defaults",
    "OPERATIONAL": "file", "OPERATIONAL_TOP": "file", "Approval": "file", "Campaign": "file", "load_campaign": "file",
    "with_changes": "file", "FidelityConfig": "fidelities",
    "AnalyticLabConfig": "labs", "ColourLabConfig": "labs", "ComputationLabConfig": "labs", "EmulatorLabConfig": "labs", "LabConfig": "labs",
    "LookupLabConfig": "labs", "VirtualFaults": "labs",
    "StoredConfigError": "stored", "stored_campaign": "stored",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from retort.orchestrator.campaign.defaults import DEFAULT_STORE
    from retort.orchestrator.campaign.fidelities import FidelityConfig
    from retort.orchestrator.campaign.file import OPERATIONAL, OPERATIONAL_TOP, Approval, Campaign, load_campaign, with_changes
    from retort.orchestrator.campaign.labs import (AnalyticLabConfig, ColourLabConfig, ComputationLabConfig, EmulatorLabConfig, LabConfig, LookupLabConfig,
                                                   VirtualFaults)
    from retort.orchestrator.campaign.stored import StoredConfigError, stored_campaign
__getattr__ = lazy_exports(__name__, _EXPORTS)

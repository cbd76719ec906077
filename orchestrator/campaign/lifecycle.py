"""An experiment's lifecycle: the statuses it moves through and which may follow which.

    proposed -> approved -> running -> measured | failed        (proposed -> rejected: an operator said no)

`rejected` spends no budget; neither do measurements imported from a file (planner `IMPORTED`).
"""

from __future__ import annotations

from typing import Literal

Status = Literal["proposed", "approved", "running", "measured", "failed", "rejected"]
STATUSES: tuple[Status, ...] = ("proposed", "approved", "running", "measured", "failed", "rejected")
OPEN: tuple[Status, ...] = ("proposed", "approved")  # not yet on an instrument: continued, never re-proposed
DONE: tuple[Status, ...] = ("measured", "failed")  # what spends the budget
IMPORTED = "import"  # the planner of experiments imported from a file: measured elsewhere, they spend no budget

TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"approved", "failed", "rejected"},
    "approved": {"running", "failed"},
    "running": {"measured", "failed", "approved"},  # approved again: its instrument run failed before it started
    "measured": set(),
    "failed": set(),
    "rejected": set(),
}

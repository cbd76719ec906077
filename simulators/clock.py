"""An injectable clock so simulated operations take simulated time, not wall time.

Example:
    >>> clock = VirtualClock()
    >>> clock.sleep(DURATIONS["pick_up_tip"])
    >>> clock.now()
    4.0
"""

from __future__ import annotations

# Seconds per operation, after timings of an OT-2 and a filter plate reader.
DURATIONS: dict[str, float] = {
    "pick_up_tip": 4.0,
    "drop_tip": 4.0,
    "transfer_base": 6.0,  # move, aspirate, move, dispense, plus volume / flow rate below
    "flow_rate": 50.0,  # uL/s
    "mix_cycle": 1.5,
    "read_plate_base": 20.0,
    "read_per_well_wavelength": 0.1,
    "evaluate": 60.0,  # one analytic "experiment"
}


class VirtualClock:
    """Monotonic simulated time in seconds. `sleep` advances it instantly."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        self._now += seconds

"""An injectable clock so simulated operations take simulated time, not wall time.

Example:
    >>> clock = VirtualClock()
    >>> clock.sleep(DURATIONS["pick_up_tip"])
    >>> clock.now()
    4.0
"""

from __future__ import annotations

import time

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


class ScaledClock(VirtualClock):
    """A virtual clock whose `sleep` also waits `scale` wall-clock seconds per simulated second,
    so that virtual instruments keep the orchestrator waiting as real ones would (scaled down)."""

    def __init__(self, scale: float, start: float = 0.0) -> None:
        super().__init__(start)
        if scale < 0:
            raise ValueError(f"a clock scale cannot be negative ({scale})")
        self.scale = float(scale)
        self.spans: list[tuple[float, float]] = []  # wall-clock (start, end) of each sleep: when the instrument was busy

    @property
    def busy(self) -> float:
        return sum(end - start for start, end in self.spans)

    def busy_between(self, start: float, end: float) -> float:
        """Wall-clock seconds busy within [start, end] (`time.perf_counter` times)."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.spans)

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.scale:
            started = time.perf_counter()
            time.sleep(seconds * self.scale)
            self.spans.append((started, time.perf_counter()))

"""Small SVG plots drawn on the server: the page loads nothing from elsewhere and needs no plotting script."""

from __future__ import annotations

import math
from html import escape
from typing import Optional

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 480, 260, 56, 12, 12, 36


def _ticks(lo: float, hi: float) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / 4))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= 5:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


class Frame:
    """Axes mapping data to the picture."""

    def __init__(self, xs: list[float], ys: list[float], xlabel: str, ylabel: str) -> None:
        self.x0, self.x1 = _span(xs)
        self.y0, self.y1 = _span(ys)
        self.xlabel, self.ylabel = xlabel, ylabel

    def x(self, v: float) -> float:
        return PAD_L + (v - self.x0) / (self.x1 - self.x0) * (W - PAD_L - PAD_R)

    def y(self, v: float) -> float:
        return H - PAD_B - (v - self.y0) / (self.y1 - self.y0) * (H - PAD_T - PAD_B)

    def axes(self) -> list[str]:
        parts = [f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" class="frame"/>']
        for t in _ticks(self.x0, self.x1):
            parts.append(f'<text x="{self.x(t):.1f}" y="{H - PAD_B + 14}" class="tick" text-anchor="middle">{_fmt(t)}</text>')
        for t in _ticks(self.y0, self.y1):
            parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{self.y(t):.1f}" y2="{self.y(t):.1f}" class="grid"/>')
            parts.append(f'<text x="{PAD_L - 4}" y="{self.y(t) + 4:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>')
        parts.append(f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - 4}" class="label" text-anchor="middle">{escape(self.xlabel)}</text>')
        parts.append(f'<text x="12" y="{(PAD_T + H - PAD_B) / 2}" class="label" text-anchor="middle" '
                     f'transform="rotate(-90 12 {(PAD_T + H - PAD_B) / 2})">{escape(self.ylabel)}</text>')
        return parts


def _span(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    margin = 0.05 * (hi - lo)
    return lo - margin, hi + margin


def _svg(title: str, parts: list[str]) -> str:
    return (f'<svg viewBox="0 0 {W} {H}" class="plot" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>{"".join(parts)}</svg>')


def line(title: str, xs: list[float], ys: list[float], xlabel: str, ylabel: str, none: str = "nothing measured yet") -> str:
    if not xs:
        return empty(title, none)
    f = Frame(xs, ys, xlabel, ylabel)
    points = " ".join(f"{f.x(x):.1f},{f.y(y):.1f}" for x, y in zip(xs, ys))
    return _svg(title, f.axes() + [f'<polyline points="{points}" class="line"/>'])


def scatter(title: str, xs: list[float], ys: list[float], xlabel: str, ylabel: str,
            errors: Optional[list[float]] = None, diagonal: bool = False, highlight: Optional[list[bool]] = None,
            none: str = "nothing measured yet") -> str:
    if not xs:
        return empty(title, none)
    lows = [y - e for y, e in zip(ys, errors)] if errors else ys
    highs = [y + e for y, e in zip(ys, errors)] if errors else ys
    f = Frame(xs + (ys if diagonal else []), lows + highs + (xs if diagonal else []), xlabel, ylabel)
    parts = f.axes()
    if diagonal:
        lo, hi = max(f.x0, f.y0), min(f.x1, f.y1)
        parts.append(f'<line x1="{f.x(lo):.1f}" y1="{f.y(lo):.1f}" x2="{f.x(hi):.1f}" y2="{f.y(hi):.1f}" class="diagonal"/>')
    for i, (x, y) in enumerate(zip(xs, ys)):
        if errors:
            parts.append(f'<line x1="{f.x(x):.1f}" x2="{f.x(x):.1f}" y1="{f.y(lows[i]):.1f}" y2="{f.y(highs[i]):.1f}" class="error"/>')
        cls = "dot front" if highlight and highlight[i] else "dot"
        parts.append(f'<circle cx="{f.x(x):.1f}" cy="{f.y(y):.1f}" r="2.6" class="{cls}"/>')
    return _svg(title, parts)


def empty(title: str, why: str = "nothing measured yet") -> str:
    return _svg(title, [f'<text x="{W / 2}" y="{H / 2}" class="label" text-anchor="middle">{escape(why)}</text>'])

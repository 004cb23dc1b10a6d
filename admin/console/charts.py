"""Charts drawn on the server as inline SVG, so that the console needs no script and no CDN:
a bar chart of values per label (stacked when there are several series) and a line chart of
(x, y) points.

Every bar and point carries what it shows as attributes (`<rect class=bar data-label=..
data-series=.. data-value=..>`, `<circle class=point data-series=.. data-x=.. data-y=..>`) and
a `<title>` a pointer shows on hover; the `<svg>` is `role=img` with an `aria-label` naming
the chart. Pure: strings in, HTML out, every value escaped here.

Usage: `bar_chart(["2026-12-01"], [Bars("requests", [12])], id="requests", title="Requests")`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000")
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_TICKS = 10


@dataclass(frozen=True)
class Bars:
    """One series of a bar chart: a value per label, in the labels' order."""

    name: str
    values: Sequence[float]


@dataclass(frozen=True)
class Line:
    """One series of a line chart: its (x, y) points, in x order."""

    name: str
    points: Sequence[tuple[float, float]]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def data_number(value: float) -> str:
    """A value as an attribute: exact for integers, six decimals at most otherwise."""
    if float(value).is_integer():
        return str(int(value))
    return repr(round(float(value), 6))


def shown_number(value: float) -> str:
    """A value for people: 1234567 -> '1.23M', 0.125 -> '0.125'."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that splits `span` into about
    `count` intervals."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _axis(lo: float, hi: float) -> tuple[float, float, float]:
    """Bounds that enclose [lo, hi] on round steps, and the step."""
    step = nice_step(hi - lo)
    bottom = math.floor(lo / step) * step
    top = math.ceil(hi / step) * step
    if top <= bottom:
        top = bottom + step
    return bottom, top, step


def _frame(id: str, title: str, y_label: str, y_lo: float, y_hi: float, step: float) -> str:
    """The y axis, its grid lines and tick labels, and the axis title."""
    parts = [f"<title>{_e(title)}</title>"]
    y = y_lo
    while y <= y_hi + step / 1e6:
        py = TOP + PLOT_H - (y - y_lo) / (y_hi - y_lo) * PLOT_H
        parts.append(
            f'<line class=grid x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{py:.1f}" y2="{py:.1f}" '
            'stroke="#e3e3e3"/>'
            f'<text class=tick x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">'
            f"{_e(shown_number(round(y, 10)))}</text>"
        )
        y += step
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + PLOT_H}" stroke="#888"/>'
        f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{TOP + PLOT_H}" y2="{TOP + PLOT_H}" '
        'stroke="#888"/>'
        f'<text class=axis-label transform="translate(14 {TOP + PLOT_H / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{_e(y_label)}</text>'
    )
    return "".join(parts)


def _svg(id: str, title: str, inner: str) -> str:
    return (
        f'<svg id="{_e(id)}-svg" role=img aria-label="{_e(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" font-size="11" '
        f'font-family="system-ui,sans-serif">{inner}</svg>'
    )


def _legend(names: Sequence[str]) -> str:
    if len(names) < 2:
        return ""
    items = "".join(
        f'<li><span class=swatch style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{_e(name)}</li>"
        for i, name in enumerate(names)
    )
    return f"<ul class=legend>{items}</ul>"


def _figure(id: str, title: str, svg: str, names: Sequence[str]) -> str:
    return (
        f'<figure class=chart id="{_e(id)}"><figcaption>{_e(title)}</figcaption>'
        f"{svg}{_legend(names)}</figure>"
    )


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Bars],
    *,
    id: str,
    title: str,
    y_label: str = "",
    unit: str = "",
    short_labels: Sequence[str] | None = None,
) -> str:
    """Bars per label, the series stacked in their order. Every (label, series) pair gets its
    `rect`, a zero too (of no height), so a chart of n labels and s series has n*s bars.
    `short_labels` are what the x axis prints (`labels` stay in `data-label`)."""
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)}")
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    _, y_hi, step = _axis(0, max(totals, default=0) or 1)
    scale = PLOT_H / y_hi
    slot = PLOT_W / max(len(labels), 1)
    width = max(slot * 0.72, 1)
    printed = short_labels if short_labels is not None else labels
    every = math.ceil(len(labels) / MAX_X_TICKS) or 1
    parts = [_frame(id, title, y_label, 0, y_hi, step)]
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - width) / 2
        base = float(TOP + PLOT_H)
        for k, s in enumerate(series):
            value = s.values[i]
            h = value * scale
            base -= h
            what = f"{label}" + (f" · {s.name}" if len(series) > 1 else "")
            parts.append(
                f'<rect class=bar data-label="{_e(label)}" data-series="{_e(s.name)}" '
                f'data-value="{data_number(value)}" x="{x:.1f}" y="{base:.1f}" '
                f'width="{width:.1f}" height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{_e(what)}: {_e(f'{shown_number(value)} {unit}'.strip())}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text class=x-tick x="{LEFT + (i + 0.5) * slot:.1f}" y="{TOP + PLOT_H + 16}" '
                f'text-anchor="middle">{_e(printed[i])}</text>'
            )
    return _figure(id, title, _svg(id, title, "".join(parts)), [s.name for s in series])


def line_chart(
    series: Sequence[Line],
    *,
    id: str,
    title: str,
    x_label: str = "",
    y_label: str = "",
) -> str:
    """Each series as a polyline through its points, every point a `circle`. The y axis
    starts at zero unless a value is negative."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_lo, y_hi, y_step = _axis(min(0.0, min(ys, default=0)), max(ys, default=0) or 1)
    x_step = nice_step(x_hi - x_lo, 6)

    def px(x: float) -> float:
        return LEFT + (x - x_lo) / (x_hi - x_lo) * PLOT_W

    def py(y: float) -> float:
        return TOP + PLOT_H - (y - y_lo) / (y_hi - y_lo) * PLOT_H

    parts = [_frame(id, title, y_label, y_lo, y_hi, y_step)]
    tick = math.ceil(x_lo / x_step) * x_step
    while tick <= x_hi + x_step / 1e6:
        parts.append(
            f'<text class=x-tick x="{px(tick):.1f}" y="{TOP + PLOT_H + 16}" '
            f'text-anchor="middle">{_e(shown_number(round(tick, 10)))}</text>'
        )
        tick += x_step
    parts.append(
        f'<text class=axis-label x="{LEFT + PLOT_W / 2:.0f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        parts.append(
            f'<polyline class=line data-series="{_e(s.name)}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
        parts.extend(
            f'<circle class=point data-series="{_e(s.name)}" data-x="{data_number(x)}" '
            f'data-y="{data_number(y)}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" '
            f'fill="{colour}"><title>{_e(x_label or "x")} {_e(shown_number(x))}: '
            f"{_e(s.name)} {_e(shown_number(y))}</title></circle>"
            for x, y in s.points
        )
    return _figure(id, title, _svg(id, title, "".join(parts)), [s.name for s in series])

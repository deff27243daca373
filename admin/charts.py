"""Server-side SVG charts: bars of a time series and the bars of the outcomes mix.

Returned as data for the ``chart.html`` macro (no script, no external library): every
coordinate is computed here, so the chart is plain markup the CSP allows.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.backoffice.dashboard import Series

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 180, 44, 22, 10


@dataclass(frozen=True)
class Bar:
    """One bar: position, size, its label and value (the tooltip)."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    """A bar chart ready to draw."""

    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the value axis
    labels: list[tuple[float, str]]  # (x, label) of the time axis, a few of them
    baseline: float
    total: int


def bar_chart(series: Series, label_every: int, short: slice) -> Chart:
    """A chart of ``series``; every ``label_every``-th bucket is labelled with ``short`` of
    its label (e.g. the hour of ``2026-12-03 14:00``)."""
    points = series.points
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(points))
    peak = _nice(series.peak)
    bars, labels = [], []
    for index, (label, value) in enumerate(points):
        height = plot_h * value / peak
        x = PAD_LEFT + index * step
        bars.append(Bar(round(x + step * 0.15, 1), round(PAD_TOP + plot_h - height, 1),
                        round(step * 0.7, 1), round(height, 1), label, value))
        if index % label_every == 0 or index == len(points) - 1:
            labels.append((round(x + step / 2, 1), label[short]))
    values = sorted({0, peak // 2, peak}) if peak >= 2 else [0, peak]
    ticks = [(round(PAD_TOP + plot_h - plot_h * v / peak, 1), f"{v:,}") for v in values]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, PAD_TOP + plot_h, series.total)


def _nice(peak: int) -> int:
    """The axis maximum: the peak rounded up to 1, 2 or 5 times a power of ten."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if peak <= factor * magnitude:
                return factor * magnitude
        magnitude *= 10


def outcome_shares(mix: dict[str, int]) -> list[tuple[str, int, float]]:
    """(outcome, count, percent) largest first."""
    total = sum(mix.values()) or 1
    return [(name, count, round(100 * count / total, 1))
            for name, count in sorted(mix.items(), key=lambda kv: -kv[1])]

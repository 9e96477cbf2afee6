"""Charts for the staff console, drawn on the server as SVG: no JavaScript, no library.

Each chart is an ``<svg>`` string to put straight into a page. It scales to its container
(``viewBox`` with ``width="100%"``), so the same chart works on a phone and on a desk.
All words come from the caller, who passes them in the reader's language; every piece of
text is escaped here. Hovering a bar or a dot shows its exact value (``<title>``).
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Iterable

# Okabe-Ito colours without the yellow, distinguishable with colour-blindness;
# a chart with more stacks than colours starts over.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#999999",
    "#332288",
)
LINE_COLOUR = "#0072B2"
AXIS_COLOUR = "#888888"
GRID_COLOUR = "#E5E5E5"
TEXT_COLOUR = "#222222"
FONT = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans TC', 'PingFang TC', sans-serif"

TITLE_SIZE = 14
LABEL_SIZE = 11
PAD = 8
LEGEND_ROW = 18
SWATCH = 10

_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def bar_chart(
    series: dict[str, dict[str, float]],
    *,
    title: str,
    width: int = 640,
    height: int = 260,
    no_data: str = "—",
) -> str:
    """Stacked bars: one bar per key of `series` (e.g. weeks), stacked by the inner keys.

    Stacks (e.g. root causes) keep one colour each across all bars, in the order they
    first appear with a value above 0, and are named in the legend. Each bar carries its
    total above it and, when there is room, each part's value inside. An empty `series`
    draws `no_data` under the title.

    Raises:
        ValueError: if a value is negative or not a finite number.
    """
    if not series:
        return _no_data_svg(title=title, message=no_data, width=width, height=height)
    for bar in series.values():
        for value in bar.values():
            _check_value(value)
    stacks = list(
        dict.fromkeys(stack for bar in series.values() for stack, value in bar.items() if value > 0)
    )
    colours = {stack: PALETTE[index % len(PALETTE)] for index, stack in enumerate(stacks)}

    legend, legend_bottom = _legend(stacks, colours, width=width, top=TITLE_SIZE + 2 * PAD)
    totals = [sum(value for value in bar.values() if value > 0) for bar in series.values()]
    ticks = _ticks(0.0, max(totals), whole=_all_whole(totals))
    tick_labels = [_format(tick, ticks) for tick in ticks]
    left = PAD + max(_text_width(label, LABEL_SIZE) for label in tick_labels) + 6
    plot = _Plot(
        left=left,
        right=width - PAD,
        top=legend_bottom + LABEL_SIZE + 6,
        bottom=height - LABEL_SIZE - 2 * PAD,
        low=ticks[0],
        high=ticks[-1],
    )

    parts = [_y_axis(plot, ticks, tick_labels)]
    slot = plot.width / len(series)
    bar_width = min(slot * 0.7, 56.0)
    x_labels = _x_labels(list(series), plot, slot)
    for index, ((name, bar), total) in enumerate(zip(series.items(), totals, strict=True)):
        x = plot.left + slot * index + (slot - bar_width) / 2
        shown = [(stack, value) for stack, value in bar.items() if value > 0]
        base = 0.0
        for stack, value in shown:
            y_top = plot.y(base + value)
            y_bottom = plot.y(base)
            base += value
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y_top:.1f}" width="{bar_width:.1f}" '
                f'height="{y_bottom - y_top:.1f}" fill="{colours[stack]}">'
                f"<title>{_esc(name)} · {_esc(stack)}: {_esc(_number(value))}</title></rect>"
            )
            label = _number(value)
            fits = (
                y_bottom - y_top >= LABEL_SIZE + 3
                and _text_width(label, LABEL_SIZE) + 4 <= bar_width
            )
            if len(shown) > 1 and fits:
                parts.append(
                    _text(
                        label,
                        x=x + bar_width / 2,
                        y=(y_top + y_bottom) / 2 + LABEL_SIZE * 0.35,
                        anchor="middle",
                        fill=_ink_on(colours[stack]),
                    )
                )
        if total > 0 and _text_width(_number(total), LABEL_SIZE) <= slot:
            parts.append(
                _text(_number(total), x=x + bar_width / 2, y=plot.y(total) - 4, anchor="middle")
            )
    parts.append(x_labels)

    summary = "; ".join(
        f"{name}: "
        + ", ".join(f"{stack} {_number(value)}" for stack, value in bar.items() if value > 0)
        for name, bar in series.items()
    )
    return _svg(title=title, summary=summary, width=width, height=height, body=[*legend, *parts])


def line_chart(
    points: list[tuple[str, float]],
    *,
    title: str,
    y_max: float | None = None,
    y_min: float = 0.0,
    width: int = 640,
    height: int = 220,
    no_data: str = "—",
) -> str:
    """A line through one dot per point (e.g. the average satisfaction score per week).

    The y axis runs from `y_min` to `y_max` (for scores 1 to 5, pass both), or to a
    round number above the highest value when `y_max` is None. Each dot is labelled with
    its value. An empty `points` draws `no_data` under the title.

    Raises:
        ValueError: if a value is not a finite number, or `y_max` is not above `y_min`.
    """
    if not points:
        return _no_data_svg(title=title, message=no_data, width=width, height=height)
    for _, value in points:
        if not math.isfinite(value):
            raise ValueError(f"a chart value must be a finite number, not {value!r}")
    if y_max is not None and y_max <= y_min:
        raise ValueError(f"y_max ({y_max}) must be above y_min ({y_min})")
    values = [value for _, value in points]
    high = y_max if y_max is not None else max(max(values), y_min + 1)
    ticks = _ticks(y_min, high, whole=_all_whole([*values, y_min, high]))
    tick_labels = [_format(tick, ticks) for tick in ticks]
    left = PAD + max(_text_width(label, LABEL_SIZE) for label in tick_labels) + 6
    plot = _Plot(
        left=left,
        right=width - PAD,
        top=TITLE_SIZE + 2 * PAD + LABEL_SIZE + 6,
        bottom=height - LABEL_SIZE - 2 * PAD,
        low=ticks[0],
        high=ticks[-1],
    )
    slot = plot.width / len(points)
    xy = [
        (plot.left + slot * (index + 0.5), plot.y(min(max(value, plot.low), plot.high)))
        for index, (_, value) in enumerate(points)
    ]
    parts = [_y_axis(plot, ticks, tick_labels)]
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" '
            'stroke-linejoin="round"/>'
        )
    label_every = _label_every([_number(value) for value in values], slot, size=LABEL_SIZE, gap=4.0)
    for index, ((name, value), (x, y)) in enumerate(zip(points, xy, strict=True)):
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{LINE_COLOUR}">'
            f"<title>{_esc(name)}: {_esc(_number(value))}</title></circle>"
        )
        if index % label_every == 0:
            parts.append(_text(_number(value), x=x, y=y - 7, anchor="middle"))
    parts.append(_x_labels([name for name, _ in points], plot, slot))
    summary = "; ".join(f"{name}: {_number(value)}" for name, value in points)
    return _svg(title=title, summary=summary, width=width, height=height, body=parts)


class _Plot:
    """The plotting area in SVG units, and the mapping of values onto it."""

    def __init__(
        self, *, left: float, right: float, top: float, bottom: float, low: float, high: float
    ) -> None:
        self.left = left
        self.right = right
        self.top = top
        # A chart squeezed too small still draws, just cramped.
        self.bottom = max(bottom, top + 20)
        self.low = low
        self.high = high

    @property
    def width(self) -> float:
        return self.right - self.left

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)


def _svg(*, title: str, summary: str, width: int, height: int, body: Iterable[str]) -> str:
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" role="img" aria-label="{_esc(title)}" '
            f'font-family="{_esc(FONT)}" font-size="{LABEL_SIZE}" fill="{TEXT_COLOUR}">',
            f"<title>{_esc(title)}</title>",
            f"<desc>{_esc(summary)}</desc>",
            _text(title, x=PAD, y=PAD + TITLE_SIZE, size=TITLE_SIZE, bold=True),
            *body,
            "</svg>",
        ]
    )


def _no_data_svg(*, title: str, message: str, width: int, height: int) -> str:
    middle = _text(
        message,
        x=width / 2,
        y=(height + TITLE_SIZE) / 2,
        anchor="middle",
        size=TITLE_SIZE,
        fill=AXIS_COLOUR,
        css_class="no-data",
    )
    return _svg(title=title, summary=message, width=width, height=height, body=[middle])


def _legend(
    stacks: list[str], colours: dict[str, str], *, width: int, top: float
) -> tuple[list[str], float]:
    """The legend's items, wrapped into rows across the chart, and where they end."""
    parts: list[str] = []
    x, row_top = float(PAD), top
    for stack in stacks:
        item_width = SWATCH + 4 + _text_width(stack, LABEL_SIZE)
        if x > PAD and x + item_width > width - PAD:
            x, row_top = float(PAD), row_top + LEGEND_ROW
        parts.append(
            f'<rect class="swatch" x="{x:.1f}" y="{row_top:.1f}" width="{SWATCH}" '
            f'height="{SWATCH}" fill="{colours[stack]}"/>'
        )
        parts.append(_text(stack, x=x + SWATCH + 4, y=row_top + SWATCH - 1, css_class="legend"))
        x += item_width + 14
    return parts, row_top + LEGEND_ROW


def _y_axis(plot: _Plot, ticks: list[float], labels: list[str]) -> str:
    parts = []
    for tick, label in zip(ticks, labels, strict=True):
        y = plot.y(tick)
        colour = AXIS_COLOUR if tick == ticks[0] else GRID_COLOUR
        parts.append(
            f'<line x1="{plot.left:.1f}" y1="{y:.1f}" x2="{plot.right:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(
            _text(label, x=plot.left - 6, y=y + LABEL_SIZE * 0.35, anchor="end", fill=AXIS_COLOUR)
        )
    return "".join(parts)


def _x_labels(names: list[str], plot: _Plot, slot: float) -> str:
    """The category labels under the plot; only every n-th when they would overlap."""
    every = _label_every(names, slot, size=LABEL_SIZE, gap=6.0)
    return "".join(
        _text(
            name,
            x=plot.left + slot * (index + 0.5),
            y=plot.bottom + LABEL_SIZE + 6,
            anchor="middle",
            fill=AXIS_COLOUR,
        )
        for index, name in enumerate(names)
        if index % every == 0
    )


def _label_every(labels: list[str], slot: float, *, size: int, gap: float) -> int:
    widest = max(_text_width(label, size) for label in labels) + gap
    return max(1, math.ceil(widest / slot)) if slot > 0 else 1


def _text(
    text: str,
    *,
    x: float,
    y: float,
    anchor: str = "start",
    size: int = LABEL_SIZE,
    fill: str | None = None,
    bold: bool = False,
    css_class: str | None = None,
) -> str:
    attributes = [f'x="{x:.1f}"', f'y="{y:.1f}"']
    if anchor != "start":
        attributes.append(f'text-anchor="{anchor}"')
    if size != LABEL_SIZE:
        attributes.append(f'font-size="{size}"')
    if fill is not None:
        attributes.append(f'fill="{fill}"')
    if bold:
        attributes.append('font-weight="bold"')
    if css_class is not None:
        attributes.append(f'class="{css_class}"')
    return f"<text {' '.join(attributes)}>{_esc(text)}</text>"


def _ticks(low: float, high: float, *, whole: bool) -> list[float]:
    """Round tick values from `low` up to at least `high`, mostly 4 to 6 of them.

    Steps are 1, 2, 2.5 or 5 times a power of ten: the smallest giving at most four
    intervals, or five when that gives fewer than four (0-10 gets 0, 2, ..., 10).
    Whole-number data keeps whole steps, so 0-2 gets 0, 1, 2.
    """
    span = high - low if high > low else 1.0
    power = 10.0 ** math.floor(math.log10(span / 5))
    previous: tuple[float, int] | None = None
    while True:
        for factor in (1.0, 2.0, 2.5, 5.0):
            step = power * factor
            if whole and not step.is_integer():
                continue
            intervals = math.ceil(span / step - 1e-9)
            if intervals <= 4:
                if intervals < 4 and previous is not None and previous[1] == 5:
                    step, intervals = previous
                return [low + step * index for index in range(intervals + 1)]
            previous = (step, intervals)
        power *= 10


def _format(value: float, ticks: list[float]) -> str:
    """A tick label with as many decimals as the step needs (2.5 keeps one, 0.25 two)."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = next((d for d in range(7) if abs(round(step, d) - step) < 1e-9 * step), 6)
    return f"{value:,.{decimals}f}"


def _number(value: float) -> str:
    """A value as people read it: no ``.0`` on whole numbers, at most 2 decimals."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _all_whole(values: Iterable[float]) -> bool:
    return all(float(value).is_integer() for value in values)


def _check_value(value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a bar value must be a finite number of at least 0, not {value!r}")


def _text_width(text: str, size: int) -> float:
    """Roughly how wide `text` is drawn: CJK characters are square, others narrower."""
    return sum(
        size if unicodedata.east_asian_width(char) in ("W", "F") else size * 0.6 for char in text
    )


def _ink_on(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (``#RRGGBB``)."""
    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    return "#000000" if luminance > 140 else "#FFFFFF"


def _esc(text: str) -> str:
    """Text made safe inside SVG: markup escaped, characters XML forbids dropped."""
    return html.escape(_CONTROL_CHARACTERS.sub("", text), quote=True)

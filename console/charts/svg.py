"""What the console's charts share: the palette, the plotting area, axes, legends and
escaped text, drawn as SVG."""

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


class Plot:
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


def svg(*, title: str, summary: str, width: int, height: int, body: Iterable[str]) -> str:
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" role="img" aria-label="{esc(title)}" '
            f'font-family="{esc(FONT)}" font-size="{LABEL_SIZE}" fill="{TEXT_COLOUR}">',
            f"<title>{esc(title)}</title>",
            f"<desc>{esc(summary)}</desc>",
            text(title, x=PAD, y=PAD + TITLE_SIZE, size=TITLE_SIZE, bold=True),
            *body,
            "</svg>",
        ]
    )


def no_data_svg(*, title: str, message: str, width: int, height: int) -> str:
    middle = text(
        message,
        x=width / 2,
        y=(height + TITLE_SIZE) / 2,
        anchor="middle",
        size=TITLE_SIZE,
        fill=AXIS_COLOUR,
        css_class="no-data",
    )
    return svg(title=title, summary=message, width=width, height=height, body=[middle])


def legend(
    stacks: list[str], colours: dict[str, str], *, width: int, top: float
) -> tuple[list[str], float]:
    """The legend's items, wrapped into rows across the chart, and where they end."""
    parts: list[str] = []
    x, row_top = float(PAD), top
    for stack in stacks:
        item_width = SWATCH + 4 + text_width(stack, LABEL_SIZE)
        if x > PAD and x + item_width > width - PAD:
            x, row_top = float(PAD), row_top + LEGEND_ROW
        parts.append(
            f'<rect class="swatch" x="{x:.1f}" y="{row_top:.1f}" width="{SWATCH}" '
            f'height="{SWATCH}" fill="{colours[stack]}"/>'
        )
        parts.append(text(stack, x=x + SWATCH + 4, y=row_top + SWATCH - 1, css_class="legend"))
        x += item_width + 14
    return parts, row_top + LEGEND_ROW


def y_axis(plot: Plot, ticks: list[float], labels: list[str]) -> str:
    parts = []
    for tick, label in zip(ticks, labels, strict=True):
        y = plot.y(tick)
        colour = AXIS_COLOUR if tick == ticks[0] else GRID_COLOUR
        parts.append(
            f'<line x1="{plot.left:.1f}" y1="{y:.1f}" x2="{plot.right:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(
            text(label, x=plot.left - 6, y=y + LABEL_SIZE * 0.35, anchor="end", fill=AXIS_COLOUR)
        )
    return "".join(parts)


def x_labels(names: list[str], plot: Plot, slot: float) -> str:
    """The category labels under the plot; only every n-th when they would overlap."""
    every = label_every(names, slot, size=LABEL_SIZE, gap=6.0)
    return "".join(
        text(
            name,
            x=plot.left + slot * (index + 0.5),
            y=plot.bottom + LABEL_SIZE + 6,
            anchor="middle",
            fill=AXIS_COLOUR,
        )
        for index, name in enumerate(names)
        if index % every == 0
    )


def label_every(labels: list[str], slot: float, *, size: int, gap: float) -> int:
    widest = max(text_width(label, size) for label in labels) + gap
    return max(1, math.ceil(widest / slot)) if slot > 0 else 1


def text(
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
    return f"<text {' '.join(attributes)}>{esc(text)}</text>"


def ticks(low: float, high: float, *, whole: bool) -> list[float]:
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


def tick_text(value: float, ticks: list[float]) -> str:
    """A tick label with as many decimals as the step needs (2.5 keeps one, 0.25 two)."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = next((d for d in range(7) if abs(round(step, d) - step) < 1e-9 * step), 6)
    return f"{value:,.{decimals}f}"


def number(value: float) -> str:
    """A value as people read it: no ``.0`` on whole numbers, at most 2 decimals."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def all_whole(values: Iterable[float]) -> bool:
    return all(float(value).is_integer() for value in values)


def check_value(value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a bar value must be a finite number of at least 0, not {value!r}")


def text_width(text: str, size: int) -> float:
    """Roughly how wide `text` is drawn: CJK characters are square, others narrower."""
    return sum(
        size if unicodedata.east_asian_width(char) in ("W", "F") else size * 0.6 for char in text
    )


def ink_on(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (``#RRGGBB``)."""
    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    return "#000000" if luminance > 140 else "#FFFFFF"


def esc(text: str) -> str:
    """Text made safe inside SVG: markup escaped, characters XML forbids dropped."""
    return html.escape(_CONTROL_CHARACTERS.sub("", text), quote=True)

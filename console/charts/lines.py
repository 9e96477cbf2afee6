"""Line charts: one line with its values written by the dots, or several with a legend."""

from __future__ import annotations

import math

from console.charts import svg as draw


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
    return lines_chart(
        {title: points},
        title=title,
        y_max=y_max,
        y_min=y_min,
        width=width,
        height=height,
        no_data=no_data,
    )


def lines_chart(
    series: dict[str, list[tuple[str, float]]],
    *,
    title: str,
    y_max: float | None = None,
    y_min: float = 0.0,
    width: int = 640,
    height: int = 220,
    no_data: str = "—",
) -> str:
    """One line per entry of `series` (e.g. groups), over the same x labels (e.g. days).

    With one line, as `line_chart`. With several, each keeps a colour of the palette and
    is named in a legend; the dots are not labelled (hovering shows their values).
    `series` with no points at all draws `no_data` under the title.

    Raises:
        ValueError: if a value is not a finite number, if the lines do not share their x
            labels, or if `y_max` is not above `y_min`.
    """
    lines = {name: points for name, points in series.items() if points}
    if not lines:
        return draw.no_data_svg(title=title, message=no_data, width=width, height=height)
    names = [label for label, _ in next(iter(lines.values()))]
    values = [value for points in lines.values() for _, value in points]
    for value in values:
        if not math.isfinite(value):
            raise ValueError(f"a chart value must be a finite number, not {value!r}")
    if any([label for label, _ in points] != names for points in lines.values()):
        raise ValueError("the lines of one chart must share their x labels")
    if y_max is not None and y_max <= y_min:
        raise ValueError(f"y_max ({y_max}) must be above y_min ({y_min})")
    single = len(lines) == 1
    colours = {
        name: draw.LINE_COLOUR if single else draw.PALETTE[index % len(draw.PALETTE)]
        for index, name in enumerate(lines)
    }
    legend: list[str] = []
    top: float = draw.TITLE_SIZE + 2 * draw.PAD + draw.LABEL_SIZE + 6
    if not single:
        legend, top = draw.legend(
            list(lines), colours, width=width, top=draw.TITLE_SIZE + 2 * draw.PAD
        )
    high = y_max if y_max is not None else max(max(values), y_min + 1)
    ticks = draw.ticks(y_min, high, whole=draw.all_whole([*values, y_min, high]))
    tick_labels = [draw.tick_text(tick, ticks) for tick in ticks]
    left = draw.PAD + max(draw.text_width(label, draw.LABEL_SIZE) for label in tick_labels) + 6
    plot = draw.Plot(
        left=left,
        right=width - draw.PAD,
        top=top,
        bottom=height - draw.LABEL_SIZE - 2 * draw.PAD,
        low=ticks[0],
        high=ticks[-1],
    )
    slot = plot.width / len(names)
    parts = [draw.y_axis(plot, ticks, tick_labels)]
    for line, points in lines.items():
        parts += _line(plot, slot, points, colour=colours[line], labelled=single)
    parts.append(draw.x_labels(names, plot, slot))
    if single:
        summary = _described(next(iter(lines.values())))
    else:
        summary = " | ".join(f"{line}: {_described(points)}" for line, points in lines.items())
    return draw.svg(title=title, summary=summary, width=width, height=height, body=legend + parts)


def _described(points: list[tuple[str, float]]) -> str:
    return "; ".join(f"{name}: {draw.number(value)}" for name, value in points)


def _line(
    plot: draw.Plot,
    slot: float,
    points: list[tuple[str, float]],
    *,
    colour: str,
    labelled: bool,
) -> list[str]:
    xy = [
        (plot.left + slot * (index + 0.5), plot.y(min(max(value, plot.low), plot.high)))
        for index, (_, value) in enumerate(points)
    ]
    parts = []
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
            'stroke-linejoin="round"/>'
        )
    label_every = draw.label_every(
        [draw.number(value) for _, value in points], slot, size=draw.LABEL_SIZE, gap=4.0
    )
    for index, ((name, value), (x, y)) in enumerate(zip(points, xy, strict=True)):
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
            f"<title>{draw.esc(name)}: {draw.esc(draw.number(value))}</title></circle>"
        )
        if labelled and index % label_every == 0:
            parts.append(draw.text(draw.number(value), x=x, y=y - 7, anchor="middle"))
    return parts

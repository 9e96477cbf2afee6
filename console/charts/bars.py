"""Stacked bar charts."""

from __future__ import annotations

from console.charts import svg as draw


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
        return draw.no_data_svg(title=title, message=no_data, width=width, height=height)
    for bar in series.values():
        for value in bar.values():
            draw.check_value(value)
    stacks = list(
        dict.fromkeys(stack for bar in series.values() for stack, value in bar.items() if value > 0)
    )
    colours = {stack: draw.PALETTE[index % len(draw.PALETTE)] for index, stack in enumerate(stacks)}

    legend, legend_bottom = draw.legend(
        stacks, colours, width=width, top=draw.TITLE_SIZE + 2 * draw.PAD
    )
    totals = [sum(value for value in bar.values() if value > 0) for bar in series.values()]
    ticks = draw.ticks(0.0, max(totals), whole=draw.all_whole(totals))
    tick_labels = [draw.tick_text(tick, ticks) for tick in ticks]
    left = draw.PAD + max(draw.text_width(label, draw.LABEL_SIZE) for label in tick_labels) + 6
    plot = draw.Plot(
        left=left,
        right=width - draw.PAD,
        top=legend_bottom + draw.LABEL_SIZE + 6,
        bottom=height - draw.LABEL_SIZE - 2 * draw.PAD,
        low=ticks[0],
        high=ticks[-1],
    )

    parts = [draw.y_axis(plot, ticks, tick_labels)]
    slot = plot.width / len(series)
    bar_width = min(slot * 0.7, 56.0)
    x_labels = draw.x_labels(list(series), plot, slot)
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
                f"<title>{draw.esc(name)} · {draw.esc(stack)}: "
                f"{draw.esc(draw.number(value))}</title></rect>"
            )
            label = draw.number(value)
            fits = (
                y_bottom - y_top >= draw.LABEL_SIZE + 3
                and draw.text_width(label, draw.LABEL_SIZE) + 4 <= bar_width
            )
            if len(shown) > 1 and fits:
                parts.append(
                    draw.text(
                        label,
                        x=x + bar_width / 2,
                        y=(y_top + y_bottom) / 2 + draw.LABEL_SIZE * 0.35,
                        anchor="middle",
                        fill=draw.ink_on(colours[stack]),
                    )
                )
        if total > 0 and draw.text_width(draw.number(total), draw.LABEL_SIZE) <= slot:
            parts.append(
                draw.text(
                    draw.number(total), x=x + bar_width / 2, y=plot.y(total) - 4, anchor="middle"
                )
            )
    parts.append(x_labels)

    summary = "; ".join(
        f"{name}: "
        + ", ".join(f"{stack} {draw.number(value)}" for stack, value in bar.items() if value > 0)
        for name, bar in series.items()
    )
    return draw.svg(
        title=title, summary=summary, width=width, height=height, body=[*legend, *parts]
    )

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from console.charts import PALETTE, bar_chart, line_chart, lines_chart

SVG = "{http://www.w3.org/2000/svg}"
TITLE = "每週客訴 Complaints per week"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def with_class(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == css_class]


def test_bar_chart_draws_one_rect_per_non_zero_stack_with_a_legend() -> None:
    series = {
        "2026-W47": {"carrier_delay": 3, "defect": 1, "unknown": 0},
        "2026-W48": {"defect": 2, "缺貨": 4},
        "2026-W49": {},
    }
    root = parse(bar_chart(series, title=TITLE))

    assert root.get("role") == "img"
    assert root.get("aria-label") == TITLE
    assert root.findtext(f"{SVG}title") == TITLE
    assert root.get("width") == "100%"
    assert root.get("viewBox") == "0 0 640 260"
    bars = with_class(root, "rect", "bar")
    assert len(bars) == 4
    # A stack keeps its colour in every bar, in the order the stacks first appear.
    assert [bar.get("fill") for bar in bars] == [PALETTE[0], PALETTE[1], PALETTE[1], PALETTE[2]]
    assert [bar.findtext(f"{SVG}title") for bar in bars] == [
        "2026-W47 · carrier_delay: 3",
        "2026-W47 · defect: 1",
        "2026-W48 · defect: 2",
        "2026-W48 · 缺貨: 4",
    ]
    legend = [e.text for e in with_class(root, "text", "legend")]
    assert legend == ["carrier_delay", "defect", "缺貨"]  # nothing to show for "unknown"
    assert len(with_class(root, "rect", "swatch")) == 3
    labels = texts(root)
    assert {"2026-W47", "2026-W48", "2026-W49"} <= set(labels)
    assert labels.count("4") >= 1 and "6" in labels  # totals above the bars
    assert TITLE in labels


def test_bar_heights_follow_the_values_on_round_y_ticks() -> None:
    root = parse(bar_chart({"a": {"x": 3, "y": 4}, "b": {"x": 2}}, title="t"))
    heights = [float(bar.get("height", "0")) for bar in with_class(root, "rect", "bar")]
    assert heights[0] / heights[2] == pytest.approx(3 / 2, rel=0.01)
    assert heights[1] / heights[2] == pytest.approx(4 / 2, rel=0.01)
    ticks = [t for t in texts(root) if t in {"0", "2", "4", "6", "8"}]
    assert ticks[:5] == ["0", "2", "4", "6", "8"]


def test_labels_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    svg = bar_chart({evil: {evil: 1, "ok": 2}}, title=f"{evil} & co")
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg)
    assert root.get("aria-label") == f"{evil} & co"
    assert evil in texts(root)
    assert "<script>" not in line_chart([(evil, 1.0)], title=evil)
    assert parse(line_chart([(evil, 1.0)], title=evil)).findtext(f"{SVG}title") == evil


def test_empty_data_draws_the_no_data_svg() -> None:
    for svg in (
        bar_chart({}, title=TITLE, no_data="無資料 No data"),
        line_chart([], title=TITLE, no_data="無資料 No data"),
    ):
        root = parse(svg)
        assert root.get("role") == "img"
        assert root.findtext(f"{SVG}title") == TITLE
        assert [e.text for e in with_class(root, "text", "no-data")] == ["無資料 No data"]
        assert not with_class(root, "rect", "bar")
        assert root.find(f"{SVG}polyline") is None


def test_all_zero_weeks_draw_axes_without_bars() -> None:
    root = parse(bar_chart({"2026-W47": {"defect": 0}, "2026-W48": {}}, title="t"))
    assert not with_class(root, "rect", "bar")
    assert not with_class(root, "text", "no-data")
    assert {"0", "1"} <= set(texts(root))


def test_bar_chart_refuses_negative_values() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        bar_chart({"w": {"x": -1}}, title="t")


def test_line_chart_has_a_dot_and_a_label_per_point() -> None:
    points = [("2026-W46", 4.5), ("2026-W47", 3.67), ("2026-W48", 3.0)]
    root = parse(line_chart(points, title="滿意度 CSAT", y_min=1, y_max=5))
    dots = with_class(root, "circle", "dot")
    assert len(dots) == 3
    assert [dot.findtext(f"{SVG}title") for dot in dots] == [
        "2026-W46: 4.5",
        "2026-W47: 3.67",
        "2026-W48: 3",
    ]
    line = root.find(f"{SVG}polyline")
    assert line is not None
    assert len(line.get("points", "").split()) == 3
    labels = texts(root)
    assert {"4.5", "3.67", "3", "2026-W46", "2026-W48"} <= set(labels)
    assert [t for t in labels if t in {"1", "2", "3", "4", "5"}][:5] == ["1", "2", "3", "4", "5"]
    # Higher scores sit higher: a smaller y in SVG.
    ys = [float(dot.get("cy", "0")) for dot in dots]
    assert ys[0] < ys[1] < ys[2]


def test_line_chart_with_one_point_has_no_line() -> None:
    root = parse(line_chart([("2026-W47", 80.0)], title="t"))
    assert len(with_class(root, "circle", "dot")) == 1
    assert root.find(f"{SVG}polyline") is None


def test_crowded_week_labels_are_thinned() -> None:
    weeks = {f"2026-W{week:02d}": {"x": 1.0} for week in range(1, 41)}
    root = parse(bar_chart(weeks, title="t"))
    shown = [t for t in texts(root) if t.startswith("2026-W")]
    assert 5 <= len(shown) < 40
    assert shown[0] == "2026-W01"
    assert len(with_class(root, "rect", "bar")) == 40


def test_several_lines_share_the_axes_and_are_named_in_a_legend() -> None:
    svg = lines_chart(
        {
            "收到訊息": [("1", 0.0), ("2", 1.5), ("3", 4.0)],
            "對照組": [("1", 0.0), ("2", 0.5), ("3", 1.0)],
        },
        title="累計下單比例",
    )
    assert svg.count("<polyline") == 2 and svg.count('class="swatch"') == 2
    assert "收到訊息" in svg and "對照組" in svg
    assert f'stroke="{PALETTE[0]}"' in svg and f'stroke="{PALETTE[1]}"' in svg
    with pytest.raises(ValueError, match="share their x labels"):
        lines_chart({"a": [("1", 1.0)], "b": [("2", 1.0)]}, title="t")
    assert "—" in lines_chart({"a": [], "b": []}, title="t")

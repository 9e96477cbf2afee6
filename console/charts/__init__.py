"""Charts for the staff console, drawn on the server as SVG: no JavaScript, no library.

Each chart is an ``<svg>`` string to put straight into a page. It scales to its container
(``viewBox`` with ``width="100%"``), so the same chart works on a phone and on a desk.
All words come from the caller, who passes them in the reader's language; every piece of
text is escaped here. Hovering a bar or a dot shows its exact value (``<title>``).
"""

from console.charts.bars import bar_chart
from console.charts.lines import line_chart, lines_chart
from console.charts.svg import PALETTE

__all__ = ["PALETTE", "bar_chart", "line_chart", "lines_chart"]

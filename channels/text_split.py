"""Long text cut into parts a channel accepts, at the most natural place that fits.

Preference: between paragraphs, then after a sentence (English or Chinese
punctuation), then between words, and only as a last resort in the middle of a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Positions right after a paragraph break, a sentence end, or a space.
_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n|(?<=[.!?…])\s+|(?<=[。！？；])"),
    re.compile(r"\s+|(?<=[，、,])"),
)


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """`text` in parts of at most `limit` by `measure`, stripped, none empty."""
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    parts: list[str] = []
    while text:
        if measure(text) <= limit:
            parts.append(text)
            break
        cut = _cut(text, limit, measure)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [part for part in parts if part]


def _longest_prefix(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The most characters from the start of `text` that fit in `limit`."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _cut(text: str, limit: int, measure: Callable[[str], int]) -> int:
    fits = _longest_prefix(text, limit, measure)
    for pattern in _BREAKS:
        ends = [match.end() for match in pattern.finditer(text, 0, fits + 1) if match.end() <= fits]
        # A break in the first third would leave a stub; look for a coarser-grained one.
        good = [end for end in ends if end > fits // 3]
        if good:
            return good[-1]
    return fits

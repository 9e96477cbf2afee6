"""How much text a channel takes in one message, and long text cut to fit.

`split_for_channel` is what the outbox uses: a Telegram message holds 4,096
characters, a LINE text 5,000, an SMS 1,600 (`split_sms`), and the web chat takes any
length. Text is cut at the most natural place that fits (`split_text`): between
paragraphs, then after a sentence (English or Chinese punctuation), then between
words, and only as a last resort in the middle of a word.

What an SMS costs: a message in the GSM 03.38 alphabet costs 160 septets in one
segment, 153 per segment when concatenated; characters of the extension table cost
two. Anything else (any Chinese) is sent as UCS-2: 70 UTF-16 code units in one
segment, 67 when concatenated. Twilio accepts up to 1,600 characters per message and
concatenates the segments.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from crm_store.models import Channel

TELEGRAM_MAX_CHARS = 4096
LINE_MAX_CHARS = 5000  # a LINE text message
MAX_MESSAGE_CHARS = 1600  # an SMS, as Twilio takes it


def split_for_channel(channel: Channel, text: str) -> list[str]:
    """A text in the parts `channel` takes in one message each."""
    if channel is Channel.TELEGRAM:
        return split_text(text, TELEGRAM_MAX_CHARS)
    if channel is Channel.SMS:
        return split_sms(text)
    if channel is Channel.LINE:
        return split_text(text, LINE_MAX_CHARS)
    return [text.strip()]


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


def split_sms(text: str, max_chars: int = MAX_MESSAGE_CHARS) -> list[str]:
    """`text` as messages of at most `max_chars` characters, cut between sentences."""
    return split_text(text, max_chars)


GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


class SmsEncoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: SmsEncoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def count_segments(text: str) -> SegmentCount:
    if is_gsm7(text):
        costs = [2 if char in GSM7_EXTENSION else 1 for char in text]
        single, multi, encoding = 160, 153, SmsEncoding.GSM7
    else:
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, multi, encoding = 70, 67, SmsEncoding.UCS2
    units = sum(costs)
    return SegmentCount(
        encoding=encoding,
        units=units,
        segments=1 if units <= single else _packed(costs, multi),
    )


def _packed(costs: list[int], size: int) -> int:
    """Segments needed when an escape pair or a surrogate pair never straddles two."""
    segments, used = 1, 0
    for cost in costs:
        if used + cost > size:
            segments, used = segments + 1, 0
        used += cost
    return segments

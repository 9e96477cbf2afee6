"""SMS text: how many segments a text costs, and long replies cut to fit.

A message in the GSM 03.38 alphabet costs 160 septets in one segment, 153 per segment
when concatenated; characters of the extension table cost two. Anything else (any
Chinese) is sent as UCS-2: 70 UTF-16 code units in one segment, 67 when concatenated.
Twilio accepts up to 1,600 characters per message and concatenates the segments.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from channels.text_split import split_text

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_MESSAGE_CHARS = 1600


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


def split_sms(text: str, max_chars: int = MAX_MESSAGE_CHARS) -> list[str]:
    """`text` as messages of at most `max_chars` characters, cut between sentences."""
    return split_text(text, max_chars)

"""What the fake Twilio records, its error table, and SMS segment counting."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TypedDict

TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "fa4e" * 8


TwilioSent = TypedDict(
    "TwilioSent",
    {
        "to": str,
        "from": str | None,
        "messaging_service_sid": str | None,
        "body": str,
        "status_callback": str | None,
        "sid": str,
        "at": float,
    },
)
TwilioSent.__doc__ = "One message the fake Twilio accepted."


class TwilioCall(TypedDict):
    """One request to the fake Twilio, whatever its outcome; `to` is the To field, if any."""

    method: str
    path: str
    to: str | None
    params: dict[str, str]
    status: int
    at: float


@dataclass
class TwilioFailure:
    status: int
    code: int
    message: str
    to: str | None
    times: int
    retry_after: int | None


TWILIO_ERRORS = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
TWILIO_MAX_BODY = 1600
E164 = re.compile(r"(?:whatsapp:)?\+[1-9]\d{6,14}")
API_ROOT = "/2010-04-01"
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(body: str) -> int:
    """How many SMS segments Twilio bills for `body` (GSM-7 160/153, else UCS-2 70/67)."""
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in body):
        septets = sum(2 if char in _GSM7_EXTENDED else 1 for char in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))  # "Thu, 24 Aug 2023 05:01:45 +0000"

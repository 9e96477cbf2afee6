"""Taiwan's rules for SMS to Taiwanese numbers (+886), checked when a message is sent.

Taiwan's carriers and regulator expect of an SMS to a Taiwanese number:

- it starts with the sender's tag, the shop's name in 【】 (`tagged`), since the
  number it comes from says nothing of who sent it;
- promotional messages are not sent 12:30–13:30 or 21:00–09:00 Taipei time
  (`promotional_quiet_until`): they wait, they are not dropped;
- a promotional message with a link or a phone number in it is refused unless the
  shop registered that link or number (`SMS_ALLOWED_LINKS`; `link_refusal`), as
  carriers block unregistered URLs in marketing traffic.

And where the provider cannot carry a reply, a bot's answer says how to reach the
shop instead (`one_way_footer`). The rules are Taiwan's whichever provider carries the
message: they apply to Taiwanese numbers only, and other numbers are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

TAIPEI = ZoneInfo("Asia/Taipei")
TAIWAN_PREFIX = "+886"

# Promotional SMS wait out these Taipei times: (start, end), an end before the start
# running over midnight.
PROMOTIONAL_QUIET_HOURS = ((time(12, 30), time(13, 30)), (time(21, 0), time(9, 0)))

# A link as a phone shows one: with a scheme, www., or a bare domain (lin.ee/abc). Wider
# than needed rather than narrower: carriers block what merely looks like a link.
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'，。、！？）)」]+"
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,24}\b"
    r"(?:/[^\s<>\"'，。、！？）)」]*)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class TaiwanSms:
    """What the rules need of the shop's settings."""

    shop_name: str
    # Links (a domain, or a domain and path) and phone numbers the shop registered.
    allowed_links: tuple[str, ...] = ()
    # The shop's LINE ID, told to customers when SMS replies cannot reach us.
    line_id: str | None = None
    # Whether the provider carries replies from Taiwanese numbers back to us.
    two_way: bool = False


def is_taiwanese(address: str) -> bool:
    """Whether an SMS address (E.164) is a Taiwanese number."""
    return address.startswith(TAIWAN_PREFIX)


def sender_tag(shop_name: str) -> str:
    return f"【{shop_name}】"


def tagged(text: str, *, shop_name: str) -> str:
    """`text` starting with the shop's sender tag (once, however often it is applied)."""
    tag = sender_tag(shop_name)
    return text if text.startswith(tag) else tag + text


def promotional_quiet_until(now: datetime) -> datetime | None:
    """When a promotional SMS may go, if `now` falls in Taiwan's quiet hours; else None."""
    local = now.astimezone(TAIPEI)
    clock = local.time()
    for start, end in PROMOTIONAL_QUIET_HOURS:
        if start < end and start <= clock < end:
            return datetime.combine(local.date(), end, TAIPEI)
        if start > end and (clock >= start or clock < end):
            day = local.date() + timedelta(days=1) if clock >= start else local.date()
            return datetime.combine(day, end, TAIPEI)
    return None


def _link_key(link: str) -> str:
    """A link without its scheme, www. or trailing slash, in lower case: how it is compared."""
    bare = re.sub(r"^(?:https?://)?(?:www\.)?", "", link.strip(), flags=re.IGNORECASE)
    return bare.rstrip("/").lower()


def _phone_key(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, "TW")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def links_in(text: str) -> list[str]:
    """The links, then the phone numbers, in `text`, as written."""
    links = [match.group(0).rstrip(".,;:!?") for match in _LINK.finditer(text)]
    # Digits inside a link are part of it, not a number to call.
    rest = _LINK.sub(" ", text)
    return links + [match.raw_string for match in phonenumbers.PhoneNumberMatcher(rest, "TW")]


def _allowed(found: str, allowed: Iterable[str]) -> bool:
    if _LINK.fullmatch(found):
        key = _link_key(found)
        registered = [_link_key(entry) for entry in allowed]
        return any(entry and (key == entry or key.startswith(entry + "/")) for entry in registered)
    phone = _phone_key(found)
    return phone is not None and any(_phone_key(entry) == phone for entry in allowed)


def link_refusal(text: str, *, allowed: Iterable[str]) -> str | None:
    """Why a promotional SMS with `text` may not go to a Taiwanese number; None when it may."""
    allowed = tuple(allowed)
    refused = [found for found in links_in(text) if not _allowed(found, allowed)]
    if not refused:
        return None
    return f"not in SMS_ALLOWED_LINKS: {', '.join(dict.fromkeys(refused))}"


def one_way_footer(text: str, *, line_id: str) -> str:
    """A line telling the customer where to answer, in the language `text` is written in."""
    if re.search(r"[\u4e00-\u9fff]", text):
        return f"（此號碼無法接收回覆，請加 LINE：{line_id}）"
    return f"(Replies to this number are not read; message us on LINE: {line_id})"


def template_refusals(
    templates: Mapping[str, str | Sequence[str]], *, rules: TaiwanSms | None, sms_recipients: int
) -> list[str]:
    """Why a campaign's SMS to Taiwanese numbers would be refused, a line per template
    (a language's text, or each of its variants); none when no recipient is on SMS or
    no rules apply (`rules`: the sending policy's, None without a Taiwanese provider)."""
    if rules is None or not sms_recipients:
        return []
    lines = []
    for language, value in templates.items():
        for text in [value] if isinstance(value, str) else value:
            refusal = link_refusal(text, allowed=rules.allowed_links)
            if refusal is not None:
                lines.append(f"{language}: {refusal}")
    return lines

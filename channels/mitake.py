"""Mitake (三竹資訊) SMS for Taiwanese numbers: its SmSend HTTP API and its delivery reports.

Why Mitake and not EVERY8D: Mitake's SmSend is one form post (``username``,
``password``, ``dstaddr``, ``smbody``) answered in ``key=value`` lines, and it does the
two things the outbox needs of a provider. It takes our own id for each message
(``clientid``) and never sends one it has seen again, answering ``Duplicate=Y`` with the
first message's id, so a row sent again after a crash or a timeout goes out once without
asking anything first. And it calls the address we give with each message
(``response``) with every change of its delivery state, so reports come to the gateway
as Twilio's do. EVERY8D needs a login token fetched and renewed before sending and its
delivery reports are fetched by polling each batch, which gives neither guarantee.

Mitake does not sign its delivery reports: the address we give holds a secret
(``MITAKE_CALLBACK_TOKEN``) the gateway checks in constant time, and a report without
it is refused. Mitake accounts are one-way (customers cannot answer by SMS), which
`channels.sms_regions` tells customers about.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import datetime

import httpx
from sqlalchemy.orm import Session

# The module, not its names: `channels.senders` wires this sender in.
from channels import senders
from channels.inbound import MalformedPayload
from crm_store import outbox_results
from crm_store.models import Channel, ChannelIdentity, DeliveryStatus
from crm_store.settings import Settings

# Mitake takes at most this many connections per account at once.
MAX_CONNECTIONS = 10
CALLBACK_PATH = "/sms/mitake/status/"

# SmSend's statuscode: the message was taken (scheduled, with the carrier, delivered) …
ACCEPTED = frozenset({"0", "1", "2", "4"})
# … or not, for a reason that passes: the row is tried again later. Account trouble is
# among them, so that messages go out once the shop has put it right.
TEMPORARY = {
    "*": "system error",
    "a": "sending paused",
    "b": "sending paused",
    "e": "wrong username or password",
    "f": "account expired",
    "h": "account disabled",
    "k": "address not allowed",
    "l": "too many connections",
    "m": "password must be changed",
    "n": "password expired",
    "p": "HTTP API not enabled for the account",
    "r": "service paused",
    "s": "accounting failed (points used up?)",
}
# The number itself cannot take our messages.
UNREACHABLE = {"6": "wrong number", "v": "not a mobile number"}
PERMANENT = {
    "5": "content refused",
    "7": "message disabled",
    "8": "not delivered in time",
    "9": "cancelled",
    "t": "expired",
    "u": "empty text",
    "x": "too large",
    "y": "wrong parameters",
}

# A delivery report's StatusFlag, as our delivery states.
DELIVERY_STATUS = {
    "0": DeliveryStatus.QUEUED,
    "1": DeliveryStatus.SENT,
    "2": DeliveryStatus.SENT,
    "4": DeliveryStatus.DELIVERED,
    "5": DeliveryStatus.FAILED,
    "6": DeliveryStatus.FAILED,
    "7": DeliveryStatus.FAILED,
    "8": DeliveryStatus.FAILED,
    "9": DeliveryStatus.FAILED,
}
_MESSAGE_ID = re.compile(r"#?[0-9A-Za-z]{1,20}")
_STATUS_TEXT = re.compile(r"[A-Z_]{1,16}")


def client_id(outbox_id: int) -> str:
    """Our id for an outbox row at Mitake (at most 36 characters, never reused)."""
    return f"crmbot-{outbox_id}"


def local_number(address: str) -> str:
    """+886912345678 as Mitake takes it: 0912345678."""
    return "0" + address.removeprefix("+886") if address.startswith("+886") else address


def parse_answer(text: str) -> dict[str, str]:
    """SmSend's answer (``[1]`` then ``key=value`` lines) as a mapping."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, equals, value = line.strip().partition("=")
        if equals:
            fields.setdefault(key.strip(), value.strip())
    return fields


class MitakeSender:
    """Sends SMS through Mitake's SmSend, each keyed by its outbox row."""

    channel = Channel.SMS

    def __init__(
        self, *, username: str, password: str, api_url: str, status_callback: str | None
    ) -> None:
        self._account = {"username": username, "password": password}
        self._api_url, self._status_callback = api_url, status_callback
        self._client = httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=MAX_CONNECTIONS)
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, message: senders.Outgoing) -> str | None:
        form = {**self._account, "dstaddr": local_number(message.address), "smbody": message.text}
        if message.outbox_id is not None:
            form["clientid"] = client_id(message.outbox_id)
        if self._status_callback is not None:
            form["response"] = self._status_callback
        try:
            answer = await self._client.post(self._api_url, data=form)
        except httpx.HTTPError as error:
            raise senders.TemporaryFailure(f"Mitake unreachable: {error!r}") from error
        if answer.status_code != 200:
            raise senders.TemporaryFailure(f"Mitake answered HTTP {answer.status_code}")
        fields = parse_answer(answer.text)
        code = fields.get("statuscode", "")
        if code in ACCEPTED and fields.get("msgid"):
            return fields["msgid"]
        if code in TEMPORARY:
            raise senders.TemporaryFailure(f"Mitake {code}: {TEMPORARY[code]}")
        if code in UNREACHABLE:
            raise senders.PermanentFailure(f"Mitake {code}: {UNREACHABLE[code]}", unreachable=True)
        reason = PERMANENT.get(code) or fields.get("Error") or "unexpected answer"
        raise senders.PermanentFailure(f"Mitake {code or '?'}: {reason}")

    async def find_sent(self, message: senders.Outgoing, *, since: datetime) -> str | None:
        # Sending again is the question: Mitake answers a clientid it has seen with the
        # first message's id and sends nothing.
        return None


def callback_url(settings: Settings) -> str | None:
    """The address Mitake reports delivery to, with its secret; None without a secret."""
    if settings.mitake_callback_token is None:
        return None
    token = settings.mitake_callback_token.get_secret_value()
    return settings.public_base_url.rstrip("/") + CALLBACK_PATH + token


def token_valid(settings: Settings, token: str) -> bool:
    """Whether a delivery report came to the secret address (no secret set: never)."""
    if settings.mitake_callback_token is None:
        return False
    expected = settings.mitake_callback_token.get_secret_value().encode()
    # As bytes: compare_digest refuses text that is not ASCII.
    return hmac.compare_digest(token.encode(), expected)


def record_report(session: Session, params: Mapping[str, str], *, now: datetime) -> str:
    """A delivery report; returns the message id it is about (ours or not).

    Raises:
        MalformedPayload: when msgid or StatusFlag is missing or not Mitake's.
    """
    msgid, flag = params.get("msgid", ""), params.get("StatusFlag", "")
    if not _MESSAGE_ID.fullmatch(msgid):
        raise MalformedPayload("msgid is not a Mitake message id")
    status = DELIVERY_STATUS.get(flag)
    if status is None:
        raise MalformedPayload(f"unknown StatusFlag {flag[:8]!r}")
    described = params.get("statusstr", "")
    error_code = None
    if status is DeliveryStatus.FAILED:
        error_code = f"mitake-{flag}"
        if _STATUS_TEXT.fullmatch(described):
            error_code += f"-{described}"
    row = outbox_results.record_delivery_status(
        session, provider_id=msgid, status=status, error_code=error_code, now=now
    )
    if row is not None and flag in UNREACHABLE and row.identity_id is not None:
        identity = session.get_one(ChannelIdentity, row.identity_id)
        identity.reachable = False
        identity.unreachable_reason = UNREACHABLE[flag]
    return msgid


def acknowledgement(msgid: str) -> str:
    """What Mitake must read back, or it reports again."""
    return f"magicid=sms_gateway_rpack\nmsgid={msgid}\n"

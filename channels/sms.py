"""Twilio SMS in: signed webhooks, carrier keywords and delivery reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from channels.inbound import Inbound, MalformedPayload, Stored
from channels.keywords import Keyword, sms_keyword
from channels.texts import SMS_HELP, SMS_OPTED_IN, SMS_OPTED_OUT, say
from crm_store import outbox_results
from crm_store.consent import set_consent
from crm_store.models import (
    Channel,
    ChannelIdentity,
    DeliveryStatus,
    MessagePurpose,
    OutboxMessage,
)
from crm_store.phones import InvalidPhoneNumber, normalize_phone
from crm_store.settings import Settings

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

# Twilio's MessageStatus values, as our delivery states.
DELIVERY_STATUS = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
# Delivery error codes that mean the number cannot take texts from us.
UNREACHABLE_ERRORS = {
    "21610": "opted out at the carrier (STOP)",
    "30003": "handset unreachable",
    "30005": "unknown or inactive number",
    "30006": "landline or unreachable carrier",
    "30007": "blocked by the carrier as spam",
}


def signature_valid(
    settings: Settings, *, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether Twilio signed this request with our auth token (no token: never)."""
    if not signature or settings.twilio_auth_token is None:
        return False
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    return bool(validator.validate(url, dict(params), signature))


# Twilio's message ids (SM..., MM...) and error codes (30003): anything else, a NUL
# included, is not from Twilio and never reaches the store.
_MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_ERROR_CODE = re.compile(r"[0-9]{1,8}")


def _required(params: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise MalformedPayload(f"missing {', '.join(missing)}")
    return [params[name] for name in names]


def _message_sid(params: Mapping[str, str]) -> str:
    [sid] = _required(params, "MessageSid")
    if not _MESSAGE_SID.fullmatch(sid):
        raise MalformedPayload("MessageSid is not a Twilio message id")
    return sid


def parse_inbound(params: Mapping[str, str], *, default_region: str) -> Inbound:
    """An incoming SMS as Twilio posts it.

    Raises:
        MalformedPayload: when a field Twilio always sends is missing or wrong.
    """
    [sender] = _required(params, "From")
    sid = _message_sid(params)
    try:
        phone = normalize_phone(sender, region=default_region)
    except InvalidPhoneNumber as error:
        raise MalformedPayload(f"From: {error}") from error
    if "Body" not in params:
        raise MalformedPayload("missing Body")
    return Inbound(channel=Channel.SMS, address=phone, text=params["Body"], channel_message_id=sid)


def handle_keyword(session: Session, stored: Stored, *, settings: Settings, now: datetime) -> bool:
    """Act on STOP / START / HELP; True when the message was one (and is dealt with)."""
    identity = stored.identity
    keyword = sms_keyword(stored.message.text, opted_out=identity.opted_out)
    if keyword is None:
        return False
    actor = f"sms:{identity.address}"
    details = {"keyword": stored.message.text.strip()}
    if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
        opted_in = keyword is Keyword.OPT_IN
        set_consent(session, identity, opted_in=opted_in, now=now, actor=actor, details=details)
        texts = SMS_OPTED_IN if opted_in else SMS_OPTED_OUT
    else:
        texts = SMS_HELP
    stored.answer(
        session,
        kind="keyword",
        text=say(texts, stored.language, shop=settings.shop_name),
        purpose=MessagePurpose.COMPLIANCE,
        now=now,
    )
    return True


def record_status(session: Session, params: Mapping[str, str], *, now: datetime) -> bool:
    """A delivery status callback; False when the message is not one of ours.

    Raises:
        MalformedPayload: when MessageSid or MessageStatus is missing or unknown.
    """
    sid = _message_sid(params)
    [reported] = _required(params, "MessageStatus")
    status = DELIVERY_STATUS.get(reported.lower())
    if status is None:
        raise MalformedPayload(f"unknown MessageStatus {reported!r}")
    error_code = params.get("ErrorCode") or None
    if error_code is not None and not _ERROR_CODE.fullmatch(error_code):
        raise MalformedPayload("ErrorCode is not a Twilio error code")
    row = outbox_results.record_delivery_status(
        session, provider_id=sid, status=status, error_code=error_code, now=now
    )
    if row is None:
        return False
    if error_code in UNREACHABLE_ERRORS:
        _mark_unreachable(session, row, UNREACHABLE_ERRORS[error_code])
    return True


def _mark_unreachable(session: Session, row: OutboxMessage, reason: str) -> None:
    if row.identity_id is None:
        return
    identity = session.get_one(ChannelIdentity, row.identity_id)
    identity.reachable = False
    identity.unreachable_reason = reason

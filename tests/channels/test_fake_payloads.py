"""The Telegram updates and Twilio webhook forms the fakes build are what the services send."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import ChatMember, Update
from twilio.request_validator import RequestValidator

from tests.fakes import (
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
    twilio_status_form,
)

CHAT = 700_100_200
CUSTOMER = "+886912345678"
SENDER = "+15005550006"


# --------------------------------------------------------------------------------------------
# Telegram payload helpers


def assert_ptb_knows_every_field(data: object, update: Update) -> None:
    """PTB parks fields it doesn't know in `api_kwargs`; a helper typo would end up there."""

    def contained(part: object, whole: object, where: str) -> None:
        if isinstance(part, dict):
            assert isinstance(whole, dict), where
            for key, value in part.items():
                assert key in whole, f"{where}.{key} lost by PTB"
                contained(value, whole[key], f"{where}.{key}")
        elif isinstance(part, list):
            assert isinstance(whole, list) and len(part) == len(whole), where
            for index, (mine, theirs) in enumerate(zip(part, whole, strict=True)):
                contained(mine, theirs, f"{where}[{index}]")
        else:
            assert part == whole, f"{where}: {part!r} != {whole!r}"

    assert "api_kwargs" not in repr(update)
    contained(data, update.to_dict(), "update")


def test_text_update_is_exactly_what_ptb_knows() -> None:
    data = telegram_text_update(5, CHAT, "/start ref_42", username="mei_tw", date=1_700_000_000)

    update = Update.de_json(data, None)

    message = update.message
    assert message is not None and message.from_user is not None
    assert update.effective_chat is not None and update.effective_chat.type == "private"
    assert (message.chat.id, message.from_user.id, message.text) == (CHAT, CHAT, "/start ref_42")
    assert message.from_user.language_code == "zh-hant"
    assert message.parse_entities(["bot_command"]) == {message.entities[0]: "/start"}
    assert message.date == dtm.datetime.fromtimestamp(1_700_000_000, tz=dtm.UTC)
    assert_ptb_knows_every_field(data, update)


def test_contact_update_is_the_users_own_contact() -> None:
    data = telegram_contact_update(6, CHAT, "886912345678", date=1_700_000_000)

    update = Update.de_json(data, None)

    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.phone_number == "886912345678"
    assert update.message.contact.user_id == CHAT == update.message.chat.id
    assert_ptb_knows_every_field(data, update)


@pytest.mark.parametrize(("blocked", "status"), [(True, "kicked"), (False, "member")])
def test_blocked_update_is_a_my_chat_member_change(blocked: bool, status: str) -> None:
    data = telegram_blocked_update(7, CHAT, blocked=blocked, date=1_700_000_000)

    update = Update.de_json(data, None)

    member = update.my_chat_member
    assert member is not None and member.chat.id == CHAT
    assert member.new_chat_member.status == status
    assert member.new_chat_member.user.is_bot
    assert (member.new_chat_member.status == ChatMember.BANNED) is blocked
    assert_ptb_knows_every_field(data, update)


# --------------------------------------------------------------------------------------------
# Twilio payload helpers


def test_incoming_sms_form_is_signed_like_twilio() -> None:
    url = "https://gateway.example/twilio/sms?tenant=1"
    token = "fa4e" * 8
    sid = "SM" + "1" * 32
    form = twilio_sms_form(sid, CUSTOMER, SENDER, "退款 A1234567", account_sid="AC" + "2" * 32)

    signature = twilio_signature(url, form, token)

    validator = RequestValidator(token)
    assert validator.validate(url, form, signature)
    assert not validator.validate(url, {**form, "Body": "tampered"}, signature)
    assert not validator.validate(url, form, twilio_signature(url, form, "other-token"))
    assert (form["MessageSid"], form["SmsSid"], form["SmsMessageSid"]) == (sid, sid, sid)
    assert (form["FromCountry"], form["ToCountry"], form["SmsStatus"]) == ("TW", "US", "received")
    assert form["NumMedia"] == "0" and form["ApiVersion"] == "2010-04-01"
    assert "MessagingServiceSid" not in form


def test_status_form_carries_error_code_only_when_given() -> None:
    common = {"to": CUSTOMER, "from_": SENDER, "account_sid": "AC" + "2" * 32}

    delivered = twilio_status_form("SM" + "3" * 32, "delivered", **common)
    failed = twilio_status_form("SM" + "3" * 32, "undelivered", error_code=30003, **common)

    assert delivered["MessageStatus"] == delivered["SmsStatus"] == "delivered"
    assert "ErrorCode" not in delivered
    assert (failed["MessageStatus"], failed["ErrorCode"]) == ("undelivered", "30003")

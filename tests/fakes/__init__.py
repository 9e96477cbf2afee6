"""Fake Telegram Bot API, Twilio REST and Mitake SMS servers on loopback, and payloads they send.

The fakes let integration tests and the benchmark drive the real client libraries
(python-telegram-bot, twilio) without leaving the machine:

    with FakeTelegram(token="123:ABC") as tg:
        bot = telegram.Bot("123:ABC", base_url=tg.base_url)
    with FakeTwilio() as tw:
        client = twilio.rest.Client(tw.account_sid, tw.auth_token)
        client.api.base_url = tw.base_url

Each fake is a stdlib `ThreadingHTTPServer` in a daemon thread; all recorded state is guarded
by one condition variable, so tests may read it from any thread while the gateway sends.
"""

from tests.fakes.mitake import FakeMitake, MitakeSent
from tests.fakes.payloads import (
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
    twilio_status_form,
)
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_wire import TELEGRAM_BOT_TOKEN, TelegramCall, TelegramSent
from tests.fakes.twilio import FakeTwilio
from tests.fakes.twilio_wire import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TwilioCall,
    TwilioSent,
    sms_segments,
)

__all__ = [
    "TELEGRAM_BOT_TOKEN",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "FakeMitake",
    "FakeTelegram",
    "FakeTwilio",
    "MitakeSent",
    "TelegramCall",
    "TelegramSent",
    "TwilioCall",
    "TwilioSent",
    "sms_segments",
    "telegram_blocked_update",
    "telegram_contact_update",
    "telegram_text_update",
    "twilio_signature",
    "twilio_sms_form",
    "twilio_status_form",
]

"""The fake Twilio Messages API speaks well enough for the twilio library itself.

Integration tests and the benchmark trust the fake, so every behaviour they rely on is
checked here through the twilio client, not through raw HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from tests.fakes import (
    FakeTwilio,
    sms_segments,
)

CUSTOMER = "+886912345678"
SENDER = "+15005550006"
SERVICE = "MG" + "ab" * 16
# aiohttp 3.14 deprecates BasicAuth and `auth=`, which twilio's async client still uses.
AIOHTTP_AUTH_DEPRECATIONS = (
    "ignore:BasicAuth is deprecated:DeprecationWarning",
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning",
)


@pytest.fixture
def tw() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@contextmanager
def sync_twilio(tw: FakeTwilio, auth_token: str) -> Iterator[Client]:
    """The real sync client, redirected from api.twilio.com to the fake."""
    client = Client(tw.account_sid, auth_token)
    client.api.base_url = tw.base_url
    try:
        yield client
    finally:
        # Otherwise the pooled socket is an unclosed-socket ResourceWarning, an error here.
        client.http_client.session.close()


@pytest.fixture
def twilio_client(tw: FakeTwilio) -> Iterator[Client]:
    with sync_twilio(tw, tw.auth_token) as client:
        yield client


# --------------------------------------------------------------------------------------------
# Twilio through the twilio library


def test_create_message_is_recorded_and_returns_a_message(
    tw: FakeTwilio, twilio_client: Client
) -> None:
    callback = "https://gateway.example/twilio/status"
    message = twilio_client.messages.create(
        to=CUSTOMER, from_=SENDER, body="您的訂單已出貨", status_callback=callback
    )

    assert message.sid is not None and re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.to, message.from_, message.body) == (CUSTOMER, SENDER, "您的訂單已出貨")
    assert (message.status, message.direction, message.num_segments) == (
        "queued",
        "outbound-api",
        "1",
    )
    assert isinstance(message.date_created, dtm.datetime)
    assert message.account_sid == tw.account_sid
    [sent] = tw.wait_for_sent(CUSTOMER, timeout=1)
    assert (sent["sid"], sent["body"], sent["status_callback"]) == (
        message.sid,
        "您的訂單已出貨",
        callback,
    )
    assert twilio_client.messages(message.sid).fetch().body == "您的訂單已出貨"


def test_messaging_service_sender(tw: FakeTwilio, twilio_client: Client) -> None:
    message = twilio_client.messages.create(to=CUSTOMER, messaging_service_sid=SERVICE, body="hi")

    assert message.messaging_service_sid == SERVICE
    assert tw.sent[0]["messaging_service_sid"] == SERVICE
    assert tw.sent[0]["from"] is None


def test_unsubscribed_recipient_raises_21610(tw: FakeTwilio, twilio_client: Client) -> None:
    tw.fail_next(status=400, code=21610)

    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="promo")
    twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="second try")

    assert (raised.value.status, raised.value.code) == (400, 21610)
    assert "unsubscribed" in raised.value.msg
    assert [sent["body"] for sent in tw.sent] == ["second try"]
    assert [(call["to"], call["status"]) for call in tw.calls] == [(CUSTOMER, 400), (CUSTOMER, 201)]


def test_opted_out_number_keeps_failing(tw: FakeTwilio, twilio_client: Client) -> None:
    tw.opt_out(CUSTOMER)

    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")
        assert raised.value.code == 21610
    twilio_client.messages.create(to="+886922222222", from_=SENDER, body="hi")

    assert [sent["to"] for sent in tw.sent] == ["+886922222222"]


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [
        ("0912345678", "hi", 21211),
        (CUSTOMER, "", 21602),
        (CUSTOMER, "x" * 1601, 21617),
    ],
)
def test_invalid_requests_fail_like_twilio(
    tw: FakeTwilio, twilio_client: Client, to: str, body: str, code: int
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to=to, from_=SENDER, body=body)

    assert (raised.value.status, raised.value.code) == (400, code)
    assert tw.sent == []


def test_server_error_targets_one_recipient(tw: FakeTwilio, twilio_client: Client) -> None:
    tw.fail_next(status=500, code=20500, to=CUSTOMER)

    twilio_client.messages.create(to="+886922222222", from_=SENDER, body="unaffected")
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="fails")

    assert (raised.value.status, raised.value.code) == (500, 20500)


def test_wrong_token_is_401(tw: FakeTwilio) -> None:
    with sync_twilio(tw, "not-the-token") as client, pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert tw.sent == []
    assert tw.calls[0]["status"] == 401


def test_rate_limit_carries_retry_after_header(tw: FakeTwilio) -> None:
    tw.fail_next(status=429, code=20429, retry_after=3)

    response = httpx.post(
        tw.messages_url,
        auth=(tw.account_sid, tw.auth_token),
        data={"To": CUSTOMER, "From": SENDER, "Body": "hi"},
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["code"] == 20429


@pytest.mark.filterwarnings(*AIOHTTP_AUTH_DEPRECATIONS)
def test_async_create_with_aiohttp_client(tw: FakeTwilio) -> None:
    async def send() -> tuple[str | None, int | None]:
        async with AsyncTwilioHttpClient() as http:
            client = Client(tw.account_sid, tw.auth_token, http_client=http)
            client.api.base_url = tw.base_url
            message = await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="async")
            tw.fail_next(status=400, code=21610)
            with pytest.raises(TwilioRestException) as raised:
                await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="no")
            return message.sid, raised.value.code

    sid, code = asyncio.run(send())

    assert [sent["sid"] for sent in tw.sent_to(CUSTOMER)] == [sid]
    assert code == 21610


def test_wait_for_sent_names_the_other_recipients(tw: FakeTwilio, twilio_client: Client) -> None:
    twilio_client.messages.create(to="+886922222222", from_=SENDER, body="elsewhere")

    with pytest.raises(AssertionError, match="elsewhere"):
        tw.wait_for_sent(CUSTOMER, timeout=0.1)


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("{" * 80, 1), ("{" * 81, 2), ("字" * 70, 1), ("字" * 71, 2)],
)
def test_segments_follow_gsm7_and_ucs2_limits(body: str, segments: int) -> None:
    assert sms_segments(body) == segments

"""The Mitake sender against its fake over real HTTP: what each answer means for the
outbox, one SMS per client id, and which numbers the regional sender hands it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from channels.mitake import MitakeSender, local_number, parse_answer
from channels.senders import Outgoing, PermanentFailure, TemporaryFailure, build_senders
from channels.sms_regions import RegionalSms
from crm_store.models import Channel, MessagePurpose
from crm_store.settings import Settings
from tests.fakes import FakeMitake, FakeTwilio
from tests.processes import free_port


@pytest.fixture
def fake_mitake() -> Iterator[FakeMitake]:
    with FakeMitake() as fake:
        yield fake


def send(fake: FakeMitake, *messages: Outgoing, password: str | None = None) -> list[object]:
    """Each message's id, or the failure it raised."""

    async def run() -> list[object]:
        sender = MitakeSender(
            username=fake.username,
            password=password or fake.password,
            api_url=fake.api_url,
            status_callback="https://shop.example.tw/sms/mitake/status/secret",
        )
        results: list[object] = []
        try:
            for message in messages:
                try:
                    results.append(await sender.send(message))
                except (TemporaryFailure, PermanentFailure) as failure:
                    results.append(failure)
        finally:
            await sender.close()
        return results

    return asyncio.run(run())


def test_numbers_and_answers_as_mitake_writes_them() -> None:
    assert local_number("+886912345678") == "0912345678"
    answer = "[1]\r\nmsgid=1010079522\r\nstatuscode=1\r\nDuplicate=Y\r\nAccountPoint=98\r\n"
    assert parse_answer(answer) == {
        "msgid": "1010079522",
        "statuscode": "1",
        "Duplicate": "Y",
        "AccountPoint": "98",
    }


def test_a_client_id_seen_before_is_answered_with_the_first_message_and_not_sent(
    fake_mitake: FakeMitake,
) -> None:
    hello = Outgoing("+886912700001", "【小島選物】週末快樂", outbox_id=41)
    first, again = send(fake_mitake, hello, hello)
    assert first == again and isinstance(first, str)
    [sent] = fake_mitake.sent
    assert (sent.dstaddr, sent.smbody, sent.clientid) == (
        "0912700001",
        "【小島選物】週末快樂",
        "crmbot-41",
    )
    assert sent.response == "https://shop.example.tw/sms/mitake/status/secret"


def test_what_mitake_answers_decides_retry_failure_or_unreachable(
    fake_mitake: FakeMitake,
) -> None:
    message = Outgoing("+886912700002", "hi", outbox_id=7)
    fake_mitake.fail_next("500")
    fake_mitake.fail_next("l")
    fake_mitake.fail_next("6")
    fake_mitake.fail_next("5")
    busy, crowded, wrong_number, refused = send(fake_mitake, *[message] * 4)
    assert isinstance(busy, TemporaryFailure) and "HTTP 500" in busy.reason
    assert (
        isinstance(crowded, TemporaryFailure) and crowded.reason == "Mitake l: too many connections"
    )
    assert isinstance(wrong_number, PermanentFailure) and wrong_number.unreachable
    assert isinstance(refused, PermanentFailure) and not refused.unreachable
    [wrong_login] = send(fake_mitake, message, password="typo")
    # The shop fixes its password and the messages go: not failed for good.
    assert isinstance(wrong_login, TemporaryFailure)
    assert wrong_login.reason == "Mitake e: wrong username or password"
    assert fake_mitake.sent == []


def test_mitake_out_of_reach_is_a_temporary_failure() -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/mtk/SmSend"

    async def run() -> None:
        sender = MitakeSender(username="u", password="p", api_url=closed, status_callback=None)
        try:
            await sender.send(Outgoing("+886912700003", "hi"))
        finally:
            await sender.close()

    with pytest.raises(TemporaryFailure, match="Mitake unreachable"):
        asyncio.run(run())


def test_only_taiwanese_numbers_go_to_mitake_and_only_with_its_account(
    fake_mitake: FakeMitake, fake_twilio: FakeTwilio
) -> None:
    base = {
        "twilio_account_sid": fake_twilio.account_sid,
        "twilio_auth_token": fake_twilio.auth_token,
        "twilio_from_number": "+15005550006",
        "twilio_api_base_url": fake_twilio.base_url,
        "shop_name": "小島選物",
        "shop_line_id": "@islandshop",
    }

    async def run(settings: Settings) -> type:
        senders = build_senders(settings)
        try:
            for address in ("+886912700004", "+14155550199"):
                await senders[Channel.SMS].send(
                    Outgoing(address, "Thanks, got it!", purpose=MessagePurpose.REPLY)
                )
        finally:
            for sender in senders.values():
                await sender.close()
        return type(senders[Channel.SMS])

    without = Settings(_env_file=None, **base)  # type: ignore[call-arg]
    assert without.sending_policy.taiwan is None
    asyncio.run(run(without))
    # No Mitake account: both by Twilio, word for word as before.
    assert [sent["body"] for sent in fake_twilio.sent] == ["Thanks, got it!"] * 2
    assert fake_mitake.sent == []

    with_mitake = Settings(_env_file=None, **base, **fake_mitake.settings())  # type: ignore[call-arg]
    assert asyncio.run(run(with_mitake)) is RegionalSms
    assert [sent["to"] for sent in fake_twilio.sent[2:]] == ["+14155550199"]
    assert fake_twilio.sent[-1]["body"] == "Thanks, got it!"
    [taiwanese] = fake_mitake.sent
    assert taiwanese.smbody == (
        "【小島選物】Thanks, got it!"
        "\n(Replies to this number are not read; message us on LINE: @islandshop)"
    )

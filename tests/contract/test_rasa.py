"""The Rasa contract: what the gateway writes, the actions read back the same way."""

from __future__ import annotations

import pytest

from contract.rasa import (
    intent_payload,
    is_payload,
    parse_sender,
    payload_score,
    score_payload,
    sender_id,
)


@pytest.mark.parametrize(
    ("channel", "address"),
    [("telegram", "123456"), ("sms", "+886912345678"), ("webchat", "a:b:c")],
)
def test_a_sender_id_reads_back_as_its_channel_and_address(channel: str, address: str) -> None:
    assert parse_sender(sender_id(channel, address)) == (channel, address)


def test_the_sender_id_format_is_channel_colon_address() -> None:
    assert sender_id("telegram", "123456") == "telegram:123456"


def test_a_sender_id_of_another_form_is_not_read() -> None:
    assert parse_sender("default") is None


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_a_score_payload_reads_back_as_its_score(score: int) -> None:
    assert payload_score(score_payload(score)) == score


def test_the_score_payload_is_the_give_score_intent_with_its_entity() -> None:
    assert score_payload(4) == '/give_score{"score": "4"}'


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_one_to_five_has_no_payload(score: int) -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        score_payload(score)


@pytest.mark.parametrize(
    "text",
    [
        "5",
        "😍",
        "/give_score",
        '/give_score{"score": "7"}',
        '/give_score{"score": "٣"}',
        '/give_score{"score": 5}',
        "/give_score{not json",
        '/give_scores{"score": "5"}',
        '/affirm{"score": "5"}',
    ],
)
def test_anything_but_a_score_payload_has_no_score(text: str) -> None:
    assert payload_score(text) is None


def test_an_intent_payload_is_told_from_words() -> None:
    payload = intent_payload("provide_order_number", {"order_number": "A1234567"})
    assert payload == '/provide_order_number{"order_number": "A1234567"}'
    assert is_payload(payload)
    assert is_payload("/affirm") and intent_payload("affirm") == "/affirm"
    assert not is_payload("我的訂單 A1234567")

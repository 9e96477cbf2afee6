"""The real Rasa server, with the model `make train` built, over its REST channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.processes import MODEL, RASA, RASA_ENV, ROOT, free_port, running

pytestmark = pytest.mark.rasa

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def variants(response: str, language: str) -> set[str]:
    """The texts of `response` for a language: the English ones carry a slot condition."""
    return {
        variant["text"]
        for variant in RESPONSES[response]
        if ("condition" in variant) == (language == "en")
    }


@pytest.fixture(scope="module")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert MODEL.exists(), "no trained model: run `make train`"
    port = free_port()
    log: Path = tmp_path_factory.mktemp("rasa") / "rasa.log"
    command = [
        str(RASA),
        "run",
        "--enable-api",
        "--model",
        str(MODEL),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--credentials",
        "bot/credentials.yml",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, ready_url=f"{url}/status", log=log, env=RASA_ENV):
        yield url


def say(rasa_url: str, sender: str, text: str) -> list[str]:
    response = httpx.post(
        f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    response.raise_for_status()
    return [message["text"] for message in response.json()]


def test_model_is_loaded(rasa_url: str) -> None:
    status = httpx.get(f"{rasa_url}/status", timeout=10).json()
    assert status["model_file"].endswith("assistant.tar.gz")


def test_greeting_in_traditional_chinese_by_default(rasa_url: str) -> None:
    replies = say(rasa_url, "zh-customer", "你好")
    assert len(replies) == 1
    assert replies[0] in variants("utter_greet", "zh-TW")


def test_english_customer_is_answered_in_english(rasa_url: str) -> None:
    sender = "en-customer"
    httpx.post(
        f"{rasa_url}/conversations/{sender}/tracker/events",
        json={"event": "slot", "name": "language", "value": "en"},
        timeout=10,
    ).raise_for_status()
    assert say(rasa_url, sender, "hello there")[0] in variants("utter_greet", "en")
    assert say(rasa_url, sender, "thanks a lot")[0] in variants("utter_you_are_welcome", "en")

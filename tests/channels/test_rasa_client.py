from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest

from channels import rasa_client
from channels.rasa_client import (
    BotMessage,
    RasaClient,
    RasaUnavailable,
    detect_language,
    to_traditional,
)
from crm_store.models import Language
from tests.fakes.loopback import LoopbackServer, Reply, json_reply
from tests.processes import free_port


def test_the_converter_is_loaded_with_the_client_not_in_the_first_turns() -> None:
    rasa_client._to_traditional.cache_clear()
    RasaClient("http://127.0.0.1:9").close()
    assert rasa_client._to_traditional.cache_info().currsize == 1


@pytest.mark.parametrize(
    ("simplified", "traditional"),
    [
        ("我的快递三天了还没到", "我的快遞三天了還沒到"),
        ("软件打不开，信息也发不出去", "軟體打不開，資訊也發不出去"),
        ("退款 A1234567 还没收到", "退款 A1234567 還沒收到"),
    ],
)
def test_simplified_chinese_becomes_taiwan_traditional(simplified: str, traditional: str) -> None:
    assert to_traditional(simplified) == traditional


def test_other_text_is_left_alone() -> None:
    assert to_traditional("where is my parcel? 🙂") == "where is my parcel? 🙂"
    assert to_traditional("包裹還沒到") == "包裹還沒到"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我的包裹還沒到", Language.ZH_TW),
        ("我的快递", Language.ZH_TW),
        ("my Insulated Bottle 壞了", Language.ZH_TW),
        ("where is my order", Language.EN),
        ("A1234567", None),
        ("5", None),
        ("👍", None),
    ],
)
def test_language_of_a_message(text: str, language: Language | None) -> None:
    assert detect_language(text) == language


class ScriptedRasa(LoopbackServer):
    """Rasa's REST channel on loopback, answering as each test tells it to."""

    def __init__(self) -> None:
        super().__init__()
        self.status = 200
        self.delay = 0.0
        self.requests: list[tuple[str, Any]] = []

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> Reply:
        self.requests.append((path, json.loads(body) if body else None))
        time.sleep(self.delay)
        if self.status != 200:
            return json_reply(self.status, {"error": "boom"})
        if path == "/status":
            return json_reply(200, {"model_file": "assistant.tar.gz"})
        if path.endswith("/tracker/events"):
            return json_reply(200, {})
        return json_reply(
            200,
            [
                {"recipient_id": "x", "text": "我們 10 點開門", "buttons": [{"title": "謝謝"}]},
                {"recipient_id": "x", "image": "https://example.invalid/map.png"},
            ],
        )


@pytest.fixture
def rasa() -> Iterator[ScriptedRasa]:
    with ScriptedRasa() as server:
        yield server


def client_of(rasa: ScriptedRasa, timeout: float = 5) -> RasaClient:
    return RasaClient(f"http://127.0.0.1:{rasa.port}/", timeout=timeout)


def test_the_replies_come_back_with_their_buttons_and_without_what_has_no_text(
    rasa: ScriptedRasa,
) -> None:
    with client_of(rasa) as client:
        replies = client.send("telegram:1", "你们几点开门", detect=False)
        assert client.status() == {"model_file": "assistant.tar.gz"}
    assert replies == [BotMessage(text="我們 10 點開門", buttons=[{"title": "謝謝"}])]
    assert rasa.requests[0] == (
        "/webhooks/rest/webhook",
        {"sender": "telegram:1", "message": "你們幾點開門"},  # as written in Taiwan
    )


def test_an_error_answer_is_rasa_unavailable_and_the_language_is_told_again(
    rasa: ScriptedRasa,
) -> None:
    with client_of(rasa) as client:
        client.send("sms:+886912000001", "hello there")
        rasa.status = 500
        with pytest.raises(RasaUnavailable, match="500"):
            client.send("sms:+886912000001", "are you there")
        rasa.status = 200
        client.send("sms:+886912000001", "hello again")  # Rasa may have restarted meanwhile
    told = [body for path, body in rasa.requests if path.endswith("/tracker/events")]
    assert [slot["value"] for slot in told] == ["en", "en"]


def test_a_slow_rasa_is_unavailable_after_the_timeout(rasa: ScriptedRasa) -> None:
    rasa.delay = 1.0
    with client_of(rasa, timeout=0.2) as client, pytest.raises(RasaUnavailable):
        client.send("telegram:1", "hi", detect=False)


def test_a_rasa_nobody_listens_for_is_unavailable() -> None:
    with RasaClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        with pytest.raises(RasaUnavailable):
            client.status()
        with pytest.raises(RasaUnavailable):
            client.send("telegram:1", "hi", detect=False)

"""The real Rasa server with the model `make train` built, over its REST channel."""

from __future__ import annotations

import httpx
import pytest
import yaml

from crm_store.models import Language
from tests.processes import ROOT, Assistant

pytestmark = pytest.mark.rasa

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def variants(response: str, language: Language) -> set[str]:
    """The texts of `response` for a language: the English ones carry a slot condition."""
    return {
        variant["text"]
        for variant in RESPONSES[response]
        if ("condition" in variant) == (language is Language.EN)
    }


def test_the_trained_model_is_loaded(assistant: Assistant) -> None:
    status = httpx.get(f"{assistant.rasa_url}/status", timeout=10).json()
    assert status["model_file"].endswith("assistant.tar.gz")


def test_greeting_in_traditional_chinese(assistant: Assistant) -> None:
    replies = assistant.client.send("webchat:greet-zh", "你好")
    assert len(replies) == 1
    assert replies[0].text in variants("utter_greet", Language.ZH_TW)


def test_simplified_chinese_is_understood_and_answered_in_traditional(
    assistant: Assistant,
) -> None:
    replies = assistant.client.send("webchat:greet-cn", "请问运费怎么算")
    assert [r.text for r in replies] == list(variants("utter_delivery_info", Language.ZH_TW))


def test_english_customer_is_answered_in_english(assistant: Assistant) -> None:
    sender = "webchat:greet-en"
    assert assistant.client.send(sender, "hello there")[0].text in variants(
        "utter_greet", Language.EN
    )
    assert assistant.client.send(sender, "thanks a lot")[0].text in variants(
        "utter_you_are_welcome", Language.EN
    )
    # The same customer switching to Chinese is answered in Chinese.
    assert assistant.client.send(sender, "謝謝")[0].text in variants(
        "utter_you_are_welcome", Language.ZH_TW
    )

"""The Rasa server's REST channel, as the gateway talks to it.

Before a message reaches Rasa, Simplified Chinese is turned into Traditional (OpenCC,
Taiwan phrasing) so one model understands both, and the conversation's language slot
follows the language the customer writes in, so replies come back in that language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import opencc
import urllib3

from contract import rasa as contract
from crm_store.models import Language

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, starting, or too slow); the message is not lost."""


@lru_cache(maxsize=1)
def _to_traditional() -> opencc.OpenCC:
    return opencc.OpenCC("s2twp")


def to_traditional(text: str) -> str:
    """Simplified Chinese (and mainland phrasing) as written in Taiwan; other text unchanged."""
    return str(_to_traditional().convert(text)) if _HAN.search(text) else text


def detect_language(text: str) -> Language | None:
    """The language a message is written in; None when it cannot tell (digits, emoji).

    Any Chinese character makes it Chinese: mixed messages come from Chinese speakers.
    """
    if _HAN.search(text):
        return Language.ZH_TW
    if _LATIN_WORD.search(text):
        return Language.EN
    return None


@dataclass(frozen=True, slots=True)
class BotMessage:
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)


class RasaClient:
    """Sends a customer's message to Rasa and returns the bot's replies."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        # urllib3 rather than httpx: every message waits on this call, and urllib3 spends
        # half the CPU on it. One kept connection per turn thread; no retries, as a
        # message Rasa did not take is replayed by the gateway itself.
        self._http = urllib3.PoolManager(
            maxsize=64, timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False
        )
        # The language last set per conversation: Rasa is told only of changes, since
        # every tracker update costs it tens of milliseconds.
        self._languages: dict[str, Language] = {}
        # OpenCC loads its dictionaries in about 0.1 s: now, once, rather than in the
        # first customers' turns after a start, each of them loading them at once.
        _to_traditional()

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> RasaClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def set_language(self, sender_id: str, language: Language) -> None:
        self._post(
            f"/conversations/{sender_id}/tracker/events",
            json={"event": "slot", "name": contract.LANGUAGE, "value": language.value},
        )

    def resume(self, sender_id: str) -> None:
        """Give a conversation back to the bot after staff had it: a clean slate for the
        complaint script (no half-finished form, no stage), the rest of the slots kept."""
        self._post(
            f"/conversations/{sender_id}/tracker/events",
            json=[
                {"event": "resume"},
                {"event": "active_loop", "name": None},
                *(
                    {"event": "slot", "name": slot, "value": None}
                    for slot in contract.RESET_ON_RESUME
                ),
            ],
        )

    def send(
        self,
        sender_id: str,
        text: str,
        *,
        language: Language | None = None,
        detect: bool = True,
    ) -> list[BotMessage]:
        """Deliver one message (or a burst joined by newlines) and return the replies.

        `language` is the customer's known language; with `detect` the text's own
        language wins when it can be told. Rasa is told only of a change. The gateway
        detects languages itself when it stores a message (and passes `detect=False`
        and a language only when it switched): a new conversation takes the customer's
        language from the store when its session starts, which spares Rasa a tracker
        update on every first message.

        Raises:
            RasaUnavailable: when Rasa cannot be reached or answers with an error.
        """
        # "/intent{...}" is a button's payload, not words the customer wrote.
        is_payload = contract.is_payload(text)
        written_in = detect_language(text) if detect and not is_payload else None
        language = written_in or language
        if language is not None and self._languages.get(sender_id) is not language:
            self.set_language(sender_id, language)
            self._languages[sender_id] = language
        replies = self._post(
            "/webhooks/rest/webhook",
            json={"sender": sender_id, "message": text if is_payload else to_traditional(text)},
        )
        return [
            BotMessage(text=reply.get("text", ""), buttons=reply.get("buttons") or [])
            for reply in replies
            if reply.get("text")
        ]

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/status")
        return result

    def _post(self, path: str, *, json: dict[str, Any] | list[dict[str, Any]]) -> Any:
        try:
            return self._request("POST", path, json=json)
        except RasaUnavailable:
            # Rasa may come back restarted, without the slots it was told: tell it again.
            self._languages.clear()
            raise

    def _request(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self._http.request(method, self._base_url + path, **options)
        except urllib3.exceptions.HTTPError as error:
            raise RasaUnavailable(f"{path}: {error}") from error
        if response.status >= 400:
            raise RasaUnavailable(f"{path}: Rasa answered {response.status}")
        return response.json()

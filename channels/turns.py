"""What a turn with the bot looks like to the customer, and whether it is usable.

Rasa's replies to one burst become one message; over SMS, which has no buttons, the
options become numbered lines, and an answer by number or by the option's words is
turned back into the button's payload. A turn that is empty, stacked (a policy loop
that tripped Rasa's circuit breaker) or the same as the bot's previous reply is a
failed turn, which routing turns into an apology and a hand-off.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any

from channels.rasa_client import BotMessage
from channels.texts import NUMBER_HINT
from crm_store.models import Channel, Language


class TurnFailure(enum.StrEnum):
    """Why a reply from Rasa cannot be sent as it is."""

    SILENT = "the assistant gave no reply"
    STACKED = "the assistant repeated one reply within a turn"
    REPEATED = "the assistant gave the same reply twice in a row"
    OVERDUE = "the assistant did not answer in time"


# The same text this often in one turn is a policy loop, not an answer.
STACKED_AT = 3


_NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[.、:：)]?\s*")
_ANSWER_NUMBER = re.compile(
    r"^\s*(?:#|no\.?\s*|第)?\s*([1-9])\s*(?:號|个|個|項)?\s*[.!。！]?\s*$", re.I
)


def option_title(button: dict[str, Any]) -> str:
    """A button's words without a number the bot already put in front ("1. 購物金")."""
    return _NUMBERED.sub("", str(button.get("title", "")), count=1).strip()


def numbered_options(buttons: Sequence[dict[str, Any]], language: Language) -> str:
    """The options as lines a customer can answer by number, for channels without buttons."""
    lines = [f"{index}. {option_title(button)}" for index, button in enumerate(buttons, start=1)]
    return "\n".join([*lines, NUMBER_HINT[language]])


def as_typed(text: str, last_buttons: Sequence[dict[str, Any]]) -> str:
    """A tapped button arrives as its title, and an SMS answer as the option's number or
    its words; Rasa wants the button's payload."""
    options = [button for button in last_buttons if button.get("payload")]
    typed = text.strip()
    for button in options:
        if typed.lower() in {
            str(button.get("title", "")).strip().lower(),
            option_title(button).lower(),
        }:
            return str(button["payload"])
    number = _ANSWER_NUMBER.match(typed)
    if number and 1 <= int(number.group(1)) <= len(options):
        return str(options[int(number.group(1)) - 1]["payload"])
    return text


def reply_text(replies: Sequence[BotMessage], channel: Channel, language: Language) -> str:
    """The bot's replies to one burst as one message (one notification, fewer SMS parts),
    each reply once; over SMS with the options as numbered lines."""
    texts = dict.fromkeys(reply.text.strip() for reply in replies if reply.text.strip())
    text = "\n\n".join(texts)
    buttons = [button for reply in replies for button in reply.buttons]
    if buttons and channel is Channel.SMS:
        text = f"{text}\n{numbered_options(buttons, language)}"
    return text


def _words(text: str) -> str:
    return " ".join(text.split())


def turn_failure(
    replies: Sequence[BotMessage], answer: str, previous: str | None
) -> TurnFailure | None:
    """Whether Rasa's replies to a turn would leave the customer silent or looping."""
    texts = [reply.text.strip() for reply in replies if reply.text.strip()]
    if not texts:
        return TurnFailure.SILENT
    if max(texts.count(text) for text in texts) >= STACKED_AT:
        return TurnFailure.STACKED
    if previous is not None and _words(answer) == _words(previous):
        return TurnFailure.REPEATED
    return None

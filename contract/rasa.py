"""The Rasa contract: what the gateway and the custom actions both know of a conversation.

- The sender id: the gateway talks to Rasa as ``<channel>:<address>`` (``telegram:123456``,
  ``sms:+886912345678``) and the actions read the channel and address back from it.
- The slots the gateway sets or clears through Rasa's tracker API, and the actions read.
- Payloads: ``/intent{"entity": "value"}`` is an intent with its entities, not words a
  customer wrote (a button's payload, or a score the gateway read itself). A survey
  answer the gateway understood reaches Rasa as ``/give_score{"score": "4"}``, and the
  actions take the score from that payload rather than reading the words again.

The Rasa server does not import this module: these are names in `domain.yml` as the
gateway and the actions use them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = [
    "COMPLAINT_STAGE",
    "LANGUAGE",
    "REQUESTED_SLOT",
    "RESET_ON_RESUME",
    "SCORE_ENTITY",
    "SCORE_INTENT",
    "TICKET_ID",
    "intent_payload",
    "is_payload",
    "parse_sender",
    "payload_score",
    "score_payload",
    "sender_id",
]

# -- the sender id ---------------------------------------------------------------------

_SEPARATOR = ":"


def sender_id(channel: str, address: str) -> str:
    """The conversation's id at Rasa for a customer's address on a channel."""
    return f"{channel}{_SEPARATOR}{address}"


def parse_sender(sender: str) -> tuple[str, str] | None:
    """The (channel, address) a sender id was made of; None for an id of another form
    (Rasa's own shell, a test's)."""
    channel, separator, address = sender.partition(_SEPARATOR)
    return (channel, address) if separator else None


# -- slots (names in domain.yml) -------------------------------------------------------

LANGUAGE = "language"  # the customer's language, "zh-TW" or "en"; set by the gateway
COMPLAINT_STAGE = "complaint_stage"  # where the complaint script is
TICKET_ID = "ticket_id"  # the complaint's ticket
REQUESTED_SLOT = "requested_slot"  # Rasa's own: the slot a form asks for

# Cleared when staff hand a conversation back, so the complaint script starts clean.
RESET_ON_RESUME = (COMPLAINT_STAGE, TICKET_ID, REQUESTED_SLOT)


# -- payloads --------------------------------------------------------------------------

SCORE_INTENT = "give_score"
SCORE_ENTITY = "score"
_SCORES = range(1, 6)


def is_payload(text: str) -> bool:
    """Whether a message is an intent payload (``/intent{...}``) rather than words."""
    return text.startswith("/")


def intent_payload(intent: str, entities: Mapping[str, str] | None = None) -> str:
    """``/intent{"entity": "value"}``, which Rasa reads as the intent with its entities."""
    return f"/{intent}" + (json.dumps(dict(entities)) if entities else "")


def score_payload(score: int) -> str:
    """A satisfaction score (1-5) as the give_score intent with its entity."""
    if score not in _SCORES:
        raise ValueError(f"a satisfaction score is 1 to 5, not {score}")
    return intent_payload(SCORE_INTENT, {SCORE_ENTITY: str(score)})


def payload_score(text: str) -> int | None:
    """The score in a `score_payload`; None for any other text."""
    prefix = f"/{SCORE_INTENT}"
    if not text.startswith(prefix + "{"):
        return None
    try:
        entities = json.loads(text.removeprefix(prefix))
    except ValueError:
        return None
    value = entities.get(SCORE_ENTITY) if isinstance(entities, dict) else None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    score = int(value)
    return score if score in _SCORES else None

"""What every action needs: a store session and who it is talking to.

Rasa's sender id says the channel and the address, as the gateway made it
(`contract.rasa`). The engine is made on first use, never at import, from the same
settings as every other process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from rasa_sdk.interfaces import Tracker
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.catalogue import CatalogueCache
from contract import rasa as contract
from crm_store.conversations import customer_of, identity_for, open_conversation
from crm_store.db import make_engine, make_session_factory
from crm_store.models import Channel, ChannelIdentity, Conversation, Customer, Language
from crm_store.settings import Settings, get_settings

_factory: sessionmaker[Session] | None = None
_catalogue: CatalogueCache | None = None


def use_store(factory: sessionmaker[Session] | None) -> None:
    """Point the actions at another store (tests); None goes back to the settings'."""
    global _factory, _catalogue
    _factory = factory
    _catalogue = None


def catalogue() -> CatalogueCache:
    """Product names and order numbers found in text, from the live catalogue."""
    global _catalogue
    if _catalogue is None:
        _catalogue = CatalogueCache(_session_factory())
    return _catalogue


def _session_factory() -> sessionmaker[Session]:
    global _factory
    if _factory is None:
        _factory = make_session_factory(make_engine(get_settings().database_url))
    return _factory


@dataclass
class Talk:
    """The store's view of the conversation an action runs in."""

    session: Session
    settings: Settings
    identity: ChannelIdentity
    customer: Customer
    conversation: Conversation
    language: Language
    now: datetime


def parse_sender(sender_id: str) -> tuple[Channel, str]:
    """The channel and address behind a sender id; an id the gateway did not make (Rasa's
    shell, a test) is a web chat of that name."""
    parsed = contract.parse_sender(sender_id)
    if parsed is not None and parsed[0] in Channel.__members__.values():
        return Channel(parsed[0]), parsed[1]
    return Channel.WEBCHAT, sender_id


def tracker_language(tracker: Tracker, default: Language) -> Language:
    value = tracker.get_slot(contract.LANGUAGE)
    return Language(value) if isinstance(value, str) and value in set(Language) else default


@contextmanager
def talk(tracker: Tracker) -> Iterator[Talk]:
    """Open a store transaction for the customer behind `tracker`; commits on success."""
    settings = get_settings()
    now = datetime.now(UTC)
    channel, address = parse_sender(tracker.sender_id)
    with _session_factory()() as session, session.begin():
        identity = identity_for(
            session,
            channel=channel,
            address=address,
            language=tracker_language(tracker, Language.ZH_TW),
            timezone=settings.default_timezone,
            now=now,
        )
        customer = customer_of(session, identity)
        yield Talk(
            session=session,
            settings=settings,
            identity=identity,
            customer=customer,
            conversation=open_conversation(session, identity, now=now),
            language=tracker_language(tracker, customer.language),
            now=now,
        )

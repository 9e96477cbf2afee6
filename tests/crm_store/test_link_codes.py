"""The codes texted to a phone that a chat writes back to prove the phone is theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import link_codes
from crm_store.models import Channel, ChannelIdentity, LinkCode
from tests.factories import make_customer

NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def chat_and_phone(
    session: Session, chat_user: str = "Uchat1"
) -> tuple[ChannelIdentity, ChannelIdentity]:
    owner = make_customer(session, phone="+886912000301")
    stranger = make_customer(session, name="LINE user")
    chat = ChannelIdentity(customer_id=stranger.id, channel=Channel.LINE, address=chat_user)
    session.add(chat)
    session.flush()
    return chat, owner.identities[0]


def test_a_code_works_once_within_its_lifetime(session: Session) -> None:
    chat, phone = chat_and_phone(session)
    code = link_codes.issue(session, chat=chat, phone=phone, now=NOON)
    assert code is not None and len(code) == 6 and code.isdigit()
    assert link_codes.pending(session, chat, now=NOON + timedelta(minutes=9))
    redeemed = link_codes.redeem(session, chat=chat, code=code, now=NOON + timedelta(minutes=9))
    assert redeemed.phone is not None and redeemed.phone.id == phone.id
    again = link_codes.redeem(session, chat=chat, code=code, now=NOON + timedelta(minutes=9))
    assert again.phone is None and not link_codes.pending(session, chat, now=NOON)


def test_an_expired_code_opens_nothing(session: Session) -> None:
    chat, phone = chat_and_phone(session)
    code = link_codes.issue(session, chat=chat, phone=phone, now=NOON)
    assert code is not None
    late = NOON + link_codes.CODE_LIFETIME + timedelta(seconds=1)
    assert not link_codes.pending(session, chat, now=late)
    assert link_codes.redeem(session, chat=chat, code=code, now=late).phone is None


def test_wrong_tries_count_down_and_the_last_ends_the_code(session: Session) -> None:
    chat, phone = chat_and_phone(session)
    code = link_codes.issue(session, chat=chat, phone=phone, now=NOON)
    assert code is not None
    wrong = "999999" if code != "999999" else "888888"
    left = [
        link_codes.redeem(session, chat=chat, code=wrong, now=NOON).tries_left
        for _ in range(link_codes.MAX_ATTEMPTS)
    ]
    assert left == [4, 3, 2, 1, 0]
    assert link_codes.redeem(session, chat=chat, code=code, now=NOON).phone is None


def test_a_new_code_replaces_the_chats_earlier_one(session: Session) -> None:
    chat, phone = chat_and_phone(session)
    first = link_codes.issue(session, chat=chat, phone=phone, now=NOON)
    second = link_codes.issue(session, chat=chat, phone=phone, now=NOON + timedelta(minutes=2))
    assert first is not None and second is not None
    if first != second:  # one in a million they are the same
        later = NOON + timedelta(minutes=3)
        assert link_codes.redeem(session, chat=chat, code=first, now=later).phone is None
    later = NOON + timedelta(minutes=3)
    assert link_codes.redeem(session, chat=chat, code=second, now=later).phone is not None


def test_a_phone_gets_three_codes_an_hour_whoever_asks_and_old_ones_are_removed(
    session: Session,
) -> None:
    chat, phone = chat_and_phone(session)
    other = ChannelIdentity(customer_id=chat.customer_id, channel=Channel.LINE, address="Uchat2")
    session.add(other)
    session.flush()
    asked = [
        link_codes.issue(session, chat=chat, phone=phone, now=NOON),
        link_codes.issue(session, chat=other, phone=phone, now=NOON + timedelta(minutes=5)),
        link_codes.issue(session, chat=chat, phone=phone, now=NOON + timedelta(minutes=10)),
        link_codes.issue(session, chat=other, phone=phone, now=NOON + timedelta(minutes=15)),
    ]
    assert [code is not None for code in asked] == [True, True, True, False]
    assert link_codes.issue(session, chat=other, phone=phone, now=NOON + timedelta(hours=1))
    link_codes.issue(session, chat=chat, phone=phone, now=NOON + timedelta(days=2))
    kept = session.scalar(select(func.count()).select_from(LinkCode))
    assert kept == 1  # only the newest: a day on, the others were removed

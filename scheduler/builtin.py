"""The built-in outreach: birthday greetings, satisfaction surveys, win-back messages.

Each planner is safe to run as often as the scheduler likes: every message it queues
has an idempotency key (``birthday:<customer>:<year>``, ``survey:<id>``,
``survey:<id>:reminder``, ``winback:<customer>:<date>``), so running twice, or on two
schedulers at once, queues nothing twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.outgoing import send_text
from crm_store.customers import customers_with_birthday_today, lapsed_customers, zone
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    Customer,
    Language,
    MessagePurpose,
    OutboxMessage,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
)
from crm_store.outbox import enqueue
from crm_store.settings import Settings
from crm_store.templates import first_name

BIRTHDAY = {
    Language.ZH_TW: "{name}，生日快樂！🎂 {shop} 祝您有美好的一年。{coupon}",
    Language.EN: "Happy birthday, {name}! 🎂 Everyone at {shop} wishes you a wonderful year. "
    "{coupon}",
}
BIRTHDAY_COUPON = {
    Language.ZH_TW: "送您生日折價券 {code}，本月使用可折 NT$100。",
    Language.EN: "Here's a birthday coupon, {code}: NT$100 off this month.",
}
SURVEY = {
    Language.ZH_TW: "您好，關於客訴單 {ticket}，問題解決了嗎？"
    "請回覆 1–5 分（5 分最滿意），謝謝您！",
    Language.EN: "Hello! About your ticket {ticket}: did we solve it? "
    "Please reply with a score from 1 to 5 (5 = very satisfied). Thank you!",
}
SURVEY_REMINDER = {
    Language.ZH_TW: "再打擾一下：客訴單 {ticket} 處理得還滿意嗎？回覆 1–5 分就好 🙏",
    Language.EN: "A quick reminder: how satisfied are you with how we handled {ticket}? "
    "Just reply 1 to 5 🙏",
}
WINBACK = {
    Language.ZH_TW: "{name}，好久不見！想聽聽您的想法：最近沒再光顧，是哪裡讓您不滿意嗎？"
    "回覆告訴我們，再送您回購折價券 {code}（NT$150）。",
    Language.EN: "{name}, we've missed you! Was there something we could have done better? "
    "Reply and tell us, and here's NT$150 off your next order: {code}.",
}
# Telegram first: it costs nothing to send.
CHANNEL_PREFERENCE = (Channel.TELEGRAM, Channel.SMS)


def preferred_identity(
    identities: Iterable[ChannelIdentity], *, marketing: bool
) -> ChannelIdentity | None:
    usable = [
        identity
        for identity in identities
        if identity.reachable
        and not identity.opted_out
        and (identity.marketing_consent or not marketing)
        and identity.channel in CHANNEL_PREFERENCE
    ]
    usable.sort(key=lambda identity: CHANNEL_PREFERENCE.index(identity.channel))
    return usable[0] if usable else None


def _coupon(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3).upper()}"


def plan_birthdays(session: Session, *, now: datetime, settings: Settings) -> int:
    """Greet today's birthdays at `birthday_hour` in each customer's own zone.

    Run at least every hour: a customer whose greeting hour passed today is greeted at
    once (29 February birthdays on 28 February in other years, by the store's query).
    """
    queued = 0
    for customer in customers_with_birthday_today(session, now=now):
        identity = preferred_identity(customer.identities, marketing=True)
        if identity is None:
            continue
        local = now.astimezone(zone(customer.timezone))
        at = local.replace(hour=settings.birthday_hour, minute=0, second=0, microsecond=0)
        coupon = BIRTHDAY_COUPON[customer.language].format(code=_coupon("BDAY"))
        text = BIRTHDAY[customer.language].format(
            name=first_name(customer.name), shop=settings.shop_name, coupon=coupon
        )
        greeting = enqueue(
            session,
            key=f"birthday:{customer.id}:{local.year}",
            identity=identity,
            purpose=MessagePurpose.MARKETING,
            parts=[text.strip()],
            author=Author.SYSTEM,
            now=now,
            not_before=max(now, at),
        )
        queued += greeting.new
    return queued


def _survey_identity(session: Session, survey: SatisfactionSurvey) -> ChannelIdentity | None:
    """The channel the complaint came in on, else the customer's preferred one."""
    ticket = session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    if ticket is not None and ticket.conversation_id is not None:
        conversation = session.get_one(Conversation, ticket.conversation_id)
        if conversation.identity.reachable and not conversation.identity.opted_out:
            return conversation.identity
    customer = session.get_one(Customer, survey.customer_id)
    return preferred_identity(customer.identities, marketing=False)


def _ask(
    session: Session,
    survey: SatisfactionSurvey,
    *,
    key: str,
    texts: dict[Language, str],
    now: datetime,
) -> bool:
    identity = _survey_identity(session, survey)
    if identity is None:
        return False
    customer = session.get_one(Customer, survey.customer_id)
    ticket = session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    conversation = None
    if ticket is not None and ticket.conversation_id is not None:
        conversation = session.get(Conversation, ticket.conversation_id)
    reference = ticket.reference if ticket else ""
    send_text(
        session,
        key=key,
        identity=identity,
        conversation=conversation
        if conversation is not None and conversation.identity_id == identity.id
        else None,
        text=texts[customer.language].format(ticket=reference),
        purpose=MessagePurpose.SURVEY,
        author=Author.BOT,
        now=now,
    )
    return True


def plan_surveys(session: Session, *, now: datetime, settings: Settings) -> int:
    """Ask due surveys, remind once after `survey_reminder_after_hours`, then give up."""
    wait = timedelta(hours=settings.survey_reminder_after_hours)
    changed = 0
    due = session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.status == SurveyStatus.SCHEDULED,
            SatisfactionSurvey.due_at <= now,
        )
    ).all()
    for survey in due:
        if _ask(session, survey, key=f"survey:{survey.id}", texts=SURVEY, now=now):
            survey.status = SurveyStatus.SENT
            survey.sent_at = now
        else:
            survey.status = SurveyStatus.CANCELLED
        changed += 1
    unanswered = session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.status == SurveyStatus.SENT,
            SatisfactionSurvey.sent_at <= now - wait,
        )
    ).all()
    for survey in unanswered:
        _ask(session, survey, key=f"survey:{survey.id}:reminder", texts=SURVEY_REMINDER, now=now)
        survey.status = SurveyStatus.REMINDED
        survey.reminded_at = now
        changed += 1
    expired = session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.status == SurveyStatus.REMINDED,
            SatisfactionSurvey.reminded_at <= now - wait,
        )
    ).all()
    for survey in expired:
        survey.status = SurveyStatus.EXPIRED
        changed += 1
    return changed


def plan_winback(session: Session, *, now: datetime, settings: Settings, limit: int = 500) -> int:
    """Write to customers lapsed `winback_after_days`, the worth-keeping first, at most
    once per `winback_every_days` each; a later order counts as won back (the report)."""
    every = timedelta(days=settings.winback_every_days)
    queued = 0
    for customer in lapsed_customers(
        session,
        now=now,
        lapsed_days=settings.winback_after_days,
        at_most_days=settings.winback_after_days + 2 * 365,
        limit=limit * 3,
    ):
        if queued >= limit:
            break
        recent = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.customer_id == customer.id,
                OutboxMessage.idempotency_key.like(f"winback:{customer.id}:%"),
                OutboxMessage.created_at > now - every,
            )
        )
        if recent is not None:
            continue
        identity = preferred_identity(customer.identities, marketing=True)
        if identity is None:
            continue
        text = WINBACK[customer.language].format(
            name=first_name(customer.name), code=_coupon("BACK")
        )
        enqueue(
            session,
            key=f"winback:{customer.id}:{now:%Y%m%d}",
            identity=identity,
            purpose=MessagePurpose.MARKETING,
            parts=[text],
            author=Author.SYSTEM,
            now=now,
        )
        queued += 1
    return queued

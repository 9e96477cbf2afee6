"""The scale-out run examined from every side, and its figures as a closing note takes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_store.models import OutboxMessage
from tests.fakes import FakeTelegram, FakeTwilio
from tests.scale.audit import (
    Disruption,
    Figures,
    check_answers,
    check_campaign,
    check_inbound,
    check_replies,
    check_turns,
    delivered,
    rasa_turns,
    telegram_peaks,
    twilio_peak,
)
from tests.scale.traffic import Posted


@dataclass
class Findings:
    figures: Figures
    problems: dict[str, list[str]]
    tracebacks: dict[str, int]  # by process, from its log


def examine(
    store: sessionmaker[Session],
    *,
    tracker_url: str,
    posted: list[Posted],
    campaign_id: int,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
    disruptions: list[Disruption],
    logs: dict[str, Path],
) -> Findings:
    figures = Figures()
    received = delivered(telegram, twilio)
    with store() as session:
        campaign_texts = set(
            session.scalars(
                select(OutboxMessage.body).where(OutboxMessage.campaign_id == campaign_id)
            )
        )
        problems = {
            "inbound": check_inbound(session, posted, figures),
            "answers": check_answers(session, posted, figures),
            "replies": check_replies(
                session, posted, received, campaign_texts, disruptions, figures
            ),
            "campaign": check_campaign(session, campaign_id, received, disruptions, figures),
        }
    problems["rasa"] = check_turns(rasa_turns(tracker_url), posted, disruptions, figures)
    telegram_peak, chat_peak = telegram_peaks(telegram)
    figures.add("Telegram peak", telegram_peak)
    figures.add("chat peak", chat_peak)
    figures.add("Twilio peak", twilio_peak(twilio))
    texts = {name: log.read_text(errors="replace") for name, log in logs.items()}
    figures.add("deadlocks", sum(text.count("deadlock detected") for text in texts.values()))
    tracebacks = {name: text.count("Traceback") for name, text in texts.items()}
    return Findings(figures, problems, {name: n for name, n in tracebacks.items() if n})


def summary(f: Figures, disruptions: list[Disruption], tracebacks: dict[str, int]) -> str:
    """The figures, ready to copy into a closing note."""
    return (
        f"\nscale-out: {f['customers']} customers, {f['messages in']} messages in over "
        f"{f['gateways']} gateways ({f['webhooks re-delivered']} webhooks re-delivered)\n"
        f"  stored {f['stored']}, stored twice {f['stored twice']}, unanswered {f['unanswered']}\n"
        f"  answer turns {f['answer turns']}, Rasa turns {f['Rasa turns']}, answered twice "
        f"{f['answered twice']} (repeated after a crash: {f['turns repeated after a crash']}), "
        f"holding replies {f['holding replies']}\n"
        f"  conversations out of order or with a reply twice "
        f"{f['conversations out of order or with replies twice']}, replies sent again after a "
        f"crash {f['replies sent again after a crash']}\n"
        f"  campaign: {f['campaign recipients']} recipients, sent {f['campaign sent']}; received "
        f"by SMS {f['campaign sms received']}, by Telegram {f['campaign telegram received']} "
        f"(again after the crash: {f['campaign Telegram messages sent again after a crash']}); "
        f"duplicates or losses {f['campaign duplicates or losses']}\n"
        f"  busiest second: Telegram {f['Telegram peak']} messages (limit "
        f"{f['Telegram limit']}), Twilio {f['Twilio peak']} segments (limit {f['Twilio limit']}); "
        f"busiest chat {f['chat peak']} in 3 s\n"
        f"  seconds: {f['seconds to start']} to start, {f['seconds for campaign and customers']} "
        f"for the campaign and the customers, {f['seconds in all']} in all\n"
        f"  disruptions: {', '.join(d.what for d in disruptions)}; deadlocks {f['deadlocks']}; "
        f"tracebacks in logs: {tracebacks or 'none'}"
    )

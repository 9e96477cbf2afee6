"""What happened, from three sides: what the fake providers received, what the store
recorded, and what Rasa's tracker store saw. Each check returns its problems (none when
all is well) and adds to the figures.

A crash may repeat work that was in flight at that moment, and only that: a Telegram
message accepted by Telegram a moment before its sender was killed is sent again (the
Bot API cannot be asked what went out, as the README says), and a message Rasa was
answering when its gateway died is answered again once (the customer still gets one
reply). Everything else must happen exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from channels.rasa_client import to_traditional
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Direction,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from tests.fakes import FakeTelegram, FakeTwilio, sms_segments
from tests.scale.cluster import RASA_TIMEOUT_SECONDS
from tests.scale.traffic import Posted

IN_FLIGHT_SEND = 2.0  # seconds between a provider accepting a message and the store noting it
IN_FLIGHT_TURN = RASA_TIMEOUT_SECONDS  # the longest a gateway waits on Rasa for a turn
REPLIES = (MessagePurpose.REPLY, MessagePurpose.COMPLIANCE)


@dataclass(frozen=True)
class Disruption:
    what: str
    wall: float  # time.time(), Rasa's clock
    mono: float  # time.monotonic(), the fakes' clock


@dataclass(frozen=True)
class Delivered:
    """One message a fake provider accepted."""

    address: str
    text: str
    at: float


@dataclass
class Figures:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def __getitem__(self, name: str) -> int:
        return self.counts[name]


def _just_before(at: float, moments: Iterable[float], window: float) -> bool:
    return any(moment - window <= at <= moment for moment in moments)


def _cut_short(first: float, again: float, crashes: Iterable[float], window: float) -> bool:
    """Whether a turn Rasa first took at `first` was in flight at a crash before `again`.
    Rasa notes a turn when it starts on it, which on a busy machine may be after the
    gateway that sent it died, though within `window` of the sending."""
    return any(abs(first - crash) <= window and crash <= again for crash in crashes)


def delivered(telegram: FakeTelegram, twilio: FakeTwilio) -> list[Delivered]:
    return [Delivered(str(m["chat_id"]), m["text"], m["at"]) for m in telegram.sent] + [
        Delivered(m["to"], m["body"], m["at"]) for m in twilio.sent
    ]


# ---- inbound


def check_inbound(session: Session, posted: list[Posted], figures: Figures) -> list[str]:
    """Every message posted is stored once, and handled."""
    addresses = {p.shopper.address for p in posted}
    stored = session.execute(
        select(ChannelIdentity.address, Message.channel_message_id, Message.handled_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
        .where(Message.direction == Direction.INBOUND, ChannelIdentity.address.in_(addresses))
    ).all()
    copies = Counter((address, provider_id) for address, provider_id, _ in stored)
    expected = {(p.shopper.address, p.provider_id) for p in posted}
    figures.add("messages in", len(posted))
    figures.add("stored", len(stored))
    figures.add("stored twice", sum(n - 1 for n in copies.values()))
    figures.add("unanswered", sum(1 for *_, handled in stored if handled is None))
    problems = [f"lost: {key}" for key in sorted(expected - set(copies))]
    problems += [f"stored but never posted: {key}" for key in sorted(set(copies) - expected)]
    problems += [f"stored {n} times: {key}" for key, n in copies.items() if n > 1]
    problems += [f"never handled: {a} {i}" for a, i, handled in stored if handled is None]
    return problems


def check_answers(session: Session, posted: list[Posted], figures: Figures) -> list[str]:
    """Each message has exactly one answer turn: a turn answers a burst of messages and
    is keyed by the burst's last one, so each customer's turns must be keyed by their own
    messages and the last message must have one, unless the bot handed the customer to
    staff (a failed turn, answered with the apology): what they write after that goes to
    the staff inbox, acknowledged at most once in a while (`acknowledge_for_staff`)."""
    addresses = {p.shopper.address for p in posted}
    inbound: dict[str, list[int]] = defaultdict(list)
    with_staff: set[str] = set()
    for address, message_id, mode in session.execute(
        select(ChannelIdentity.address, Message.id, Conversation.mode)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
        .where(Message.direction == Direction.INBOUND, ChannelIdentity.address.in_(addresses))
    ):
        inbound[address].append(message_id)
        if mode is ConversationMode.HUMAN:
            with_staff.add(address)
    turns: dict[str, list[int]] = defaultdict(list)
    for address, key, _, _ in _sent_rows(session, addresses, *REPLIES):
        kind, _, rest = key.partition(":")
        if kind == "reply" and rest.isdigit():  # "reply:<id>:2" is the turn's second part
            turns[address].append(int(rest))
    problems = []
    for address, ids in inbound.items():
        figures.add("answer turns", len(turns[address]))
        if not turns[address] or (address not in with_staff and max(turns[address]) < max(ids)):
            problems.append(f"{address}: no answer to the last message")
        stray = set(turns[address]) - set(ids)
        if stray:
            problems.append(f"{address}: answers keyed by messages not theirs: {stray}")
    return problems


# ---- Rasa's turns


def rasa_turns(tracker_url: str) -> dict[str, list[tuple[float, str]]]:
    """Each conversation's user messages as Rasa's tracker store recorded them."""
    url = make_url(tracker_url)
    with psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, dbname=url.database
    ) as connection:
        rows = connection.execute(
            "SELECT sender_id, timestamp, data::json->>'text' FROM events"
            " WHERE type_name = 'user' ORDER BY id"
        ).fetchall()
    turns: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for sender, timestamp, text in rows:
        turns[sender].append((float(timestamp), text or ""))
    return turns


def check_turns(
    turns: dict[str, list[tuple[float, str]]],
    posted: list[Posted],
    disruptions: list[Disruption],
    figures: Figures,
) -> list[str]:
    """Rasa saw each message once and in order (a burst is one turn, its messages joined
    by newlines); a second time only if its first turn was cut short by a crash."""
    said: dict[str, list[str]] = defaultdict(list)
    for p in posted:
        said[f"{p.shopper.channel}:{p.shopper.address}"].append(to_traditional(p.text))
    crashes = [d.wall for d in disruptions]
    problems = []
    for sender, texts in said.items():
        seen: dict[str, float] = {}
        order = []
        for at, turn in turns.get(sender, []):
            figures.add("Rasa turns")
            for line in turn.split("\n"):
                if line not in seen:
                    seen[line] = at
                    order.append(line)
                elif _cut_short(seen[line], at, crashes, IN_FLIGHT_TURN):
                    figures.add("turns repeated after a crash")
                else:
                    figures.add("answered twice")
                    problems.append(
                        f"{sender}: Rasa answered {line!r} twice, at {seen[line]:.1f} and "
                        f"{at:.1f} (crashes at {', '.join(f'{c:.1f}' for c in crashes)})"
                    )
        missing = [text for text in texts if text not in seen]
        if missing:
            problems.append(f"{sender}: never reached Rasa: {missing}")
        elif order != texts:
            problems.append(f"{sender}: Rasa saw {order}, the customer wrote {texts}")
    return problems


# ---- what the customers received


def _sent_rows(
    session: Session, addresses: set[str], *purposes: MessagePurpose
) -> list[tuple[str, str, str, OutboxStatus]]:
    """The outbox rows of `purposes` to `addresses`, in the order they were queued."""
    return [
        (address, key, body, status)
        for address, key, body, status in session.execute(
            select(
                ChannelIdentity.address,
                OutboxMessage.idempotency_key,
                OutboxMessage.body,
                OutboxMessage.status,
            )
            .join(ChannelIdentity, ChannelIdentity.id == OutboxMessage.identity_id)
            .where(ChannelIdentity.address.in_(addresses), OutboxMessage.purpose.in_(purposes))
            .order_by(OutboxMessage.id)
        )
    ]


def check_replies(
    session: Session,
    posted: list[Posted],
    received: list[Delivered],
    campaign_texts: set[str],
    disruptions: list[Disruption],
    figures: Figures,
) -> list[str]:
    """Each reply the store queued reached the customer once, in the order queued."""
    addresses = {p.shopper.address for p in posted}
    queued: dict[str, list[str]] = defaultdict(list)
    problems = []
    for address, key, body, status in _sent_rows(session, addresses, *REPLIES):
        kind = key.split(":", 1)[0]
        figures.add(
            {"reply": "answer turns", "holding": "holding replies"}.get(kind, "other replies")
        )
        if status is not OutboxStatus.SENT:
            problems.append(f"{address}: reply {key} is {status}")
        queued[address].append(body)
    arrived: dict[str, list[Delivered]] = defaultdict(list)
    for message in sorted(received, key=lambda m: m.at):
        if message.address in addresses and message.text not in campaign_texts:
            arrived[message.address].append(message)
    crashes = [d.mono for d in disruptions]
    for address in addresses:
        kept = _without_resends(arrived[address], queued[address], crashes, figures)
        if kept != queued[address]:
            figures.add("conversations out of order or with replies twice")
            problems.append(f"{address}: got {kept}, the store queued {queued[address]}")
    return problems


def _without_resends(
    arrived: list[Delivered], queued: list[str], crashes: list[float], figures: Figures
) -> list[str]:
    """The texts that arrived, less a copy beyond those queued of one that was in flight
    at a crash (the same holding reply queued twice, once an outage, is no copy)."""
    times_queued = Counter(queued)
    last: dict[str, float] = {}
    kept: list[str] = []
    for message in arrived:
        text = message.text
        surplus = kept.count(text) >= times_queued[text]
        if surplus and text in last and _just_before(last[text], crashes, IN_FLIGHT_SEND):
            figures.add("replies sent again after a crash")
            continue
        last[text] = message.at
        kept.append(text)
    return kept


def check_campaign(
    session: Session,
    campaign_id: int,
    received: list[Delivered],
    disruptions: list[Disruption],
    figures: Figures,
) -> list[str]:
    """Every recipient got the campaign: by SMS exactly once, by Telegram once, or twice
    when the first went out a moment before its scheduler was killed."""
    rows = session.execute(
        select(
            ChannelIdentity.channel,
            ChannelIdentity.address,
            OutboxMessage.body,
            OutboxMessage.status,
        )
        .join(ChannelIdentity, ChannelIdentity.id == OutboxMessage.identity_id)
        .where(OutboxMessage.campaign_id == campaign_id)
    ).all()
    arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
    for message in received:
        arrivals[(message.address, message.text)].append(message.at)
    crashes = [d.mono for d in disruptions]
    problems = []
    for channel, address, body, status in rows:
        figures.add("campaign recipients")
        figures.add(f"campaign {status}")
        times = sorted(arrivals.get((address, body), []))
        figures.add(f"campaign {channel} received", len(times))
        if len(times) == 1:
            continue
        resent = (
            channel is Channel.TELEGRAM
            and len(times) == 2
            and _just_before(times[0], crashes, IN_FLIGHT_SEND)
        )
        if resent:
            figures.add("campaign Telegram messages sent again after a crash")
        else:
            figures.add("campaign duplicates or losses")
            problems.append(f"{channel} {address} got the campaign {len(times)} times")
    return problems


# ---- the providers' limits


def peak(times: list[float], weights: list[int] | None = None, window: float = 1.0) -> int:
    """The most units (one per time, or `weights`) in any `window` seconds."""
    events = sorted(zip(times, weights or [1] * len(times), strict=True))
    best = total = start = 0
    for at, weight in events:
        total += weight
        while events[start][0] <= at - window:
            total -= events[start][1]
            start += 1
        best = max(best, total)
    return best


def telegram_peaks(telegram: FakeTelegram) -> tuple[int, int]:
    """The most sendMessage calls in any second overall, and to one chat in any 3 s."""
    calls = telegram.calls_to("sendMessage")
    per_chat: dict[object, list[float]] = defaultdict(list)
    for call in calls:
        per_chat[call["params"].get("chat_id")].append(call["at"])
    chat_peak = max((peak(times, window=3.0) for times in per_chat.values()), default=0)
    return peak([call["at"] for call in calls]), chat_peak


def twilio_peak(twilio: FakeTwilio) -> int:
    """The most SMS segments asked for in any second."""
    creates = [c for c in twilio.calls if c["method"] == "POST"]
    return peak(
        [c["at"] for c in creates], [sms_segments(c["params"].get("Body", "")) for c in creates]
    )

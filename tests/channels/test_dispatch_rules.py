"""The sending rules the dispatcher checks at send time, and its retry backoff."""

from __future__ import annotations

import random

import pytest

from channels import dispatch
from channels.dispatch import backoff
from crm_store.models import Channel, ChannelIdentity, MessagePurpose
from crm_store.sending_rules import consent_refusal as refusal

ALL_PURPOSES = list(MessagePurpose)
ANSWERS = [MessagePurpose.REPLY, MessagePurpose.COMPLIANCE]
UNSOLICITED = [MessagePurpose.TRANSACTIONAL, MessagePurpose.SURVEY, MessagePurpose.MARKETING]


def identity(
    *,
    reachable: bool = True,
    unreachable_reason: str | None = None,
    opted_out: bool = False,
    marketing_consent: bool = True,
) -> ChannelIdentity:
    return ChannelIdentity(
        channel=Channel.SMS,
        address="+886912345678",
        reachable=reachable,
        unreachable_reason=unreachable_reason,
        opted_out=opted_out,
        marketing_consent=marketing_consent,
    )


# --- refusal -------------------------------------------------------------------------


def test_the_purposes_split_into_answers_and_unsolicited_messages() -> None:
    assert sorted(ANSWERS + UNSOLICITED) == sorted(ALL_PURPOSES)


@pytest.mark.parametrize("purpose", ALL_PURPOSES)
def test_a_reachable_consenting_customer_may_get_every_purpose(purpose: MessagePurpose) -> None:
    assert refusal(identity(), purpose) is None


@pytest.mark.parametrize("purpose", ALL_PURPOSES)
def test_an_unreachable_identity_is_refused_every_purpose(purpose: MessagePurpose) -> None:
    reason = refusal(identity(reachable=False, unreachable_reason="blocked the bot"), purpose)
    assert reason == "unreachable: blocked the bot"


def test_an_unreachable_identity_without_a_reason_is_still_refused() -> None:
    assert refusal(identity(reachable=False), MessagePurpose.REPLY) == "unreachable: unknown"


@pytest.mark.parametrize("purpose", ANSWERS)
def test_an_opted_out_customer_still_gets_replies_and_compliance(purpose: MessagePurpose) -> None:
    assert refusal(identity(opted_out=True), purpose) is None
    assert refusal(identity(opted_out=True, marketing_consent=False), purpose) is None


@pytest.mark.parametrize("purpose", UNSOLICITED)
def test_an_opted_out_customer_gets_nothing_unsolicited(purpose: MessagePurpose) -> None:
    assert refusal(identity(opted_out=True), purpose) == "opted out"


def test_marketing_without_consent_is_refused() -> None:
    reason = refusal(identity(marketing_consent=False), MessagePurpose.MARKETING)
    assert reason == "no marketing consent"


@pytest.mark.parametrize("purpose", [p for p in ALL_PURPOSES if p is not MessagePurpose.MARKETING])
def test_only_marketing_needs_marketing_consent(purpose: MessagePurpose) -> None:
    assert refusal(identity(marketing_consent=False), purpose) is None


def test_unreachable_is_the_reason_given_before_opted_out() -> None:
    both = identity(reachable=False, unreachable_reason="invalid number", opted_out=True)
    assert refusal(both, MessagePurpose.MARKETING) == "unreachable: invalid number"


# --- backoff -------------------------------------------------------------------------


class FixedJitter:
    """Stands in for the `random` module: uniform(low, high) gives one end or the middle."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.calls: list[tuple[float, float]] = []

    def uniform(self, low: float, high: float) -> float:
        self.calls.append((low, high))
        return {"low": low, "high": high, "middle": (low + high) / 2}[self.where]


def test_backoff_doubles_from_two_seconds_and_is_capped_at_ten_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jitter = FixedJitter("middle")
    monkeypatch.setattr(dispatch, "random", jitter)
    delays = [backoff(attempt) for attempt in range(1, 13)]
    expected = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 600.0, 600.0, 600.0]
    assert delays == pytest.approx(expected)
    assert backoff(1000) == pytest.approx(600.0)
    assert all(call == (0.8, 1.2) for call in jitter.calls)


@pytest.mark.parametrize(("where", "factor"), [("low", 0.8), ("high", 1.2)])
def test_backoff_jitter_stays_within_twenty_percent(
    monkeypatch: pytest.MonkeyPatch, where: str, factor: float
) -> None:
    monkeypatch.setattr(dispatch, "random", FixedJitter(where))
    assert backoff(3) == pytest.approx(8 * factor)
    assert backoff(30) == pytest.approx(600 * factor)


def test_real_jitter_stays_in_bounds_and_varies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "random", random.Random(99))
    for attempt in (1, 5, 9, 10, 40):
        base = min(600, 2**attempt)
        delays = [backoff(attempt) for _ in range(500)]
        assert all(base * 0.8 <= delay <= base * 1.2 for delay in delays)
        assert len(set(delays)) > 400  # jittered, not a constant
    assert max(backoff(64) for _ in range(500)) <= 720.0


def test_each_retry_waits_longer_than_the_last_until_the_cap_whatever_the_jitter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dispatch, "random", random.Random(5))
    for _ in range(200):
        delays = [backoff(attempt) for attempt in range(1, 10)]
        assert delays == sorted(delays)
        assert len(set(delays)) == len(delays)

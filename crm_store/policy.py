"""The service-recovery policy: what the bot may grant, by when, and what it offers.

The table itself is `bot/policy.yml`, so a shop owner changes it without code; this
module reads it and answers the questions the complaint actions ask. The console reads
it here too, so an agent resolving a case picks from the bot's root causes and the
survey follows the same delay.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from crm_store.analytics import lifetime_value
from crm_store.models import (
    ComplaintCategory,
    Customer,
    DesiredOutcome,
    Language,
    OrderStatus,
    Tier,
)

POLICY_FILE = Path(__file__).resolve().parent.parent / "bot" / "policy.yml"


@dataclass(frozen=True, slots=True)
class CompensationOption:
    kind: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Cause:
    """A root cause, and the words that restate the problem in each language."""

    name: str
    phrases: dict[str, str]
    words: tuple[str, ...] = ()


class PolicyRule(enum.StrEnum):
    """Which part of the policy a decision rests on."""

    WITHIN = "within"
    OUTCOME = "outcome"  # the bot does not grant this outcome for the category
    ORDER_VALUE = "order_value"  # over the tier's limit, or no order to act on
    WINDOW = "window"  # delivered longer ago than the return window
    CHECK_FIRST = "check_first"  # a person must check the facts first


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    rule: PolicyRule = PolicyRule.WITHIN


class Policy:
    """The parsed policy table (see `bot/policy.yml` for the meaning of each part)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self._allowed = {
            ComplaintCategory(category): {DesiredOutcome(o) for o in outcomes}
            for category, outcomes in table["allowed_outcomes"].items()
        }
        self._max_order_value = {
            Tier(tier): Decimal(value) for tier, value in table["max_order_value"].items()
        }
        self._working_days = {
            DesiredOutcome(outcome): int(days) for outcome, days in table["working_days"].items()
        }
        self._severity_by_category = {
            ComplaintCategory(c): int(s) for c, s in table["severity"]["by_category"].items()
        }
        self._severity_words = tuple(w.lower() for w in table["severity"]["raised_by"])
        self._severity_tiers = {Tier(t) for t in table["severity"].get("raised_for_tiers", [])}
        self.highest_severity = max(self._severity_by_category.values()) + 1
        self.return_window_days = int(table["return_window_days"])
        self._check_first = {
            (ComplaintCategory(category), cause)
            for category, causes in table.get("check_first", {}).items()
            for cause in causes
        }
        self._windowed = {DesiredOutcome(o) for o in table["window_applies_to"]}
        self.cancellable = {OrderStatus(s) for s in table["cancellable_statuses"]}
        self.return_pickup_days = int(table["return_pickup_working_days"])
        self._compensation = {
            int(severity): {
                Tier(tier): [
                    CompensationOption(option["kind"], Decimal(option["value"]))
                    for option in options
                ]
                for tier, options in by_tier.items()
            }
            for severity, by_tier in table["compensation"].items()
        }
        self.compensation_authority = Decimal(table["compensation_authority"])
        self.high_value_from = Decimal(table["high_value_from"])
        self._labels: dict[str, dict[str, str]] = table["compensation_labels"]
        self.survey_after = timedelta(days=int(table["survey_after_days"]))
        self._causes: dict[ComplaintCategory, tuple[Cause, list[Cause]]] = {}
        for category, spec in table["root_causes"].items():
            default = spec["default"]
            self._causes[ComplaintCategory(category)] = (
                Cause(default["cause"], _phrases(default)),
                [
                    Cause(c["cause"], _phrases(c), tuple(w.lower() for w in c["words"]))
                    for c in spec.get("causes", [])
                ],
            )

    @property
    def root_causes(self) -> tuple[str, ...]:
        """Every root cause's name, in the table's order, each once."""
        names = (
            cause.name for default, causes in self._causes.values() for cause in (default, *causes)
        )
        return tuple(dict.fromkeys(names))

    def is_high_value(self, customer: Customer, *, now: datetime) -> bool:
        """A VIP, or a customer whose estimated lifetime value reaches `high_value_from`:
        their complaints go to a person."""
        return (
            customer.tier is Tier.VIP or lifetime_value(customer, now=now) >= self.high_value_from
        )

    def may_grant(
        self,
        *,
        category: ComplaintCategory,
        outcome: DesiredOutcome,
        tier: Tier,
        order_value: Decimal | None,
        delivered_on: date | None = None,
        today: date | None = None,
        cause: str | None = None,
    ) -> Decision:
        """Whether the bot may agree to `outcome` itself, and if not, why."""
        if outcome not in self._allowed.get(category, set()):
            return Decision(
                False,
                f"{outcome.value} is not granted by the bot for {category}",
                PolicyRule.OUTCOME,
            )
        if (category, cause) in self._check_first and outcome is DesiredOutcome.REFUND:
            return Decision(False, f"{cause} is checked by a person first", PolicyRule.CHECK_FIRST)
        if outcome in (DesiredOutcome.REFUND, DesiredOutcome.REPLACEMENT):
            limit = self._max_order_value.get(tier)
            if limit is None:
                return Decision(
                    False, f"no refund limit for tier {tier.value}", PolicyRule.ORDER_VALUE
                )
            if order_value is None:
                return Decision(False, f"{outcome.value} needs an order", PolicyRule.ORDER_VALUE)
            if order_value > limit:
                return Decision(
                    False, f"order value {order_value} exceeds {limit}", PolicyRule.ORDER_VALUE
                )
        if (
            outcome in self._windowed
            and delivered_on is not None
            and today is not None
            and (today - delivered_on).days > self.return_window_days
        ):
            return Decision(
                False,
                f"delivered {delivered_on.isoformat()}, "
                f"past the {self.return_window_days}-day window",
                PolicyRule.WINDOW,
            )
        return Decision(True, "within policy")

    def due_date(self, outcome: DesiredOutcome, *, start: date) -> date:
        """The date the agreed action is done: working days after `start`."""
        return _working_days_after(start, self._working_days.get(outcome, 2))

    def pickup_date(self, *, start: date) -> date:
        """When the courier collects a return started on `start`."""
        return _working_days_after(start, self.return_pickup_days)

    def severity(self, category: ComplaintCategory, text: str, *, tier: Tier | None = None) -> int:
        """1-3 from the category and the words; a valued customer's complaint weighs more."""
        base = self._severity_by_category.get(category, 1)
        lowered = text.lower()
        raised = any(word in lowered for word in self._severity_words)
        valued = tier in self._severity_tiers
        return min(3, base + int(raised) + int(valued))

    def compensation_options(self, *, severity: int, tier: Tier) -> list[CompensationOption]:
        """What the customer may choose from; empty when a person must decide (VIP, or
        every option above the bot's authority)."""
        options = self._compensation.get(severity, {}).get(tier, [])
        return [option for option in options if option.value <= self.compensation_authority]

    def label(self, option: CompensationOption, language: Language) -> str:
        template = self._labels[option.kind][language.value]
        return template.format(value=f"{option.value:,.0f}")

    def cause(self, category: ComplaintCategory, text: str) -> Cause:
        """The root cause (step 8) that `text` points to within `category`."""
        default, causes = self._causes[category]
        lowered = text.lower()
        for cause in causes:
            if any(word in lowered for word in cause.words):
                return cause
        return default


def _working_days_after(start: date, days: int) -> date:
    day = start
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def _phrases(spec: dict[str, Any]) -> dict[str, str]:
    return {language.value: spec[language.value] for language in Language}


@lru_cache(maxsize=1)
def load_policy(path: Path = POLICY_FILE) -> Policy:
    with path.open(encoding="utf-8") as stream:
        return Policy(yaml.safe_load(stream))

"""Who a campaign goes to: a segment's filters, its audience, and a preview for marketers.

A campaign stores its segment as JSON (`Campaign.segment`); `Segment.from_dict` turns
that into checked filters and says plainly what is wrong with a hand-edited one. The
audience is worked out in SQL (one query, plus a few small ones for `min_rfm`) that
returns only ids, channel and language: a campaign may pick 100,000 recipients out of
a million customers, and loading each as an ORM object would take minutes. On a
million customers in SQLite a 100,000-recipient audience takes about 1–1.5 s, with
`min_rfm` about 3 s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, case, exists, func, literal, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType

from crm_store.models import Channel, ChannelIdentity, Customer, CustomerTag, Language, Tier
from crm_store.templates import InvalidTemplate, check, context_for, render

# Web chat visitors are anonymous page sessions that only see replies while the page is
# open, so campaigns go out on Telegram and SMS only; Telegram first, as it costs nothing.
OUTREACH_CHANNELS: tuple[Channel, ...] = (Channel.TELEGRAM, Channel.SMS)

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Segment:
    """Filters on customers; an empty or None filter lets everyone through.

    Within a filter the values are alternatives (any listed tier); filters combine
    with AND. `channels` both limits who qualifies and sets the order of preference
    when a customer can be reached on several.
    """

    tiers: tuple[Tier, ...] = ()
    languages: tuple[Language, ...] = ()
    channels: tuple[Channel, ...] = ()
    birth_months: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    ordered_within_days: int | None = None
    lapsed_days: int | None = None
    min_orders: int | None = None
    min_total_spent: Decimal | None = None
    min_rfm: int | None = None

    def __post_init__(self) -> None:
        _check_members("tier", self.tiers, Tier)
        _check_members("language", self.languages, Language)
        _check_members("channel", self.channels, Channel)
        for channel in self.channels:
            if channel not in OUTREACH_CHANNELS:
                raise ValueError(
                    f"campaigns cannot be sent on channel {channel.value!r}; "
                    f"allowed: {_names(OUTREACH_CHANNELS)}"
                )
        for month in self.birth_months:
            if not _is_int(month) or not 1 <= month <= 12:
                raise ValueError(f"birth month {month!r} is not a month number 1–12")
        for tag in self.tags:
            if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
                raise ValueError(f"tag {tag!r} must be a text of 1–64 characters")
        for name in ("ordered_within_days", "lapsed_days", "min_orders"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be a whole number ≥ 0, not {value!r}")
        if (
            self.ordered_within_days is not None
            and self.lapsed_days is not None
            and self.lapsed_days > self.ordered_within_days
        ):
            raise ValueError(
                f"no customer can have ordered within {self.ordered_within_days} days and "
                f"not for {self.lapsed_days} days"
            )
        if self.min_total_spent is not None and (
            not isinstance(self.min_total_spent, Decimal)
            or not self.min_total_spent.is_finite()
            or self.min_total_spent < 0
        ):
            raise ValueError(f"min_total_spent must be an amount ≥ 0, not {self.min_total_spent!r}")
        if self.min_rfm is not None and (not _is_int(self.min_rfm) or not 3 <= self.min_rfm <= 15):
            raise ValueError(f"min_rfm must be a whole number 3–15, not {self.min_rfm!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        """A segment from its JSON form (see `to_dict`).

        Raises:
            ValueError: naming the key and what is wrong, e.g. an unknown key or tier.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a segment must be a JSON object, not {type(data).__name__}")
        unknown = sorted(set(data) - set(SEGMENT_KEYS))
        if unknown:
            raise ValueError(
                f"unknown segment key {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(SEGMENT_KEYS)}"
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key == "tiers":
                values[key] = _members("tier", value, Tier)
            elif key == "languages":
                values[key] = _members("language", value, Language)
            elif key == "channels":
                values[key] = _members("channel", value, Channel)
            elif key == "birth_months":
                values[key] = _list(key, value)
            elif key == "tags":
                # Tags are stored stripped (see `customer_csv`).
                values[key] = tuple(
                    t.strip() if isinstance(t, str) else t for t in _list(key, value)
                )
            elif key == "min_total_spent":
                values[key] = _amount(value)
            else:
                values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with only the filters that are set."""
        data: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None or value == ():
                continue
            if isinstance(value, tuple):
                data[item.name] = [v.value if isinstance(v, StrEnum) else v for v in value]
            elif isinstance(value, Decimal):
                data[item.name] = str(value)
            else:
                data[item.name] = value
        return data

    @property
    def channel_preference(self) -> tuple[Channel, ...]:
        """The channels recipients may be reached on, most preferred first."""
        return self.channels or OUTREACH_CHANNELS


SEGMENT_KEYS: tuple[str, ...] = tuple(item.name for item in dataclasses.fields(Segment))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names(members: Iterable[StrEnum]) -> str:
    return ", ".join(member.value for member in members)


def _check_members(kind: str, values: tuple[Any, ...], enum: type[StrEnum]) -> None:
    for value in values:
        if not isinstance(value, enum):
            raise ValueError(f"unknown {kind} {value!r}; allowed: {_names(enum)}")


def _list(key: str, value: object) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{key} must be a list, not {value!r}")
    return tuple(value)


def _members(kind: str, value: object, enum: type[_E]) -> tuple[_E, ...]:
    members = []
    for item in _list(f"{kind}s", value):
        try:
            members.append(enum(item))
        except (ValueError, TypeError):
            raise ValueError(f"unknown {kind} {item!r}; allowed: {_names(enum)}") from None
    return tuple(members)


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"min_total_spent must be an amount, not {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"min_total_spent must be an amount, not {value!r}") from None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One customer and the identity a campaign message to them goes to."""

    customer_id: int
    identity_id: int
    channel: Channel
    language: Language


class _Unindexed(FunctionElement[_T]):
    """A column as it is, written ``+column`` on SQLite so its planner keeps off its index.

    SQLite without range statistics assumes a date range is narrow and reads a broad
    one ("no order for 180 days", half the customers) through `ix_customers_winback`
    in date order, then sorts by id: 4 s where a scan in id order takes under 1 s.
    PostgreSQL estimates ranges from its statistics and gets the column itself.
    """

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: ColumnElement[_T]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(_Unindexed)
def _compile_unindexed(element: _Unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_Unindexed, "sqlite")
def _compile_unindexed_sqlite(element: _Unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def _conditions(segment: Segment, *, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Customer.erased_at.is_(None)]
    if segment.tiers:
        conditions.append(Customer.tier.in_(segment.tiers))
    if segment.languages:
        conditions.append(Customer.language.in_(segment.languages))
    if segment.birth_months:
        conditions.append(Customer.birth_month.in_(segment.birth_months))
    if segment.tags:
        conditions.append(
            exists().where(
                CustomerTag.customer_id == Customer.id, CustomerTag.tag.in_(segment.tags)
            )
        )
    last_order_at = _Unindexed(Customer.last_order_at.expression)
    if segment.ordered_within_days is not None:
        conditions.append(last_order_at >= now - timedelta(days=segment.ordered_within_days))
    if segment.lapsed_days is not None:
        conditions.append(last_order_at <= now - timedelta(days=segment.lapsed_days))
    if segment.min_orders is not None:
        conditions.append(Customer.order_count >= segment.min_orders)
    if segment.min_total_spent is not None:
        conditions.append(Customer.total_spent >= segment.min_total_spent)
    return conditions


def audience(
    session: Session, segment: Segment, *, now: datetime, marketing: bool = True
) -> list[Recipient]:
    """The customers `segment` selects at `now`, each with one identity, by customer id.

    The identity is reachable and not opted out, and with `marketing` (anything but a
    service message) also consented to marketing; among several, the channel earliest
    in `segment.channel_preference` wins, then the oldest identity. Erased customers
    and customers with no such identity are left out.
    """
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}; pass an aware time")
    preference = segment.channel_preference
    usable = [
        ChannelIdentity.reachable.is_(True),
        ChannelIdentity.opted_out.is_(False),
        ChannelIdentity.channel.in_(preference),
    ]
    if marketing:
        usable.append(ChannelIdentity.marketing_consent.is_(True))
    rank = case(
        {channel.value: index for index, channel in enumerate(preference)},
        value=ChannelIdentity.channel,
    )
    query = (
        select(Customer.id, ChannelIdentity.id, ChannelIdentity.channel, Customer.language)
        .join_from(Customer, ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
        .where(*_conditions(segment, now=now), *usable)
        .order_by(Customer.id, rank, ChannelIdentity.id)
    )
    if segment.min_rfm is not None:
        rfm = _rfm_at_least(session, segment.min_rfm)
        if rfm is None:
            return []
        query = query.where(*rfm)
    recipients: list[Recipient] = []
    last_customer_id = None
    # Rows come best identity first within each customer: keep the first of each.
    for customer_id, identity_id, channel, language in session.execute(query):
        if customer_id != last_customer_id:
            recipients.append(Recipient(customer_id, identity_id, channel, language))
            last_customer_id = customer_id
    return recipients


def _rfm_at_least(session: Session, minimum: int) -> list[ColumnElement[bool]] | None:
    """Conditions for an R+F+M total of at least `minimum`, or None when nobody has it.

    The scores are those of `crm_store.analytics.rfm_scores` (the tests hold the two
    together), worked out in SQL: `rfm_scores` builds an object for every customer
    ever sold to, some 20 s for a million on SQLite, where a segment needs only a yes
    or no. A score is ``min(5, 1 + int(percent_rank * 5))`` with ``percent_rank =
    (customers with a lower value) / (n - 1)``, so it is at least k + 1 exactly when
    the value is above the one at position ``ceil(k * (n - 1) / 5)`` in ascending
    order. Those four cut-offs per measure take one sort each; they are read and bound
    back in the driver's own form, so SQLite's float amounts and text times compare
    exactly as stored.
    """
    sold = [Customer.order_count > 0, Customer.erased_at.is_(None)]
    count = session.scalar(select(func.count()).select_from(Customer).where(*sold)) or 0
    if count <= 1:
        # A single customer ranks 0 on every measure: 1 + 1 + 1.
        return sold if count == 1 and minimum <= 3 else None
    positions = [-(-k * (count - 1) // 5) for k in range(1, 5)]
    total: ColumnElement[int] = literal(3)
    for measure in (Customer.last_order_at, Customer.order_count, Customer.total_spent):
        raw = type_coerce(measure, NullType())
        ranked = (
            select(raw.label("value"), func.row_number().over(order_by=measure).label("position"))
            .where(*sold)
            .subquery()
        )
        cutoffs: dict[int, Any] = dict(
            session.execute(
                select(ranked.c.position, ranked.c.value).where(ranked.c.position.in_(positions))
            ).all()
        )
        for position in positions:
            total = total + case((raw > cutoffs[position], 1), else_=0)
    return [*sold, total >= minimum]


@dataclass(frozen=True, slots=True)
class Sample:
    """One message as a recipient would get it."""

    customer_name: str
    language: Language
    channel: Channel
    text: str


@dataclass(frozen=True, slots=True)
class Preview:
    """What a marketer sees before approving a campaign."""

    size: int
    by_language: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


def template_for(templates: Mapping[str, str], language: Language) -> str:
    """The template in `language`, or else the one in the other language.

    Raises:
        ValueError: when `templates` holds no template at all.
    """
    text = templates.get(language.value)
    if text:
        return text
    for other in Language:
        if templates.get(other.value):
            return templates[other.value]
    raise ValueError("the campaign has no message template")


def check_templates(templates: Mapping[str, str]) -> None:
    """Raise ValueError (InvalidTemplate for a bad text) unless `templates` can be sent.

    Keys are language codes; at least one template is needed.
    """
    unknown = sorted(set(templates) - {language.value for language in Language})
    if unknown:
        raise ValueError(
            f"template for unknown language {', '.join(map(repr, unknown))}; "
            f"allowed: {_names(Language)}"
        )
    if not any(templates.values()):
        raise ValueError("the campaign has no message template")
    for language, text in templates.items():
        try:
            check(text)
        except InvalidTemplate as error:
            raise InvalidTemplate(f"{language} template: {error}") from error


def _pick_samples(recipients: Sequence[Recipient], count: int) -> list[Recipient]:
    """`count` recipients in id order, with every language present shown at least once."""
    chosen: dict[int, Recipient] = {}
    seen_languages: set[Language] = set()
    for recipient in recipients:
        if len(chosen) >= count or len(seen_languages) == len(Language):
            break
        if recipient.language not in seen_languages:
            seen_languages.add(recipient.language)
            chosen[recipient.customer_id] = recipient
    for recipient in recipients:
        if len(chosen) >= count:
            break
        chosen.setdefault(recipient.customer_id, recipient)
    return sorted(chosen.values(), key=lambda recipient: recipient.customer_id)


def preview(
    session: Session,
    segment: Segment,
    templates: dict[str, str],
    *,
    now: datetime,
    shop: str,
    samples: int = 3,
    marketing: bool = True,
    coupon: str | None = None,
) -> Preview:
    """The audience's size and make-up, and a few messages rendered as they would be sent.

    `templates` maps language codes to template texts; `coupon` stands in for the
    codes a campaign issues per recipient.

    Raises:
        InvalidTemplate: when a template is bad or fails for a sampled customer.
        ValueError: when there is no template or one for an unknown language.
    """
    check_templates(templates)
    recipients = audience(session, segment, now=now, marketing=marketing)
    by_language: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for recipient in recipients:
        by_language[recipient.language.value] = by_language.get(recipient.language.value, 0) + 1
        by_channel[recipient.channel.value] = by_channel.get(recipient.channel.value, 0) + 1
    picked = _pick_samples(recipients, samples)
    customers = {
        customer.id: customer
        for customer in session.scalars(
            select(Customer).where(Customer.id.in_([r.customer_id for r in picked]))
        )
    }
    rendered = []
    for recipient in picked:
        customer = customers[recipient.customer_id]
        text = render(
            template_for(templates, recipient.language),
            context_for(customer, shop=shop, coupon=coupon),
        )
        rendered.append(Sample(customer.name, recipient.language, recipient.channel, text))
    return Preview(
        size=len(recipients), by_language=by_language, by_channel=by_channel, samples=rendered
    )

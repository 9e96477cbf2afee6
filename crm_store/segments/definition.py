"""A segment: filters on customers, checked, and their JSON form.

A campaign stores its segment as JSON (`Campaign.segment`); `Segment.from_dict` turns
that into checked filters and says plainly what is wrong with a hand-edited one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from crm_store.models import Channel, Language, Tier
from crm_store.reach import OUTREACH_CHANNELS

_E = TypeVar("_E", bound=StrEnum)


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

"""Marketers' message templates, rendered safely for each customer.

Templates are Jinja2 text written by staff in the console, so they run in Jinja's
immutable sandbox: no access to Python internals (``''.__class__``), no changing of
the values passed in, and only the fields in `FIELDS`. Output is plain text for SMS
and Telegram, so nothing is HTML-escaped; a field that is None prints as nothing
rather than "None". Unknown fields and syntax errors are found by `check` when a
campaign is saved, not when it is half sent.

The sandbox also refuses the textbook arithmetic bombs (``9 ** 9 ** 9``,
``'x' * 10 ** 9``), which Jinja would otherwise evaluate while compiling. It does not
bound every use of memory or time (string methods can still build large texts), so
templates stay a staff-only feature, previewed before a campaign is approved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crm_store.customers import zone
from crm_store.models import Customer

FIELDS: Final[Mapping[str, str]] = {
    "name": "the customer's full name, e.g. 陳美玲 or Alice Chen",
    "first_name": (
        "the given name: 美玲 for 陳美玲, 修 for 歐陽修, 美玲 for 陳林美玲 (a Chinese name of "
        "2–4 Han characters without its surname), otherwise the first word (Alice)"
    ),
    "tier": "loyalty tier: standard, silver, gold or vip",
    "language": "the customer's language: zh-TW or en",
    "birthday": "date of birth (a date, or None when unknown)",
    "last_order_date": "date of the last order in the customer's time zone, or None",
    "order_count": "number of orders (cancelled and returned ones not counted)",
    "total_spent": "money spent in all, rounded to a whole number",
    "coupon": "the coupon code given with this message, or None",
    "shop": "the shop's name",
}

# Limits on the two operators that can blow up from a short expression.
MAX_POWER_BITS = 4_096
MAX_REPEAT_LENGTH = 10_000

_HAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]{2,4}")
# Two-character surnames; for 歐陽修 the given name is 修, not 陽修.
COMPOUND_SURNAMES: Final = frozenset(
    {
        "歐陽", "司馬", "諸葛", "上官", "司徒", "東方", "皇甫", "令狐", "夏侯", "慕容",
        "公孫", "尉遲", "長孫", "宇文", "軒轅", "西門", "端木", "張簡", "范姜", "張廖",
        "欧阳", "公孙", "尉迟", "长孙", "轩辕",
    }
)  # fmt: skip


class InvalidTemplate(ValueError):
    """A template that cannot be used: bad syntax, an unknown field, or a failed render."""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with guarded ``*`` and ``**`` (intercepting also stops constant folding)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_big_power(left, right):
            raise SecurityError(f"{left!r} ** {right!r} is too large")
        if operator == "*" and _is_big_repeat(left, right):
            raise SecurityError("repeating a text or list that many times is not allowed")
        return super().call_binop(context, operator, left, right)


def _is_big_power(base: object, exponent: object) -> bool:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        return abs(base).bit_length() * exponent > MAX_POWER_BITS
    return False


def _is_big_repeat(left: object, right: object) -> bool:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            return len(sequence) * times > MAX_REPEAT_LENGTH
    return False


def _blank_none(value: object) -> object:
    return "" if value is None else value


_environment = _Environment(
    undefined=StrictUndefined, autoescape=False, finalize=_blank_none, keep_trailing_newline=False
)
# No range(), lipsum(), dict() ...: a template sees the fields and nothing else.
_environment.globals.clear()


def _allowed() -> str:
    return ", ".join(sorted(FIELDS))


def check(text: str) -> None:
    """Raise InvalidTemplate unless `text` parses and uses only `FIELDS`, filters and tests.

    Nothing is compiled or evaluated here, so checking an untrusted text costs only a parse.
    """
    try:
        tree = _environment.parse(text)
    except TemplateSyntaxError as error:
        raise InvalidTemplate(
            f"template syntax error on line {error.lineno}: {error.message}"
        ) from error
    unknown = sorted(find_undeclared_variables(tree) - set(FIELDS))
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise InvalidTemplate(f"unknown field {names} in template; allowed: {_allowed()}")
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = (
            ("filter", _environment.filters)
            if isinstance(node, nodes.Filter)
            else ("test", _environment.tests)
        )
        if node.name not in known:
            raise InvalidTemplate(f"unknown {kind} {node.name!r} in template on line {node.lineno}")


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    """Compiled once per text: a campaign renders one template for every recipient."""
    return _environment.from_string(text)


def render(text: str, context: Mapping[str, object]) -> str:
    """`text` rendered with `context` (see `context_for`), without surrounding blank space.

    Raises:
        InvalidTemplate: for a syntax error, a field the context lacks, a blocked
            operation or any other failure of the template itself.
    """
    try:
        return _compiled(text).render(context).strip()
    except TemplateSyntaxError as error:
        raise InvalidTemplate(
            f"template syntax error on line {error.lineno}: {error.message}"
        ) from error
    except SecurityError as error:
        raise InvalidTemplate(f"template tried something not allowed: {error}") from error
    except TemplateError as error:  # UndefinedError and other runtime errors
        raise InvalidTemplate(f"template failed: {error}") from error
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as error:
        raise InvalidTemplate(f"template failed: {type(error).__name__}: {error}") from error


def first_name(name: str) -> str:
    """The given name to greet a customer by (see `FIELDS`)."""
    name = name.strip()
    if _HAN_NAME.fullmatch(name):
        if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
            return name[2:]
        return name[1:] if len(name) < 4 else name[2:]
    words: Sequence[str] = name.split()
    return words[0] if words else ""


def context_for(customer: Customer, *, shop: str, coupon: str | None = None) -> dict[str, object]:
    """The values of `FIELDS` for `customer`, ready for `render`."""
    last_order_date: date | None = None
    if customer.last_order_at is not None:
        last_order_date = customer.last_order_at.astimezone(zone(customer.timezone)).date()
    spent = Decimal(customer.total_spent or 0).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return {
        "name": customer.name,
        "first_name": first_name(customer.name),
        "tier": str(customer.tier.value),
        "language": str(customer.language.value),
        "birthday": customer.birthday,
        "last_order_date": last_order_date,
        "order_count": customer.order_count or 0,
        "total_spent": int(spent),
        "coupon": coupon,
        "shop": shop,
    }

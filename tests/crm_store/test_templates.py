from datetime import date
from decimal import Decimal

import pytest

from crm_store.models import Customer, Language, Tier
from crm_store.templates import FIELDS, InvalidTemplate, check, context_for, first_name, render
from tests.factories import utc


def customer(**values: object) -> Customer:
    fields: dict[str, object] = {
        "name": "陳美玲",
        "language": Language.ZH_TW,
        "tier": Tier.GOLD,
        "timezone": "Asia/Taipei",
        "order_count": 3,
        "total_spent": Decimal("1234.50"),
        "last_order_at": None,
    }
    fields.update(values)
    result = Customer(**fields)
    result.set_birthday(date(1990, 6, 15))
    return result


def test_check_accepts_every_documented_field() -> None:
    text = " ".join(f"{{{{ {name} }}}}" for name in FIELDS)
    check(text + "{% if coupon %}{{ coupon|upper }}{% endif %}")


def test_check_reports_a_syntax_error_with_its_line() -> None:
    with pytest.raises(InvalidTemplate, match="line 2"):
        check("Hi {{ name }}\n{% if coupon %}no end")


def test_check_names_an_unknown_field_and_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidTemplate) as raised:
        check("Hi {{ nickname }}, {{ name }}")
    message = str(raised.value)
    assert "'nickname'" in message
    assert "allowed: birthday, coupon, first_name" in message
    assert "'name'" not in message


def test_check_refuses_globals_and_unknown_filters() -> None:
    with pytest.raises(InvalidTemplate, match="unknown field 'range'"):
        check("{% for i in range(3) %}x{% endfor %}")
    with pytest.raises(InvalidTemplate, match="unknown filter 'shout'"):
        check("{% if coupon %}{{ name|shout }}{% endif %}")
    with pytest.raises(InvalidTemplate, match="unknown test 'fancy'"):
        check("{% if name is fancy %}x{% endif %}")


def test_loop_variables_are_not_unknown_fields() -> None:
    check("{% for word in name.split() %}{{ loop.index }}{{ word }}{% endfor %}")
    assert render("{% for w in name.split() %}[{{ w }}]{% endfor %}", {"name": "a b"}) == "[a][b]"


def test_sandbox_blocks_python_internals_but_allows_string_methods() -> None:
    assert render("{{ name.upper() }}!", {"name": "alice"}) == "ALICE!"
    for text in (
        "{{ ''.__class__.__mro__ }}",
        "{{ name.__class__.__base__.__subclasses__() }}",
        "{{ name.format.__globals__ }}",
    ):
        check(text)  # only fields are used: the sandbox is what stops it
        with pytest.raises(InvalidTemplate, match="not allowed"):
            render(text, {"name": "alice"})


def test_sandbox_is_immutable_and_refuses_arithmetic_bombs() -> None:
    with pytest.raises(InvalidTemplate, match="not allowed"):
        render("{{ name.split().append('x') }}", {"name": "a b"})
    with pytest.raises(InvalidTemplate, match="not allowed"):
        render("{{ 10 ** 10000000 }}", {})
    with pytest.raises(InvalidTemplate, match="not allowed"):
        render("{{ name * 1000000000 }}", {"name": "ab"})
    assert render("{{ 2 ** 10 }} {{ name * 3 }}", {"name": "ab"}) == "1024 ababab"


def test_render_strips_prints_none_as_nothing_and_does_not_escape() -> None:
    text = "  Hi {{ name }} <b>&</b> [{{ coupon }}]\n\n"
    assert render(text, {"name": "A&B", "coupon": None}) == "Hi A&B <b>&</b> []"


def test_render_turns_template_failures_into_invalid_template() -> None:
    with pytest.raises(InvalidTemplate, match="'shop' is undefined"):
        render("{{ shop }}", {"name": "x"})
    with pytest.raises(InvalidTemplate, match="no attribute 'month'"):
        render("{{ birthday.month }}", {"birthday": None})
    with pytest.raises(InvalidTemplate, match="ZeroDivisionError"):
        render("{{ order_count / 0 }}", {"order_count": 1})
    with pytest.raises(InvalidTemplate, match="line 1"):
        render("{{ name ", {"name": "x"})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("陳美玲", "美玲"),
        ("王明", "明"),
        ("歐陽修", "修"),
        ("歐陽娜娜", "娜娜"),
        ("陳林美玲", "美玲"),
        ("  林志玲 ", "志玲"),
        ("王", "王"),
        ("Alice Chen", "Alice"),
        ("  Bob  ", "Bob"),
        ("陳美玲 Mei", "陳美玲"),
        ("", ""),
    ],
)
def test_first_name(name: str, expected: str) -> None:
    assert first_name(name) == expected


def test_context_for_gives_every_field() -> None:
    # 20:00 UTC on 1 March is already 2 March in Taipei.
    person = customer(last_order_at=utc(2026, 3, 1, 20, 0))
    context = context_for(person, shop="好物商店", coupon="BDAY-42")
    assert context == {
        "name": "陳美玲",
        "first_name": "美玲",
        "tier": "gold",
        "language": "zh-TW",
        "birthday": date(1990, 6, 15),
        "last_order_date": date(2026, 3, 2),
        "order_count": 3,
        "total_spent": 1235,
        "coupon": "BDAY-42",
        "shop": "好物商店",
    }
    assert set(context) == set(FIELDS)
    assert type(context["tier"]) is str


def test_context_for_rounds_money_and_handles_no_orders() -> None:
    context = context_for(customer(total_spent=Decimal("1234.49"), order_count=0), shop="S")
    assert (context["total_spent"], context["last_order_date"], context["coupon"]) == (
        1234,
        None,
        None,
    )


def test_render_a_customer_message() -> None:
    text = (
        "{{ first_name }}您好！{{ shop }}祝您生日快樂🎂\n"
        "{% if coupon %}生日禮：{{ coupon }}{% endif %}"
        "{% if tier == 'gold' %}（金卡會員）{% endif %}"
    )
    check(text)
    person = customer()
    assert render(text, context_for(person, shop="好物", coupon="B-1")) == (
        "美玲您好！好物祝您生日快樂🎂\n生日禮：B-1（金卡會員）"
    )
    assert render(text, context_for(person, shop="好物")) == (
        "美玲您好！好物祝您生日快樂🎂\n（金卡會員）"
    )

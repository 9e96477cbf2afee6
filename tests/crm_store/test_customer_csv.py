import io
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import customer_csv
from crm_store.customer_csv import ImportFailed, import_customers, write_customers_csv
from crm_store.models import Channel, ChannelIdentity, Customer, CustomerTag, Language, Tier
from tests.factories import make_customer

HEADER = (
    "name,phone,telegram_chat_id,email,birthday,language,timezone,tier,marketing_consent,tags\n"
)


def run_import(session: Session, text: str, **options: bool) -> int:
    result = import_customers(
        session,
        io.StringIO(text),
        region="TW",
        default_timezone="Asia/Taipei",
        actor="test",
        **options,
    )
    session.commit()
    return result.imported


def customer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def test_import_normalises_phones_and_reads_every_column(session: Session) -> None:
    text = HEADER + (
        "陳美玲,0912-345-678,,mei@example.com,1990-02-28,zh-TW,,gold,是,vip;常客\n"
        'John Smith,+1 (415) 555-2671,987654,,1985/07/04,en,America/Los_Angeles,,no,"" \n'
    )
    assert run_import(session, text) == 2

    mei = session.scalar(select(Customer).where(Customer.name == "陳美玲"))
    assert mei is not None
    assert mei.birthday == date(1990, 2, 28)
    assert (mei.birth_month, mei.birth_day) == (2, 28)
    assert mei.tier is Tier.GOLD
    assert mei.timezone == "Asia/Taipei"
    assert [(i.channel, i.address, i.marketing_consent) for i in mei.identities] == [
        (Channel.SMS, "+886912345678", True)
    ]
    assert sorted(t.tag for t in mei.tags) == ["vip", "常客"]

    john = session.scalar(select(Customer).where(Customer.name == "John Smith"))
    assert john is not None
    assert john.language is Language.EN
    assert john.timezone == "America/Los_Angeles"
    assert sorted((i.channel, i.address, i.marketing_consent) for i in john.identities) == [
        (Channel.SMS, "+14155552671", False),
        (Channel.TELEGRAM, "987654", False),
    ]


def test_every_bad_row_is_reported_by_line_and_nothing_is_imported(session: Session) -> None:
    text = HEADER + (
        "Good Person,0912345678,,,,,,,yes,\n"  # line 2: fine
        ",0912345679,,,,,,,,\n"  # line 3: no name
        "Bad Phone,12345,,,,,,,,\n"  # line 4
        "Bad Date,0912345680,,,2023-02-29,,,,,\n"  # line 5: not a leap year
        "Bad Zone,0912345681,,,,,Mars/Olympus,,,\n"  # line 6
        "Bad Tier,0912345682,,,,,,platinum,,\n"  # line 7
        "Duplicate,0912 345 678,,,,,,,,\n"  # line 8: same phone as line 2
        "Bad Lang,0912345683,,,,fr,,,,\n"  # line 9
        "Bad Chat,,abc,,,,,,,\n"  # line 10
        "Bad Consent,0912345684,,,,,,,maybe,\n"  # line 11
    )
    with pytest.raises(ImportFailed) as failure:
        run_import(session, text)

    reported = {(p.line, p.column) for p in failure.value.problems}
    assert reported == {
        (3, "name"),
        (4, "phone"),
        (5, "birthday"),
        (6, "timezone"),
        (7, "tier"),
        (8, "phone"),
        (9, "language"),
        (10, "telegram_chat_id"),
        (11, "marketing_consent"),
    }
    duplicate = next(p for p in failure.value.problems if p.line == 8)
    assert "line 2" in str(duplicate)
    session.rollback()
    assert customer_count(session) == 0


def test_phone_already_in_the_store_is_refused_or_skipped(session: Session) -> None:
    existing = make_customer(session, name="Existing", phone="+886912345678")
    session.commit()
    text = HEADER + "New One,0987654321,,,,,,,,\nAgain,0912345678,,,,,,,,\n"

    with pytest.raises(ImportFailed) as failure:
        run_import(session, text)
    assert [str(p) for p in failure.value.problems] == [
        f"line 3, column phone: +886912345678 already belongs to customer {existing.id} "
        "(use --skip-existing to leave such rows out)"
    ]
    session.rollback()
    assert customer_count(session) == 1

    assert run_import(session, text, skip_existing=True) == 1
    assert customer_count(session) == 2


def test_unknown_or_missing_columns_are_refused(session: Session) -> None:
    with pytest.raises(ImportFailed) as failure:
        run_import(session, "nombre,phone\nX,0912345678\n")
    assert {(p.line, p.column) for p in failure.value.problems} == {(1, "nombre"), (1, "name")}

    with pytest.raises(ImportFailed) as empty:
        run_import(session, "")
    assert "empty" in str(empty.value.problems[0])


def test_a_row_with_too_many_fields_is_reported(session: Session) -> None:
    with pytest.raises(ImportFailed) as failure:
        run_import(session, "name,phone\nX,0912345678,extra\n")
    assert [(p.line, p.column) for p in failure.value.problems] == [(2, None)]


def test_export_then_import_into_an_empty_store_round_trips(
    session: Session, tmp_path: object
) -> None:
    text = HEADER + (
        "陳美玲,0912-345-678,5555,mei@example.com,1990-02-28,zh-TW,,gold,yes,vip\n"
        "John Smith,+14155552671,,,,en,America/Los_Angeles,silver,no,\n"
        "No Phone,,,,,,,,,\n"
    )
    run_import(session, text)
    exported = io.StringIO()
    assert write_customers_csv(session, exported) == 3

    session.execute(ChannelIdentity.__table__.delete())
    session.execute(CustomerTag.__table__.delete())
    session.execute(Customer.__table__.delete())
    session.commit()
    assert run_import(session, exported.getvalue()) == 3

    again = io.StringIO()
    write_customers_csv(session, again)
    assert again.getvalue() == exported.getvalue()
    assert "+886912345678" in again.getvalue()


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> int:
    """Batches of two rows, so that a short file goes through the checker process."""
    monkeypatch.setattr(customer_csv.importing, "BATCH_SIZE", 2)
    return 2


def numbered_rows(count: int, start: int = 0) -> str:
    return "".join(
        f"Customer {n},09{12_000_000 + n:08d},,,,,,,yes,tag{n % 3}\n"
        for n in range(start, start + count)
    )


def test_a_file_of_many_batches_is_checked_alongside_and_imported_whole(
    session: Session, small_batches: int
) -> None:
    checked: list[int] = []
    written: list[int] = []
    result = import_customers(
        session,
        io.StringIO(HEADER + numbered_rows(9)),
        region="TW",
        default_timezone="Asia/Taipei",
        actor="test",
        on_checked=checked.append,
        on_written=written.append,
    )
    session.commit()

    assert result.imported == 9
    assert sum(checked) == sum(written) == 9
    assert max(checked) == small_batches
    names = session.scalars(select(Customer.name).order_by(Customer.id)).all()
    assert names == [f"Customer {n}" for n in range(9)]
    phones = session.scalars(select(ChannelIdentity.address).order_by(ChannelIdentity.id)).all()
    assert phones == [f"+8869{12_000_000 + n:08d}" for n in range(9)]
    tags = session.scalars(select(CustomerTag.tag).order_by(CustomerTag.customer_id)).all()
    assert tags == [f"tag{n % 3}" for n in range(9)]


def test_a_late_bad_row_undoes_the_batches_already_written(
    session: Session, small_batches: int
) -> None:
    kept = make_customer(session, name="Added earlier in the same transaction")
    text = (
        HEADER
        + numbered_rows(6)
        + "Late Duplicate,0912000001,,,,,,,,\n"  # line 8: the phone of line 3
        + numbered_rows(2, start=6)
        + "Late Bad Date,,,,1990-13-01,,,,,\n"  # line 11
    )
    with pytest.raises(ImportFailed) as failure:
        import_customers(
            session, io.StringIO(text), region="TW", default_timezone="Asia/Taipei", actor="t"
        )

    assert [(p.line, p.column) for p in failure.value.problems] == [
        (8, "phone"),
        (11, "birthday"),
    ]
    assert "line 3" in str(failure.value.problems[0])
    # No rollback by the caller: the import undid its own writes and nothing else.
    assert session.scalars(select(Customer.name)).all() == [kept.name]
    assert session.scalar(select(func.count()).select_from(ChannelIdentity)) == 0
    assert session.scalar(select(func.count()).select_from(CustomerTag)) == 0
    session.commit()
    assert customer_count(session) == 1


def test_rows_already_in_the_store_are_found_in_every_batch(
    session: Session, small_batches: int
) -> None:
    make_customer(session, name="Existing", phone="+886912000005")
    session.commit()
    text = HEADER + numbered_rows(7)

    with pytest.raises(ImportFailed) as failure:
        run_import(session, text)
    assert [(p.line, p.column) for p in failure.value.problems] == [(7, "phone")]
    session.rollback()

    assert run_import(session, text, skip_existing=True) == 6
    assert customer_count(session) == 7

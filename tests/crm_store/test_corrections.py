"""Staff correcting a customer's details on request (個資法 更正), on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.corrections import (
    EnteredDetails,
    InvalidDetails,
    NotACorrectionRequest,
    correct_customer,
    details_of,
)
from crm_store.customers import CustomerNotFound, forget_customer
from crm_store.data_requests import AlreadyDecided, record_request
from crm_store.models import (
    AuditLog,
    Channel,
    ChannelIdentity,
    Customer,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Language,
    LinkCode,
    OutboxMessage,
    StaffRole,
    StaffUser,
)
from crm_store.staff import create_staff_user
from tests.factories import make_customer, utc

NOW = utc(2026, 12, 1, 10)


@pytest.fixture
def staff(session: Session) -> StaffUser:
    return create_staff_user(
        session=session,
        email="agent@shop.test",
        display_name="陳小美",
        role=StaffRole.AGENT,
        password="correct horse battery staple",
        actor="test",
    )


def entered(customer: Customer, **typed: str) -> EnteredDetails:
    """The form as staff see it for `customer`, with `typed` typed over it."""
    return replace(EnteredDetails.of(details_of(customer)), **typed)


def correct(session: Session, customer: Customer, staff: StaffUser, **kwargs: Any) -> Any:
    """Staff save the form for `customer` with `kwargs` typed over it (a `now`, or a
    `confirm_request`, go to the call itself)."""
    call = {name: kwargs.pop(name) for name in ("now", "confirm_request") if name in kwargs}
    return correct_customer(
        session,
        customer.id,
        entered(customer, **kwargs),
        staff=staff,
        region="TW",
        **{"now": NOW, **call},
    )


def corrections_logged(session: Session) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == "customer.correct")))


def test_staff_correct_the_details_and_the_audit_log_keeps_old_and_new(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, name="王小明", birthday=date(1990, 3, 4))
    customer.email = "wang@example.com"

    correction = correct(
        session,
        customer,
        staff,
        name=" 王曉明 ",
        language="en",
        birthday="1990-03-05",
        email="xiaoming@example.com",
        timezone="Europe/London",
    )
    session.commit()
    session.expire_all()

    assert (customer.name, customer.language, customer.timezone) == (
        "王曉明",
        Language.EN,
        "Europe/London",
    )
    assert customer.birthday == date(1990, 3, 5)
    assert (customer.birth_month, customer.birth_day) == (3, 5)
    assert customer.email == "xiaoming@example.com"
    assert set(correction.changes) == {"name", "language", "birthday", "email", "timezone"}
    [logged] = corrections_logged(session)
    assert logged.actor == "agent@shop.test" and logged.entity_id == str(customer.id)
    assert logged.details is not None
    assert logged.details["changes"]["name"] == {"old": "王小明", "new": "王曉明"}
    assert logged.details["changes"]["birthday"] == {"old": "1990-03-04", "new": "1990-03-05"}
    assert logged.details["changes"]["language"] == {"old": "zh-TW", "new": "en"}


def test_a_corrected_phone_is_normalised_and_replaces_the_old_number_in_place(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, phone="+886912000001", telegram_chat_id="501")
    [phone] = [i for i in customer.identities if i.channel is Channel.SMS]
    phone.reachable, phone.unreachable_reason = False, "not a mobile number"
    session.add(
        LinkCode(
            chat_identity_id=customer.identities[1].id,
            phone_identity_id=phone.id,
            code="123456",
            issued_at=NOW,
        )
    )
    session.flush()

    correction = correct(session, customer, staff, phone="0912-000 002")
    session.commit()
    session.expire_all()

    assert correction.changes == {"phone": ("+886912000001", "+886912000002")}
    assert phone.address == "+886912000002" and phone.reachable and phone.unreachable_reason is None
    assert session.scalars(select(LinkCode)).all() == []  # a code texted to the old number
    assert [i.address for i in customer.identities if i.channel is Channel.TELEGRAM] == ["501"]


def test_a_first_phone_number_adds_an_sms_identity_without_marketing_consent(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, telegram_chat_id="502")

    correct(session, customer, staff, phone="0912000003")
    session.commit()

    added = session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.channel == Channel.SMS)
    ).one()
    assert added.customer_id == customer.id and added.address == "+886912000003"
    assert not added.marketing_consent


def test_bad_input_names_every_problem_and_changes_nothing(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, name="林美華", phone="+886912000004")
    session.commit()

    with pytest.raises(InvalidDetails) as raised:
        correct(
            session,
            customer,
            staff,
            name="  ",
            language="fr",
            birthday="1990-02-30",
            email="lin at example.com",
            timezone="Taipei",
            phone="12345",
        )
    session.rollback()

    problems = {(p.field, p.code) for p in raised.value.problems}
    assert problems == {
        ("name", "empty"),
        ("language", "unknown"),
        ("birthday", "not_a_date"),
        ("email", "not_an_email"),
        ("timezone", "unknown"),
        ("phone", "not_a_phone"),
    }
    assert customer.name == "林美華" and customer.identities[0].address == "+886912000004"
    assert corrections_logged(session) == []


def test_a_birthday_in_the_future_or_before_1900_is_refused(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session)
    for birthday in ("2026-12-03", "1899-12-31"):  # 12-03 is tomorrow everywhere
        with pytest.raises(InvalidDetails) as raised:
            correct(session, customer, staff, birthday=birthday)
        assert [(p.field, p.code) for p in raised.value.problems] == [("birthday", "out_of_range")]
    assert customer.birthday is None


def test_a_birthday_that_is_already_today_in_taipei_but_not_in_utc_is_taken(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session)
    half_past_midnight_in_taipei = utc(2026, 11, 30, 16, 30)
    correct(session, customer, staff, birthday="2026-12-01", now=half_past_midnight_in_taipei)
    assert customer.birthday == date(2026, 12, 1)


def test_another_customers_phone_is_refused_naming_them(session: Session, staff: StaffUser) -> None:
    other = make_customer(session, name="陳大同", phone="+886912000005")
    customer = make_customer(session, phone="+886912000006")

    with pytest.raises(InvalidDetails) as raised:
        correct(session, customer, staff, phone="0912 000 005")

    [problem] = raised.value.problems
    assert (problem.field, problem.code, problem.value) == ("phone", "taken", "+886912000005")
    assert problem.customer_id == other.id
    assert customer.identities[0].address == "+886912000006"


def test_a_held_phone_number_cannot_be_blanked(session: Session, staff: StaffUser) -> None:
    customer = make_customer(session, phone="+886912000007")
    with pytest.raises(InvalidDetails) as raised:
        correct(session, customer, staff, phone="")
    assert [(p.field, p.code) for p in raised.value.problems] == [("phone", "cannot_remove")]


def test_saving_unchanged_details_logs_nothing(session: Session, staff: StaffUser) -> None:
    customer = make_customer(session, phone="+886912000008", birthday=date(2000, 1, 1))
    correction = correct(session, customer, staff)
    assert correction.changes == {}
    assert corrections_logged(session) == []


def correction_request(session: Session, customer: Customer) -> DataRequest:
    return record_request(
        session,
        kind=DataRequestKind.CORRECTION,
        identity=customer.identities[0],
        message=None,
        now=NOW,
    )


def test_correcting_from_the_request_confirms_it_and_tells_the_customer(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, name="Amy Chen", language=Language.EN, phone="+886912000009")
    request = correction_request(session, customer)

    correction = correct(session, customer, staff, name="Amy Chan", confirm_request=request.id)
    session.commit()

    assert correction.confirmed is request and request.status is DataRequestStatus.DONE
    assert request.decided_by == staff.id
    [told] = session.scalars(select(OutboxMessage)).all()
    assert "corrected your personal data" in told.body
    [logged] = corrections_logged(session)
    assert logged.details is not None and logged.details["data_request_id"] == request.id


def test_a_request_not_this_customers_correction_is_refused_and_nothing_changes(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, name="王小明", phone="+886912000010")
    other = make_customer(session, phone="+886912000011")
    deletion = record_request(
        session,
        kind=DataRequestKind.DELETION,
        identity=customer.identities[0],
        message=None,
        now=NOW,
    )
    others = correction_request(session, other)
    session.commit()

    for request_id in (deletion.id, others.id, 999):
        with pytest.raises(NotACorrectionRequest):
            correct(session, customer, staff, name="王曉明", confirm_request=request_id)
        session.rollback()
    assert customer.name == "王小明"


def test_a_request_decided_already_is_not_confirmed_again(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, name="王小明", phone="+886912000012")
    request = correction_request(session, customer)
    request.status = DataRequestStatus.REFUSED
    session.commit()

    with pytest.raises(AlreadyDecided):
        correct(session, customer, staff, name="王曉明", confirm_request=request.id)
    session.rollback()
    assert customer.name == "王小明"


def test_erasure_drops_the_corrected_values_from_the_audit_log(
    session: Session, staff: StaffUser
) -> None:
    customer = make_customer(session, name="王小明", phone="+886912000013")
    correct(session, customer, staff, name="王曉明", phone="0912000014")
    session.commit()

    forget_customer(session, customer.id, actor="test")
    session.commit()

    [logged] = corrections_logged(session)
    assert logged.details == {"fields": ["name", "phone"]}
    with pytest.raises(CustomerNotFound):
        correct(session, customer, staff)

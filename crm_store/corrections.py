"""Staff correcting what the shop holds about a customer (個資法 Art. 3, 更正).

A customer may ask, on any channel, to correct their data (`data_requests`); staff then
change it here, in one call (`correct_customer`), from the console. Everything entered
is checked first and every problem is reported at once (`InvalidDetails`), so bad input
changes nothing. A change is written to the audit log with the staff member and each
field's old and new value; erasing the customer later drops those values from the log
(`customers.forget_customer`). Correcting from a pending correction request may confirm
it in the same transaction, which tells the customer (`data_requests.decide`).

The phone number is the customer's SMS identity (their oldest, if they have several),
corrected in place: its conversations stay, messages still waiting go to the new
number, and LINE link codes texted to the old number stop counting.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store import data_requests
from crm_store.audit import record_audit
from crm_store.conversations import known_identity
from crm_store.customers import CORRECTED_ACTION, CustomerNotFound, zone
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Language,
    LinkCode,
    Message,
    StaffUser,
)
from crm_store.phones import InvalidPhoneNumber, normalize_phone

NAME_LENGTH = 200
EMAIL_LENGTH = 320
OLDEST_BIRTH_YEAR = 1900


@dataclass(frozen=True, slots=True)
class CustomerDetails:
    """What a customer may ask to have corrected, as held."""

    name: str
    language: Language
    birthday: date | None
    email: str | None
    timezone: str
    phone: str | None  # E.164

    def as_text(self) -> dict[str, str | None]:
        """Each field as text, as the audit log and the form show it."""
        return {field.name: _as_text(getattr(self, field.name)) for field in fields(self)}


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, slots=True)
class EnteredDetails:
    """The details as staff typed them, unchecked; a blank text means none."""

    name: str
    language: str
    birthday: str
    email: str
    timezone: str
    phone: str

    @classmethod
    def of(cls, details: CustomerDetails) -> EnteredDetails:
        return cls(**{name: value or "" for name, value in details.as_text().items()})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an entered field: `code` names it (the console words it),
    `value` is what was entered, `customer_id` whose number a taken phone is."""

    field: str
    code: str
    value: str = ""
    customer_id: int | None = None

    def __str__(self) -> str:
        owner = f" (customer {self.customer_id})" if self.customer_id is not None else ""
        return f"{self.field}: {self.code} {self.value!r}{owner}"


class InvalidDetails(ValueError):
    """The entered details have problems; nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


class NotACorrectionRequest(LookupError):
    """The request to confirm is not a correction asked by this customer."""

    def __init__(self, request_id: int, customer_id: int) -> None:
        super().__init__(f"data request {request_id} is not customer {customer_id}'s correction")
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class Correction:
    """What changed, field by field (old, new), and the request confirmed with it."""

    changes: dict[str, tuple[str | None, str | None]]
    confirmed: DataRequest | None


def phone_identity(customer: Customer) -> ChannelIdentity | None:
    """The customer's SMS identity that the form corrects: the oldest."""
    phones = [identity for identity in customer.identities if identity.channel is Channel.SMS]
    return min(phones, key=lambda identity: identity.id, default=None)


def details_of(customer: Customer) -> CustomerDetails:
    identity = phone_identity(customer)
    return CustomerDetails(
        name=customer.name,
        language=customer.language,
        birthday=customer.birthday,
        email=customer.email,
        timezone=customer.timezone,
        phone=None if identity is None else identity.address,
    )


def correctable_customer(session: Session, customer_id: int) -> Customer:
    """The customer, unless erased (then there is nothing left to correct).

    Raises:
        CustomerNotFound: when there is no such customer, or they were erased.
    """
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise CustomerNotFound(f"with id {customer_id}")
    return customer


def pending_correction(session: Session, request_id: int, customer_id: int) -> DataRequest:
    """The customer's correction request `request_id`, still waiting for staff.

    Raises:
        NotACorrectionRequest: when it is no correction of this customer's.
        AlreadyDecided: when someone decided it already.
    """
    request = session.get(DataRequest, request_id)
    if (
        request is None
        or request.customer_id != customer_id
        or request.kind is not DataRequestKind.CORRECTION
    ):
        raise NotACorrectionRequest(request_id, customer_id)
    if request.status is not DataRequestStatus.PENDING:
        raise data_requests.AlreadyDecided(request)
    return request


def request_words(session: Session, request: DataRequest) -> str | None:
    """What the customer wrote when asking, for staff to correct by."""
    if request.message_id is None:
        return None
    return session.scalar(select(Message.text).where(Message.id == request.message_id))


def check_details(
    session: Session, customer: Customer, entered: EnteredDetails, *, region: str, today: date
) -> CustomerDetails:
    """The entered details, checked and normalised.

    Raises:
        InvalidDetails: listing every problem found.
    """
    problems: list[Problem] = []
    name = entered.name.strip()
    if not name:
        problems.append(Problem("name", "empty"))
    elif len(name) > NAME_LENGTH:
        problems.append(Problem("name", "too_long", name))

    language = Language.ZH_TW
    try:
        language = Language(entered.language.strip())
    except ValueError:
        problems.append(Problem("language", "unknown", entered.language))

    birthday: date | None = None
    if entered.birthday.strip():
        try:
            birthday = date.fromisoformat(entered.birthday.strip())
        except ValueError:
            problems.append(Problem("birthday", "not_a_date", entered.birthday))
        else:
            if birthday > today or birthday.year < OLDEST_BIRTH_YEAR:
                problems.append(Problem("birthday", "out_of_range", entered.birthday))

    email = entered.email.strip() or None
    if email is not None and (
        email.count("@") != 1 or " " in email or len(email) > EMAIL_LENGTH or email[-1] == "@"
    ):
        problems.append(Problem("email", "not_an_email", email))

    timezone = entered.timezone.strip()
    if zone(timezone).key != timezone:
        problems.append(Problem("timezone", "unknown", entered.timezone))

    phone = _checked_phone(session, customer, entered.phone, region=region, problems=problems)
    if problems:
        raise InvalidDetails(problems)
    return CustomerDetails(
        name=name,
        language=language,
        birthday=birthday,
        email=email,
        timezone=timezone,
        phone=phone,
    )


def _checked_phone(
    session: Session, customer: Customer, text: str, *, region: str, problems: list[Problem]
) -> str | None:
    held = phone_identity(customer)
    if not text.strip():
        if held is not None:
            # The identity row carries the conversations sent to it, so a number is
            # corrected, or erased with the customer, never just dropped.
            problems.append(Problem("phone", "cannot_remove"))
        return None
    try:
        phone = normalize_phone(text, region)
    except InvalidPhoneNumber:
        problems.append(Problem("phone", "not_a_phone", text))
        return None
    owner = known_identity(session, channel=Channel.SMS, address=phone)
    if owner is not None and owner is not held:
        problems.append(Problem("phone", "taken", phone, customer_id=owner.customer_id))
    return phone


def correct_customer(
    session: Session,
    customer_id: int,
    entered: EnteredDetails,
    *,
    staff: StaffUser,
    region: str,
    now: datetime,
    confirm_request: int | None = None,
) -> Correction:
    """Check `entered` and change what differs, audited; confirm `confirm_request` too.

    Raises:
        CustomerNotFound: when there is no such customer, or they were erased.
        InvalidDetails: when anything entered is wrong (nothing is changed).
        NotACorrectionRequest: when `confirm_request` is not this customer's correction.
        AlreadyDecided: when `confirm_request` was decided already.
    """
    customer = correctable_customer(session, customer_id)
    request = (
        None
        if confirm_request is None
        else pending_correction(session, confirm_request, customer_id)
    )
    held = details_of(customer)
    # The latest date anywhere on Earth (UTC+14): no birthday is after it.
    latest_today = (now + timedelta(hours=14)).date()
    wanted = check_details(session, customer, entered, region=region, today=latest_today)
    old, new = held.as_text(), wanted.as_text()
    changes = {name: (old[name], new[name]) for name in old if old[name] != new[name]}
    customer.name = wanted.name
    customer.language = wanted.language
    customer.set_birthday(wanted.birthday)
    customer.email = wanted.email
    customer.timezone = wanted.timezone
    if "phone" in changes and wanted.phone is not None:
        _correct_phone(session, customer, wanted.phone)
    if changes:
        record_audit(
            session,
            actor=staff.email,
            action=CORRECTED_ACTION,
            entity="customer",
            entity_id=customer.id,
            details={
                "changes": {
                    name: {"old": before, "new": after} for name, (before, after) in changes.items()
                },
                "data_request_id": confirm_request,
            },
        )
    try:
        session.flush()
    except IntegrityError as error:  # another customer was given the number meanwhile
        taken = Problem("phone", "taken_meanwhile", entered.phone.strip())
        raise InvalidDetails([taken]) from error
    if request is not None:
        data_requests.decide(session, request.id, staff=staff, confirm=True, now=now)
    return Correction(changes=changes, confirmed=request)


def _correct_phone(session: Session, customer: Customer, phone: str) -> None:
    identity = phone_identity(customer)
    if identity is None:
        # A number the shop never had: no consent to marketing on it yet.
        customer.identities.append(
            ChannelIdentity(channel=Channel.SMS, address=phone, marketing_consent=False)
        )
        return
    session.execute(delete(LinkCode).where(LinkCode.phone_identity_id == identity.id))
    identity.address = phone
    # A wrong number is often why messages failed; the corrected one deserves a try.
    identity.reachable = True
    identity.unreachable_reason = None

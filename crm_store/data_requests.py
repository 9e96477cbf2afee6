"""Customers' requests about their personal data, from asking to staff's decision.

The gateway records a request (`record_request`) when a customer asks, on any channel,
to see, correct or delete their data (個資法 Art. 3); staff see the pending ones in the
console and decide (`decide`). A confirmed deletion runs `customers.forget_customer`,
the same erasure as `crmbot customer forget`; a refusal, and a correction made, are
told to the customer on the channel they asked on. Every request and every decision
is in the audit log. The audit names the customer by id only: the log outlives an
erasure, so it keeps no address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_store.audit import record_audit
from crm_store.conversations import open_conversation
from crm_store.customers import forget_customer
from crm_store.models import (
    Author,
    ChannelIdentity,
    Customer,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Language,
    Message,
    MessagePurpose,
    StaffUser,
)
from crm_store.outbox import enqueue

REFUSED = {
    Language.ZH_TW: "很抱歉，您的個資請求（{kind}）目前無法照辦，同事會再與您聯絡說明原因。",
    Language.EN: "Sorry, we can't carry out your request ({kind}) as asked; "
    "a colleague will contact you to explain why.",
}
CORRECTED = {
    Language.ZH_TW: "您要求更正的個人資料已經更新好了，謝謝您告訴我們 🙏",
    Language.EN: "We've corrected your personal data as you asked. Thank you for telling us 🙏",
}
KIND_NAMES = {
    DataRequestKind.ACCESS: {Language.ZH_TW: "查閱", Language.EN: "a copy of your data"},
    DataRequestKind.CORRECTION: {Language.ZH_TW: "更正", Language.EN: "a correction"},
    DataRequestKind.DELETION: {Language.ZH_TW: "刪除", Language.EN: "deletion"},
}


class DataRequestNotFound(LookupError):
    def __init__(self, request_id: int) -> None:
        super().__init__(f"no data request {request_id}")
        self.request_id = request_id


class AlreadyDecided(RuntimeError):
    """Someone decided this request already (two staff at once, or a resubmitted form)."""

    def __init__(self, request: DataRequest) -> None:
        super().__init__(f"data request {request.id} is {request.status.value}")
        self.request = request


def record_request(
    session: Session,
    *,
    kind: DataRequestKind,
    identity: ChannelIdentity,
    message: Message | None,
    now: datetime,
) -> DataRequest:
    request = DataRequest(
        customer_id=identity.customer_id,
        identity_id=identity.id,
        message_id=None if message is None else message.id,
        kind=kind,
        status=DataRequestStatus.PENDING,
        requested_at=now,
    )
    session.add(request)
    session.flush()
    record_audit(
        session,
        actor=f"customer:{identity.customer_id}",
        action=f"data_request.{kind.value}",
        entity="data_request",
        entity_id=request.id,
        details={"customer_id": identity.customer_id, "channel": identity.channel.value},
    )
    return request


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """A request as staff see it: who asked, on which channel, in their own words."""

    request: DataRequest
    customer: Customer
    identity: ChannelIdentity | None
    words: str | None


def _entries(session: Session, *, pending: bool, limit: int) -> list[RequestEntry]:
    query = (
        select(DataRequest, Customer, ChannelIdentity, Message.text)
        .join(Customer, Customer.id == DataRequest.customer_id)
        .outerjoin(ChannelIdentity, ChannelIdentity.id == DataRequest.identity_id)
        .outerjoin(Message, Message.id == DataRequest.message_id)
    )
    if pending:
        query = query.where(DataRequest.status == DataRequestStatus.PENDING).order_by(
            DataRequest.requested_at, DataRequest.id
        )
    else:
        query = query.where(DataRequest.status != DataRequestStatus.PENDING).order_by(
            DataRequest.decided_at.desc(), DataRequest.id.desc()
        )
    return [
        RequestEntry(request=request, customer=customer, identity=identity, words=words)
        for request, customer, identity, words in session.execute(query.limit(limit)).all()
    ]


def pending_requests(session: Session, *, limit: int = 200) -> list[RequestEntry]:
    """Requests waiting for staff, oldest first (the law gives 15 days for access and
    correction, 30 at most when extended)."""
    return _entries(session, pending=True, limit=limit)


def decided_requests(session: Session, *, limit: int = 20) -> list[RequestEntry]:
    """The latest decisions, newest first."""
    return _entries(session, pending=False, limit=limit)


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(DataRequest)
            .where(DataRequest.status == DataRequestStatus.PENDING)
        )
        or 0
    )


def decide(
    session: Session, request_id: int, *, staff: StaffUser, confirm: bool, now: datetime
) -> DataRequest:
    """Confirm (erase, or mark answered / corrected) or refuse a pending request.

    Raises:
        DataRequestNotFound: when there is no such request.
        AlreadyDecided: when it is no longer pending.
    """
    request = session.get(DataRequest, request_id)
    if request is None:
        raise DataRequestNotFound(request_id)
    status = DataRequestStatus.DONE if confirm else DataRequestStatus.REFUSED
    # Conditional, so of two staff deciding at once exactly one does.
    decided = session.execute(
        update(DataRequest)
        .where(DataRequest.id == request_id, DataRequest.status == DataRequestStatus.PENDING)
        .values(status=status, decided_at=now, decided_by=staff.id)
    )
    session.refresh(request)
    if not decided.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDecided(request)
    outcome = "confirmed" if confirm else "refused"
    record_audit(
        session,
        actor=staff.email,
        action=f"data_request.{request.kind.value}.{outcome}",
        entity="data_request",
        entity_id=request.id,
        details={"customer_id": request.customer_id},
    )
    if confirm and request.kind is DataRequestKind.DELETION:
        forget_customer(session, request.customer_id, actor=staff.email)
    elif not confirm or request.kind is DataRequestKind.CORRECTION:
        _tell_customer(session, request, now=now)
    return request


def _tell_customer(session: Session, request: DataRequest, *, now: datetime) -> None:
    if request.identity_id is None:
        return
    identity = session.get_one(ChannelIdentity, request.identity_id)
    language = identity.customer.language
    if request.status is DataRequestStatus.REFUSED:
        text = REFUSED[language].format(kind=KIND_NAMES[request.kind][language])
    else:
        text = CORRECTED[language]
    enqueue(
        session,
        key=f"data-request:{request.id}:{request.status.value}",
        identity=identity,
        conversation=open_conversation(session, identity, now=now),
        text=text,
        purpose=MessagePurpose.COMPLIANCE,
        author=Author.SYSTEM,
        now=now,
    )

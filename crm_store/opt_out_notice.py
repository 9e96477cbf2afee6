"""The refusal notice (個人資料保護法 Art. 20): the first marketing message a customer
receives tells them how to refuse more.

Decided at send time, by the dispatcher, in the transaction that applies the sending
rules: "first" means the first one the customer actually gets. Decided when queued, a
campaign queued beside a birthday greeting, or a first message held back by a frequency
cap or cancelled for consent, would leave the customer with marketing and no notice.
One identity's rows go out one after another, so the notice goes on exactly one of
them; rows to two channels of one customer going out in the same instant could both
carry it, which tells the customer twice rather than never.

The row's body is rewritten with the notice, so the transcript and the outbox show what
went out, and a retry after a failed attempt sends (and finds) the same text.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Customer, Language, Message, MessagePurpose, OutboxMessage

OPT_OUT_NOTICE = {
    Language.ZH_TW: "（不想再收到優惠訊息？回覆「退訂」即停止接收）",
    Language.EN: "(Reply STOP to opt out of these messages.)",
}


def _had_marketing(session: Session, customer_id: int) -> bool:
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.customer_id == customer_id,
                OutboxMessage.purpose == MessagePurpose.MARKETING,
                OutboxMessage.sent_at.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def with_opt_out_notice(session: Session, *, outbox_id: int, customer: Customer) -> str:
    """The body to send for the marketing row `outbox_id`: with the notice, in the
    customer's language, when the customer has had no marketing message yet."""
    row = session.get_one(OutboxMessage, outbox_id)
    if any(row.body.endswith(notice) for notice in OPT_OUT_NOTICE.values()):
        return row.body  # a retry: the notice is on it already
    if _had_marketing(session, customer.id):
        return row.body
    notice = OPT_OUT_NOTICE[customer.language]
    row.body = f"{row.body}\n{notice}"
    if row.message_id is not None:
        message = session.get_one(Message, row.message_id)
        message.text = f"{message.text}\n{notice}"
    return row.body

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

A Taiwanese SMS provider that carries no replies (`TaiwanSms.two_way` False) would make
"reply 退訂" a promise we cannot keep: there the notice says to send it on LINE instead.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    Language,
    Message,
    MessagePurpose,
    OutboxMessage,
)
from crm_store.tw_sms_rules import TaiwanSms, is_taiwanese

OPT_OUT_NOTICE = {
    Language.ZH_TW: "（不想再收到優惠訊息？回覆「退訂」即停止接收）",
    Language.EN: "(Reply STOP to opt out of these messages.)",
}
# Where SMS replies cannot reach us: the same refusal, sent to the shop's LINE account.
OPT_OUT_NOTICE_ON_LINE = {
    Language.ZH_TW: "（不想再收到優惠訊息？加 LINE：{line_id} 傳「退訂」即停止接收）",
    Language.EN: "(To opt out, message STOP to us on LINE: {line_id})",
}


def notice_for(language: Language, identity: ChannelIdentity, *, taiwan: TaiwanSms | None) -> str:
    """The refusal notice for a marketing message to `identity`, in `language`."""
    one_way = (
        taiwan is not None
        and not taiwan.two_way
        and taiwan.line_id
        and identity.channel is Channel.SMS
        and is_taiwanese(identity.address)
    )
    if one_way:
        assert taiwan is not None and taiwan.line_id is not None
        return OPT_OUT_NOTICE_ON_LINE[language].format(line_id=taiwan.line_id)
    return OPT_OUT_NOTICE[language]


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


def with_opt_out_notice(
    session: Session,
    *,
    outbox_id: int,
    customer: Customer,
    identity: ChannelIdentity,
    taiwan: TaiwanSms | None,
) -> str:
    """The body to send for the marketing row `outbox_id` to `identity`: with the notice,
    in the customer's language, when the customer has had no marketing message yet
    (`taiwan`: the sending policy's rules for Taiwanese SMS, if any)."""
    row = session.get_one(OutboxMessage, outbox_id)
    notice = notice_for(customer.language, identity, taiwan=taiwan)
    if row.body.endswith(notice):
        return row.body  # a retry: the notice is on it already
    if _had_marketing(session, customer.id):
        return row.body
    row.body = f"{row.body}\n{notice}"
    if row.message_id is not None:
        message = session.get_one(Message, row.message_id)
        message.text = f"{message.text}\n{notice}"
    return row.body

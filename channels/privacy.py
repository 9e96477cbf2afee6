"""Acting on what a customer asks of their personal data, before Rasa, on every channel.

A refusal of marketing (Art. 20) withdraws marketing consent on every channel the
customer has, at once, and is confirmed; the dispatcher checks consent when it sends,
so marketing already queued is not sent either. A request to see the data gets the
summary (`crm_store.personal_data`) straight away; to correct or delete it, an
acknowledgement. Every data request is recorded for staff (`crm_store.data_requests`),
who see it on the console's queue and decide on its requests page. The words are read
by `channels.privacy_phrases`; anything else goes on to the bot.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from channels.inbound import Stored
from channels.privacy_phrases import PrivacyRequest, privacy_requests
from crm_store.consent import set_consent
from crm_store.data_requests import record_request
from crm_store.models import DataRequestKind, Language, MessagePurpose
from crm_store.personal_data import HeldData, held_data

OPTED_OUT = {
    Language.ZH_TW: "好的，已為您停止所有行銷與優惠訊息，之後不會再傳給您。"
    "有問題還是可以隨時問我 🙏",
    Language.EN: "Done: you won't get any more marketing or offers from us. "
    "You can still ask me anything, any time 🙏",
}
CORRECTION_RECEIVED = {
    Language.ZH_TW: "收到您更正個人資料的要求，已轉給同事處理，完成後會通知您。"
    "如果還沒說要改成什麼，直接回覆告訴我們即可。",
    Language.EN: "Got your request to correct your personal data; a colleague will make the "
    "change and let you know. If you haven't said what it should be, just reply with it.",
}
DELETION_RECEIVED = {
    Language.ZH_TW: "收到您刪除個人資料的要求。同事確認後會刪除您的姓名、聯絡方式、生日與對話內容"
    "（訂單金額等不具名的統計會保留），刪除後我們就無法再聯絡您或查詢您的訂單。",
    Language.EN: "Got your request to delete your personal data. Once a colleague confirms it, "
    "we erase your name, contact details, birthday and messages (anonymous figures such as "
    "order totals stay); after that we can no longer reach you or look up your orders.",
}
HELD = {
    Language.ZH_TW: {
        "intro": "我們保存的您的個人資料：",
        "name": "姓名：{}",
        "email": "電子郵件：{}",
        "birthday": "生日：{}",
        "tier": "會員等級：{}",
        "contact": "{channel}：{address}（{consent}）",
        "consent_yes": "同意接收優惠訊息",
        "consent_no": "不接收優惠訊息",
        "orders": "訂單：共 {count} 筆",
        "last_order": "最近一筆：{number}，{date}，{currency} {total}",
        "none": "未登記",
        "outro": "需要更正或刪除，直接告訴我們即可；同事也已收到您的查詢。",
    },
    Language.EN: {
        "intro": "The personal data we hold about you:",
        "name": "Name: {}",
        "email": "E-mail: {}",
        "birthday": "Birthday: {}",
        "tier": "Membership tier: {}",
        "contact": "{channel}: {address} ({consent})",
        "consent_yes": "offers welcome",
        "consent_no": "no offers",
        "orders": "Orders: {count}",
        "last_order": "Latest: {number}, {date}, {currency} {total}",
        "none": "not on record",
        "outro": "To correct or delete any of it, just tell us; a colleague has your request too.",
    },
}
TIERS = {
    Language.ZH_TW: {"standard": "一般", "silver": "銀卡", "gold": "金卡", "vip": "VIP"},
    Language.EN: {"standard": "standard", "silver": "silver", "gold": "gold", "vip": "VIP"},
}
CHANNEL_NAMES = {"telegram": "Telegram", "sms": "SMS", "webchat": "Web chat", "line": "LINE"}
RECEIVED = {
    PrivacyRequest.CORRECTION: CORRECTION_RECEIVED,
    PrivacyRequest.DELETION: DELETION_RECEIVED,
}
DATA_REQUESTS = {
    PrivacyRequest.ACCESS: DataRequestKind.ACCESS,
    PrivacyRequest.CORRECTION: DataRequestKind.CORRECTION,
    PrivacyRequest.DELETION: DataRequestKind.DELETION,
}


def summary(held: HeldData, language: Language) -> str:
    """What we hold, in the customer's language, contact details masked."""
    words = HELD[language]
    birthday = (
        held.birthday.isoformat()
        if held.birthday is not None
        else "{:02d}-{:02d}".format(*held.birthday_month_day)
        if held.birthday_month_day is not None
        else words["none"]
    )
    lines = [
        words["intro"],
        words["name"].format(held.name),
        words["email"].format(held.masked_email or words["none"]),
        words["birthday"].format(birthday),
        words["tier"].format(TIERS[language][held.tier.value]),
    ]
    lines += [
        words["contact"].format(
            channel=CHANNEL_NAMES.get(contact.channel.value, contact.channel.value),
            address=contact.masked_address,
            consent=words["consent_yes" if contact.marketing_consent else "consent_no"],
        )
        for contact in held.contacts
    ]
    lines.append(words["orders"].format(count=held.order_count))
    if held.last_order is not None:
        last = held.last_order
        lines.append(
            words["last_order"].format(
                number=last.number,
                date=last.placed_at.date().isoformat(),
                currency=last.currency,
                total=f"{last.total:,.0f}",
            )
        )
    lines.append(words["outro"])
    return "\n".join(lines)


def handle_privacy_request(session: Session, stored: Stored, *, now: datetime) -> bool:
    """Act on a refusal or a data request in `stored`; True when it was one (answered
    here, and not for the bot)."""
    asked = privacy_requests(stored.message.text)
    if not asked:
        return False
    customer, language = stored.customer, stored.language
    answers: list[str] = []
    for request in asked:
        if request is PrivacyRequest.OPT_OUT:
            for identity in customer.identities:
                set_consent(
                    session,
                    identity,
                    opted_in=False,
                    now=now,
                    actor=f"customer:{customer.id}",
                    details={"via": stored.identity.channel.value, "art": "個資法 20"},
                    marketing_only=True,
                )
            answers.append(OPTED_OUT[language])
            continue
        record_request(
            session,
            kind=DATA_REQUESTS[request],
            identity=stored.identity,
            message=stored.message,
            now=now,
        )
        if request is PrivacyRequest.ACCESS:
            answers.append(summary(held_data(session, customer), language))
        else:
            answers.append(RECEIVED[request][language])
    stored.answer(
        session,
        kind="privacy",
        text="\n\n".join(answers),
        purpose=MessagePurpose.COMPLIANCE,
        now=now,
    )
    return True

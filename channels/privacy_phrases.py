"""What a customer's words ask of their personal data: stop the marketing, see what we
hold, correct it, or delete it (個人資料保護法 Art. 3 and 20).

Read by the gateway before Rasa on every channel, so no training is needed and a
refusal stops marketing at once. Written the way people write: "不要再傳了",
"別再發廣告了", "unsubscribe pls", "你們有我什麼資料", "delete my data pls".

A refusal counts only when a clause of the message is nothing but the refusal and
words that go with it ("我", "了", "pls", "these ads"): "stop sending me this" is one,
"stop my order" and "我想取消訂單" are questions for the bot. Words that mean the
sending of goods (寄, 送) refuse only with a word of marketing beside them: "不要再寄了"
may be about a parcel, "不要再寄廣告" is not; a bare "stop" beside other sentences
("stop, wrong item again") refuses only when it speaks of messages. Phrasings these
rules miss still reach the bot, whose opt_out intent withdraws consent too; checked
against the bot's training examples, they catch most of its opt_out ones and take
nothing meant for another intent but "can't update my address in my profile" (a
correction, rightly). The data requests need both what is asked
(delete, correct, see) and the customer's data; anything about an order or its
delivery is the bot's.
"""

from __future__ import annotations

import enum
import re
import unicodedata


class PrivacyRequest(enum.StrEnum):
    OPT_OUT = "opt_out"
    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"


# --- refusing marketing ---------------------------------------------------------------

_MARKETING = (
    r"廣告|广告|促銷|促销|優惠|优惠|行銷|行销|营销|推銷|推销|推播|電子報|电子报|簡訊|简讯|"
    r"短信|訊息|讯息|通知|活動|活动|特價|特价|折價|折价|電子報|dm|edm"
)
_MARKETING_ZH = re.compile(_MARKETING)
# Removed around a refusal before it must match whole.
_FILLER_ZH = re.compile(
    r"我們|我们|我|你們|你们|請|请|幫我|帮我|麻煩|麻烦|拜託|拜托|可以|能不能|想要|要|想|"
    r"好嗎|好吗|謝謝|谢谢|感謝|感谢|給我|给我|這些|这些|這種|这种|這個|这个|這類|这类|那些|"
    r"再|一直|都|的|了|啦|喔|哦|吧|嗎|吗|呢|耶|欸|哈|啊|唷|呀|囉|啰|"
    r"所有|全部|任何|以後|以后|之後|之后|生日|新品|" + _MARKETING
)
_REFUSAL_ZH = re.compile(
    r"退訂|退订|取消訂閱|取消订阅|停止訂閱|停止订阅|不訂閱|不订阅|不訂|不订|拒收|拒絕接收|拒绝接收|"
    r"(?:不|不用|別|别|勿|停止|不必)(?:收|收到|接收|傳|传|發|发|傳送|传送|發送|发送|推|推送|打擾|打扰)|"
    r"別煩|别烦"
)
_REFUSAL_ZH_WITH_MARKETING = re.compile(
    r"(?:不|不用|不需要|別|别|勿|停止|不必)(?:寄|送|寄送)?|取消(?:接收)?|停|停掉|關掉|关掉|關閉|关闭"
)

_FILLER_EN = frozenset(
    " ".join(
        (
            "i i'm im we me us you u ya pls plz please thx thanks thank ty ok okay just now",
            "all any more anymore again it this that these those them such the your ur from",
            "want wanna would like to can could how do kindly sending texting messaging ads",
            "ad adverts promos promo promotions promotion marketing offers deals newsletter",
            "newsletters messages texts sms spam emails list mailing lol already seriously",
            "spamming emailing coupons coupon discount discounts codes sales sale alerts",
            "notifications notification daily push promotional stuff edm of with getting",
            "contacting birthday",
        )
    ).split()
)
_REFUSAL_EN = re.compile(
    r"stop|quit|unsubscribe|unsub|opt out|optout|leave alone|turn off|"
    r"(?:don't|dont|do not|not|never) (?:send|text|message|spam|email|contact)|remove"
)
_NO_MORE = re.compile(
    r"(?:^(?:please |pls |plz )?no |\bno more )(?:more )?(?:\w+ ){0,2}(?:ads?|promos?|promotions?|"
    r"marketing|offers|deals|newsletters?|alerts|notifications|"
    r"messages|texts|spam|emails)\b"
)
# A remove counts only from a list: "remove me from your list".
_REMOVE_FROM_LIST = re.compile(r"\b(?:remove|take)\b.*\b(?:list|lists|mailing|newsletter)\b")
_CLAUSES = re.compile(r"[\n,.!?;:，。！？；：、~～…]+")
_WORDS = re.compile(r"[a-z']+|[^\sa-z']+")


def _normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("’", "'")


# Off the mailing list: 把我從名單移除, 移出廣告名單.
_OFF_THE_LIST_ZH = re.compile(
    r"(?:名單|名单)[^。！？]{0,4}(?:移除|刪掉|删掉|刪除|删除|拿掉)|(?:移出|退出)[^。！？]{0,6}(?:名單|名单)"
)


def _refuses_zh(clause: str) -> bool:
    """The clause, or a part of it between spaces ("請不要再傳了 很煩"), refuses."""
    return any(_refuses_zh_part(part) for part in [clause, *clause.split()])


def _refuses_zh_part(clause: str) -> bool:
    compact = re.sub(r"\s+", "", clause)
    if _OFF_THE_LIST_ZH.search(compact):
        return True
    core = _FILLER_ZH.sub("", compact)
    if _REFUSAL_ZH.fullmatch(core):
        return True
    return bool(_REFUSAL_ZH_WITH_MARKETING.fullmatch(core)) and bool(_MARKETING_ZH.search(compact))


# What makes a bare "stop" in a longer message a refusal: "stop, wrong item again" is not.
_ABOUT_MESSAGES_EN = re.compile(
    r"\b(?:send|sending|text|texting|messag\w*|contact\w*|spam\w*|ads?|promo\w*|marketing|"
    r"offers|deals|newsletters?|notifications?|coupons?|emails?|sms|alerts)\b"
)
_BARE = frozenset({"stop", "quit", "turn off"})


def _refuses_en(clause: str, *, alone: bool) -> bool:
    words = _WORDS.findall(clause)
    if not words or not all(word.isascii() for word in words):
        return False
    if _NO_MORE.search(clause):
        return True
    kept = [word for word in words if word not in _FILLER_EN]
    core = " ".join(kept)
    if core in ("remove", "take off"):
        return bool(_REMOVE_FROM_LIST.search(clause))
    if core in _BARE and not alone and not _ABOUT_MESSAGES_EN.search(clause):
        return False
    return bool(kept) and bool(_REFUSAL_EN.fullmatch(core))


def refuses_marketing(text: str) -> bool:
    """Whether some clause of `text` is a refusal of marketing messages."""
    clauses = [part.strip() for part in _CLAUSES.split(_normalised(text)) if part.strip()]
    alone = len(clauses) == 1
    return any(_refuses_zh(clause) or _refuses_en(clause, alone=alone) for clause in clauses)


# --- the data requests -----------------------------------------------------------------

# About an order or its delivery: the bot's business, whatever else is said.
_ORDER = re.compile(
    r"訂單|订单|訂購|订购|收件|寄送|配送|運送|运送|出貨|出货|物流|購物車|购物车|商品|"
    r"\b(order|orders|delivery|shipping|shipment|parcel|package|cart|tracking)\b"
)
_DATA_ZH = r"(?:資料|资料|個資|个资|個人資料|个人资料|帳號|账号|帳戶|账户|會員|会员)"
_DELETE = re.compile(
    r"(?:刪除|删除|刪掉|删掉|刪了|删了|刪光|清除|清掉|移除|銷毀|销毁|抹除)[^。！？!?]{0,12}?"
    + _DATA_ZH
    + r"|"
    + _DATA_ZH
    + r"[^。！？!?]{0,12}?(?:刪除|删除|刪掉|删掉|刪了|删了|清除|清掉|移除|銷毀|销毁|抹除)"
    r"|\b(?:delete|erase|remove|wipe|purge|destroy)\b[^.!?]{0,20}?"
    r"\b(?:data|info|information|details|account|profile|records?|everything about me)\b"
    r"|\bforget (?:me|about me)\b|right to be forgotten"
)
_CORRECT = re.compile(
    r"(?:改|更正|修正|更新|錯了|错了|錯誤|错误|有錯|有错|打錯|打错|寫錯|写错|登記錯|登记错|不對|不对|"
    r"不正確|不正确|換了|换了)"
    r"|\b(?:correct|fix|update|change|edit|wrong|incorrect|outdated)\b"
)
# What is to be corrected: the customer's own record (我的生日, my email), not the
# shop's information nor an invoice.
_MY_FIELD = re.compile(
    r"生日|出生日期|信箱|電子郵件|电子邮件|姓名"
    r"|(?<![給给])我的?(?:會員|会员)?(?:名字|資料|资料|個資|个资|電話|电话|手機|手机)"
    r"|\bmy (?:personal |contact |account )?(?:email|e-mail|birthday|birth date|date of birth|"
    r"dob|name|phone|mobile|number|details|info|information|data|profile)\b"
)
_ACCESS = re.compile(
    r"(?:個資|个资|個人資料|个人资料)[^。！？!?]{0,12}?"
    r"(?:看|查|給我|给我|哪些|什麼|什么|調閱|调阅|提供|複本|副本|有哪些)"
    r"|(?:看|查|調閱|调阅|提供)[^。！？!?]{0,8}?(?:個資|个资|個人資料|个人资料|我的?(?:資料|资料))"
    r"|(?:有|存|留|保存|保留|收集|蒐集)了?我(?:的)?(?:什麼|什么|哪些)(?:個人)?(?:資料|资料)"
    r"|我的(?:資料|资料)(?:有哪些|是什麼|是什么|給我看|给我看)"
    r"|有我的?(?:個資|个资|個人資料|个人资料|資料|资料)(?:嗎|吗)"
    r"|\bwhat (?:personal )?(?:data|info|information|details)\b[^.!?]{0,30}\b(?:on|about|of) me\b"
    r"|\bwhat (?:do|does) (?:you|u|ya|the shop) (?:know|have|hold|keep|store)\b"
    r"[^.!?]{0,15}\b(?:on|about) me\b"
    r"|\b(?:see|view|get|access|copy of|send me|show me)\b[^.!?]{0,12}"
    r"\bmy (?:personal )?(?:data|info|information|details)\b"
)


def data_request(text: str) -> PrivacyRequest | None:
    """The data request `text` makes, if any: deletion before correction before access."""
    said = _normalised(text)
    if _ORDER.search(said):
        return None
    if _DELETE.search(said):
        return PrivacyRequest.DELETION
    if _CORRECT.search(said) and _MY_FIELD.search(said):
        return PrivacyRequest.CORRECTION
    if _ACCESS.search(said):
        return PrivacyRequest.ACCESS
    return None


def privacy_requests(text: str) -> list[PrivacyRequest]:
    """Everything `text` asks of the customer's data, in the order to act on it."""
    asked = [PrivacyRequest.OPT_OUT] if refuses_marketing(text) else []
    request = data_request(text)
    return asked + ([request] if request is not None else [])

"""What a customer's words mean at one point of the script, beyond the NLU's intent.

The NLU reads a message on its own; these read it where it was said. "ok" after "anything
else?" ends the story, "send the right colour" while the outcome is asked is a
replacement, "it was in the store" means there is no order. Chinese arrives in
Traditional characters (the gateway converts Simplified); English is matched in lower
case on word boundaries.
"""

from __future__ import annotations

import re

from crm_store.models import ComplaintCategory, DesiredOutcome


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


# "Anything else?" answered with "no", "that's it", "ok", "沒了 謝謝", "就這樣".
_STORY_TOLD = _words(
    r"^\W*(no|nope|nah|ok|okay|k|kk|fine|thanks?|thank you|thx|ty|that'?s (it|all)|"
    r"nothing( else| more)?|all good|done)\W*$",
    r"\bthat'?s (it|all|everything|about it)\b",
    r"\b(nothing|no)( else| more)\b",
    r"\bno,? (that'?s|thats) (it|all)\b",
    r"\bthat is all\b",
    r"^\W*(沒|沒有|沒了|沒有了|無|沒事|沒別的|就這樣|就這些|差不多|好|好的|好喔|嗯|嗯嗯|謝謝|感謝)\W*$",
    r"(沒有了|沒了|沒別的|就這樣|就這些|差不多就這|以上|講完了|說完了)",
)
# "Yes, there is more": the customer wants to go on.
_MORE_TO_TELL = _words(
    r"^\W*(yes|yeah|yep|yup|y|there is|actually|also|and|one more thing)\W*$",
    r"^\W*(有|還有|有的|對 還有|另外)\W*$",
)


def story_is_told(text: str) -> bool:
    """Whether the answer to "anything else?" means the customer has finished."""
    return bool(_STORY_TOLD.search(text.strip())) and not more_to_tell(text)


def more_to_tell(text: str) -> bool:
    return bool(_MORE_TO_TELL.search(text.strip()))


# "Is that right?" answered yes in words the NLU reads as a no, having learnt them as
# the end of a story ("anything else?" "that's it", "就這樣").
_CONFIRMS = _words(
    r"^\W*((yes|yeah|yep|yup|ya|yea|ye|right|exactly)\W+)*(that'?s|thats|that is) "
    r"(it|right|correct|the one|exactly it|what i want(ed)?)\W*(thanks?|thx|ty)?\W*$",
    r"^\W*((yes|yeah|yep|yup|ya|yea)\W+)?(exactly|correct|spot on|you got it|perfect)\W*$",
    r"^\W*(對|對啊|對的|對對|沒錯|就是這樣|就這樣|正確|是這樣沒錯|對 就這樣)\W*$",
)


def confirms(text: str) -> bool:
    """Whether the answer to "is that right?" is a yes."""
    return bool(_CONFIRMS.search(text.strip()))


# The outcome a customer asks for in their own words (step 4), checked in this order.
_OUTCOME_WORDS: tuple[tuple[DesiredOutcome, re.Pattern[str]], ...] = (
    (
        DesiredOutcome.REPAIR,
        _words(r"\b(repair|fix(ed)?|mend)\b", r"(維修|修理|修好|送修|拿去修)"),
    ),
    (
        DesiredOutcome.REPLACEMENT,
        _words(
            r"\b(replace(ment)?|exchange|swap|new one|another one)\b",
            r"\bsend (me )?(the )?(right|correct|new|another|a new)\b",
            r"(換貨|換一個|換新|換成|重寄|補寄|寄新的|寄正確|換一件|換一雙|給我換|寄對的)",
        ),
    ),
    (
        DesiredOutcome.REFUND,
        _words(
            r"\b(refund(ed)?|money back|reimburse(ment)?|pay (me )?back|charge ?back)\b",
            r"(退款|退錢|退費|退給我|退回來|把錢|還錢|退那筆|退多扣)",
        ),
    ),
    (
        DesiredOutcome.EXPLANATION,
        _words(
            r"\b(explain|explanation|want to know why|tell me why|an answer)\b",
            r"(解釋|說明|給個交代|給我一個交代|想知道為什麼)",
        ),
    ),
)


def outcome_in(text: str) -> DesiredOutcome | None:
    """The outcome named in `text`, if exactly one kind is named."""
    found = [outcome for outcome, words in _OUTCOME_WORDS if words.search(text)]
    return found[0] if len(found) == 1 else None


# A complaint about a person, the shop or the website has no order.
_NO_ORDER = _words(
    r"\b(not about an order|no order|(in|at) (the |your |ur |this |that |ya )?"
    r"(store|shop|branch|counter|outlet)|website|web site|your site|app|checkout page|"
    r"cashier|staff|employee|sales ?(person|girl|guy|lady)|customer service|rude|attitude)\b",
    r"(不是訂單|沒有訂單|跟訂單無關|門市|店裡|店員|櫃檯|網站|官網|app|結帳頁|客服人員|服務態度|態度很差|"
    r"態度超差|很兇|不耐煩)",
)


def no_order_meant(text: str) -> bool:
    return bool(_NO_ORDER.search(text))


# How a person treated the customer: a complaint about staff, whatever the topic seemed.
_ABOUT_STAFF = _words(
    r"\b(rude|attitude|yelled|shouted|ignored me|eye ?roll(ed)?|sales ?(person|girl|guy|lady)|"
    r"cashier|employee|staff member|the guy at|the girl at|the lady at)\b",
    r"(店員|態度|很兇|不耐煩|翻白眼|兇我|罵我|客服人員)",
)


def about_staff(text: str) -> bool:
    return bool(_ABOUT_STAFF.search(text))


# Clearly unhappy, whatever the topic: it deserves step 1, never "I didn't understand".
_UNHAPPY = _words(
    r"[😡🤬😤😠👎💢😞😩😫🙄]",
    r"[!?！？]{2,}",
    r"\b(wtf|ridiculous|unacceptable|terrible|horrible|awful|worst|useless|disgusting|"
    r"rubbish|garbage|scam|joke|annoyed|angry|furious|upset|disappointed|fed up|sick of|"
    r"broken|damaged|never (came|arrived)|still (not|no|hasn'?t|haven'?t)|wrong|"
    r"missing|late|nobody|no one|ignored|again\?)\b",
    r"(爛|很扯|太扯|離譜|誇張|生氣|火大|失望|傻眼|無言|垃圾|騙|氣死|受不了|不爽|糟糕|"
    r"壞掉|壞了|破掉|破了|瑕疵|錯了|寄錯|少寄|還沒到|還沒收到|沒人回|都不回|等很久|"
    r"搞什麼|什麼鬼|是在哈囉|很爛|太爛|到底|蛤)",
)


def sounds_unhappy(text: str) -> bool:
    return bool(_UNHAPPY.search(text))


# Words that make a "stop ..." message about marketing, not about an order.
_MARKETING = _words(
    r"\b(promo(tion)?s?|ads?|adverts?|advertising|marketing|newsletters?|offers?|deals?|"
    r"spam|unsubscribe|subscription|campaigns?|birthday (messages?|greetings?)|"
    r"texts?|texting|sms|messages?|messaging|notifications?)\b",
    r"(廣告|優惠|促銷|行銷|活動|電子報|訂閱|推播|簡訊|訊息|通知|生日|騷擾)",
)
_ORDER_TALK = _words(
    r"\b(orders?|ship(ped|ping)?|deliver(y|ed)?|parcel|package|items?|cancel(l?ed)?|"
    r"send (it|them) (again|back)|resend)\b",
    r"(訂單|出貨|寄來|寄出|再寄|寄過來|送來|包裹|商品|取消了|取消訂單|退貨|配送|宅配)",
)


def is_about_marketing(text: str) -> bool:
    """Whether an apparent opt-out is about marketing rather than an order."""
    return bool(_MARKETING.search(text)) or not _ORDER_TALK.search(text)


# Something wrong with the goods or the charge: a complaint, however it is phrased.
_PROBLEM = _words(
    r"\b(broke|broken|break|cracked|crack|damaged|dented|crushed|smashed|leak(s|ing|ed)?|"
    r"torn|ripped|stain(ed)?|dirty|smell(s|y)?|wrong|missing|faulty|defect(ive)?|"
    r"not working|doesn'?t work|stopped working|charged (me )?twice|double charged|"
    r"overcharged|expired|mold|mouldy|moldy|fake|scratch(ed)?|doesn'?t (even )?(close|fit)|"
    r"stopped \w+ing|(doesn'?t|won'?t|not) (keep(ing)?|stay(ing)?|turn(ing)? on|charg(e|ing))|"
    r"falling apart|fell apart|peeling|shrunk|faded)\b",
    r"(破|壞|裂|凹|漏|碎|髒|臭|發霉|過期|刮傷|瑕疵|錯|少了|少一|缺|沒附|不能用|不會動|故障|"
    r"扣兩次|扣了兩次|重複扣|多扣|不保溫|關不起來|關不緊)",
)
# "Where is my order?": a status question, answered from the store.
_STATUS = _words(
    r"\b(where'?s|where is|where are|wheres|any update|has .* shipped|did .* ship|"
    r"when will .* (arrive|come|ship)|ship(ped)? yet|tracking)\b",
    r"(到哪|在哪|出貨了沒|出貨了嗎|寄出了嗎|寄了沒|寄出了沒|ship了沒|出了沒|什麼時候到|"
    r"何時到|幾時到|到了沒|進度)",
)


def describes_problem(text: str) -> bool:
    """Whether the message says something is wrong with the goods or the charge."""
    return bool(_PROBLEM.search(text))


def asks_status(text: str) -> bool:
    """Whether the message asks where an order is, and says nothing is wrong with it."""
    return bool(_STATUS.search(text)) and not describes_problem(text)


# What a complaint is about, when the NLU could not tell (checked in this order).
_CATEGORY_WORDS: tuple[tuple[ComplaintCategory, re.Pattern[str]], ...] = (
    (
        ComplaintCategory.BILLING,
        _words(
            r"\b(charged?|charging|overcharged|bill(ed|ing)?|invoice|receipt|payment|paid twice)\b",
            r"(扣款|扣了|多扣|扣兩次|刷卡|刷了|收費|帳單|發票|付款|退款還沒)",
        ),
    ),
    (
        ComplaintCategory.DELIVERY,
        _words(
            r"\b(late|arrive[ds]?|deliver(y|ed)?|parcel|package|courier|shipping|shipped|"
            r"never came|still waiting)\b",
            r"(還沒到|沒收到|沒送到|物流|包裹|配送|宅配|黑貓|超商取貨|寄丟|送錯)",
        ),
    ),
    (ComplaintCategory.QUALITY, _PROBLEM),
    (ComplaintCategory.STAFF, _ABOUT_STAFF),
)


def category_in(text: str) -> ComplaintCategory:
    """The complaint's category from its words; OTHER when they do not say."""
    return next(
        (category for category, words in _CATEGORY_WORDS if words.search(text)),
        ComplaintCategory.OTHER,
    )

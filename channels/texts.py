"""What the gateway itself says to customers, in both languages.

Everything conversational comes from Rasa's domain; these few lines are the gateway's
own: the holding reply during an outage and the carrier keyword confirmations, which
must go out even when the bot cannot answer.
"""

from __future__ import annotations

from crm_store.models import Language

HOLDING_REPLY = {
    Language.ZH_TW: "收到您的訊息了 🙏 系統正忙，我稍後一定回覆您，不需要重傳。",
    Language.EN: "Got your message 🙏 We're a little busy; I'll answer shortly, no need to resend.",
}

# A turn Rasa could not answer properly: apologise, and say who answers and when.
BOT_FAILED = {
    Language.ZH_TW: "很抱歉，這則訊息我沒能好好回覆您 🙏 我已經請同事接手，{when}",
    Language.EN: "I'm sorry, I couldn't answer that properly 🙏 "
    "I've passed our conversation to a colleague, {when}",
}
STAFF_REPLY_SOON = {
    Language.ZH_TW: "會在 {minutes} 分鐘內回覆您。",
    Language.EN: "who will reply within {minutes} minutes.",
}
STAFF_REPLY_LATER = {
    Language.ZH_TW: "現在是非客服時間（{hours}），同事會在 {opening} 回覆您。",
    Language.EN: "who will reply on {opening} (our service hours: {hours}).",
}
# A customer writes while waiting for staff and has heard nothing from us for a while.
WITH_STAFF = {
    Language.ZH_TW: "收到，您的訊息已經轉給負責的同事，{when}",
    Language.EN: "Got it: your message is with a colleague, {when}",
}
TICKET_REFERENCE = {
    Language.ZH_TW: "您的客訴單號是 {reference}。",
    Language.EN: " Your complaint reference is {reference}.",
}
# Below options sent as numbered lines over SMS, which has no buttons.
NUMBER_HINT = {
    Language.ZH_TW: "（請回覆選項號碼，或直接打字告訴我）",
    Language.EN: "(Reply with the number, or just tell me in words.)",
}

SMS_OPTED_OUT = {
    Language.ZH_TW: "{shop}：您已退訂，之後不會再收到我們的簡訊。回覆「訂閱」或 START 可重新訂閱。",
    Language.EN: "{shop}: You're unsubscribed and will get no more texts from us. "
    "Reply START to subscribe again.",
}

SMS_OPTED_IN = {
    Language.ZH_TW: "{shop}：已為您重新訂閱簡訊 🎉 回覆「退訂」或 STOP 可隨時取消。",
    Language.EN: "{shop}: You're subscribed again 🎉 Reply STOP at any time to unsubscribe.",
}

SMS_HELP = {
    Language.ZH_TW: "{shop} 客服：直接回覆這則簡訊就能和我們聯絡。回覆「退訂」或 STOP 取消訂閱。",
    Language.EN: "{shop} customer service: reply to this text to reach us. "
    "Reply STOP to unsubscribe. Msg & data rates may apply.",
}

TELEGRAM_PHONE_LINKED = {
    Language.ZH_TW: "謝謝！已用您的電話號碼找到會員資料，之後查詢訂單會更快 😊",
    Language.EN: "Thanks! I've found your customer record by your phone number, "
    "so order questions will be quicker now 😊",
}

# A Telegram user shared a phone number the shop does not know yet: it is kept for next time.
TELEGRAM_PHONE_KEPT = {
    Language.ZH_TW: "謝謝！已記下您的電話號碼，之後查詢訂單會更快 😊",
    Language.EN: "Thanks! I've noted your phone number, so order questions will be quicker 😊",
}

# A LINE user gave a phone number and an order number that are one known customer's.
LINE_CUSTOMER_LINKED = {
    Language.ZH_TW: "謝謝！已用您的電話和訂單號碼找到會員資料，之後查詢訂單會更快 😊",
    Language.EN: "Thanks! I've found your customer record by your phone and order numbers, "
    "so order questions will be quicker now 😊",
}


# A LINE user gave only a phone number the shop knows: a code goes to it by SMS, and
# writing the code back in LINE joins the chat to that phone's customer.
LINK_CODE_SMS = {
    Language.ZH_TW: "您將 LINE 與{shop}綁定的驗證碼：{code}，10 分鐘內有效。"
    "若不是您本人要求，請忽略此簡訊。",
    Language.EN: "Your code to link your LINE chat with {shop}: {code}. It works for 10 minutes. "
    "If you didn't ask for it, please ignore this message.",
}
LINK_CODE_SENT = {
    Language.ZH_TW: "為了確認是您本人，我們已傳簡訊到尾號 {last_digits} 的手機，"
    "請在 10 分鐘內把簡訊裡的 6 位數驗證碼回覆在這裡 🙏",
    Language.EN: "To make sure it's you, we've texted a 6-digit code to the phone ending in "
    "{last_digits}. Please write it here within 10 minutes 🙏",
}
LINK_CODE_UNAVAILABLE = {
    Language.ZH_TW: "抱歉，目前無法傳驗證碼到這個號碼。請把手機號碼和一筆訂單編號一起傳給我們，"
    "例如「0912345678 A1234567」。",
    Language.EN: "Sorry, we can't text a code to that number right now. Please send us your "
    'phone number together with an order number instead, e.g. "0912345678 A1234567".',
}
LINK_CODE_WRONG = {
    Language.ZH_TW: "驗證碼不對喔，還可以再試 {tries} 次。",
    Language.EN: "That code doesn't match. You have {tries} more tries.",
}
LINK_CODE_SPENT = {
    Language.ZH_TW: "驗證碼錯誤太多次了。如果還要綁定，請重新傳一次手機號碼，我們會寄新的驗證碼。",
    Language.EN: "That's too many wrong codes. To link your chat, send your phone number again "
    "and we'll text you a new code.",
}
LINE_PHONE_VERIFIED = {
    Language.ZH_TW: "驗證成功，謝謝！已找到您的會員資料，之後查詢訂單會更快 😊",
    Language.EN: "That's the right code, thanks! I've found your customer record, "
    "so order questions will be quicker now 😊",
}


def say(texts: dict[Language, str], language: Language, **values: str) -> str:
    return texts[language].format(**values)

"""The console's words in Traditional Chinese and English, and the canned replies."""

from __future__ import annotations

from collections.abc import Callable

from crm_store.models import Language

UI: dict[str, dict[Language, str]] = {
    "console": {Language.ZH_TW: "客服後台", Language.EN: "Staff console"},
    "sign_in": {Language.ZH_TW: "登入", Language.EN: "Sign in"},
    "sign_out": {Language.ZH_TW: "登出", Language.EN: "Sign out"},
    "email": {Language.ZH_TW: "電子郵件", Language.EN: "E-mail"},
    "password": {Language.ZH_TW: "密碼", Language.EN: "Password"},
    "bad_credentials": {
        Language.ZH_TW: "電子郵件或密碼不正確。",
        Language.EN: "Wrong e-mail address or password.",
    },
    "too_many_attempts": {
        Language.ZH_TW: "嘗試次數太多，請 {minutes} 分鐘後再試。",
        Language.EN: "Too many attempts; try again in {minutes} minutes.",
    },
    "queue": {Language.ZH_TW: "待處理", Language.EN: "Queue"},
    "dashboard": {Language.ZH_TW: "報表", Language.EN: "Dashboard"},
    "campaigns": {Language.ZH_TW: "行銷活動", Language.EN: "Campaigns"},
    "staff": {Language.ZH_TW: "人員與紀錄", Language.EN: "Staff and audit"},
    "data_requests": {Language.ZH_TW: "個資請求", Language.EN: "Data requests"},
    "data_requests_help": {
        Language.ZH_TW: "顧客查閱、更正或刪除個人資料的請求（個資法第 3 條），請於 15 天內處理。"
        "查閱：摘要已自動傳給顧客；更正：按「更正資料」改好並儲存，可同時標記「已更正」；"
        "刪除：確認後立即清除，無法復原。",
        Language.EN: "Customers asking to see, correct or delete their personal data (PDPA "
        "Art. 3); answer within 15 days. Access: the summary has gone to the customer. "
        "Correction: open Correct the data, save the change and mark it Corrected in the same "
        "step. Deletion: confirming erases the customer at once and cannot be undone.",
    },
    "correct_data": {Language.ZH_TW: "更正資料", Language.EN: "Correct the data"},
    "edit_details": {Language.ZH_TW: "修改個資", Language.EN: "Edit details"},
    "customer_details": {Language.ZH_TW: "顧客個資", Language.EN: "Customer's details"},
    "name": {Language.ZH_TW: "姓名", Language.EN: "Name"},
    "birthday": {Language.ZH_TW: "生日", Language.EN: "Birthday"},
    "time_zone": {Language.ZH_TW: "時區", Language.EN: "Time zone"},
    "sms_phone": {Language.ZH_TW: "簡訊手機號碼", Language.EN: "SMS phone number"},
    "other_contacts": {Language.ZH_TW: "其他聯絡方式", Language.EN: "Other contacts"},
    "their_request": {Language.ZH_TW: "顧客的更正請求", Language.EN: "What the customer asked"},
    "confirm_with_save": {
        Language.ZH_TW: "同時標記這個請求「已更正」並通知顧客",
        Language.EN: "Also mark the request Corrected and tell the customer",
    },
    "save_details": {Language.ZH_TW: "儲存", Language.EN: "Save"},
    "details_saved": {Language.ZH_TW: "已儲存。", Language.EN: "Saved."},
    "details_problems": {
        Language.ZH_TW: "請修正下列欄位；資料都還沒有變更。",
        Language.EN: "Please fix the fields below; nothing has been changed.",
    },
    "request_already_decided": {
        Language.ZH_TW: "這個請求已經有同事處理過了，資料沒有變更；再按一次儲存即可只更正資料。",
        Language.EN: "A colleague has already decided this request, so nothing was saved; "
        "save again to correct the details alone.",
    },
    "problem_name_empty": {Language.ZH_TW: "請填寫姓名。", Language.EN: "Enter a name."},
    "problem_name_too_long": {
        Language.ZH_TW: "姓名最多 200 個字。",
        Language.EN: "A name has at most 200 characters.",
    },
    "problem_language_unknown": {
        Language.ZH_TW: "語言請選 zh-TW 或 en。",
        Language.EN: "Choose zh-TW or en.",
    },
    "problem_birthday_not_a_date": {
        Language.ZH_TW: "「{value}」不是日期（年-月-日）。",
        Language.EN: "“{value}” is not a date (year-month-day).",
    },
    "problem_birthday_out_of_range": {
        Language.ZH_TW: "生日要在 1900 年到今天之間。",
        Language.EN: "A birthday is between 1900 and today.",
    },
    "problem_email_not_an_email": {
        Language.ZH_TW: "「{value}」不是電子郵件地址。",
        Language.EN: "“{value}” is not an e-mail address.",
    },
    "problem_timezone_unknown": {
        Language.ZH_TW: "「{value}」不是時區，請寫成 Asia/Taipei 這樣。",
        Language.EN: "“{value}” is not a time zone; write it like Asia/Taipei.",
    },
    "problem_phone_not_a_phone": {
        Language.ZH_TW: "「{value}」不是有效的電話號碼。",
        Language.EN: "“{value}” is not a valid phone number.",
    },
    "problem_phone_taken": {
        Language.ZH_TW: "{value} 已經是另一位顧客（#{customer}）的號碼，無法重複登記。",
        Language.EN: "{value} is already the number of another customer (#{customer}).",
    },
    "problem_phone_taken_meanwhile": {
        Language.ZH_TW: "{value} 剛剛被登記給另一位顧客，請確認後再試一次。",
        Language.EN: "{value} was just given to another customer; please check and try again.",
    },
    "problem_phone_cannot_remove": {
        Language.ZH_TW: "電話號碼可以更正，但不能在這裡清空；要刪除請走刪除請求。",
        Language.EN: "A phone number can be corrected here but not removed; removing it "
        "is a deletion request.",
    },
    "data_requests_waiting": {
        Language.ZH_TW: "{count} 件個資請求待處理",
        Language.EN: "{count} data requests waiting",
    },
    "no_data_requests": {
        Language.ZH_TW: "沒有待處理的個資請求",
        Language.EN: "No requests waiting",
    },
    "requested": {Language.ZH_TW: "提出時間", Language.EN: "Asked"},
    "decided": {Language.ZH_TW: "處理時間", Language.EN: "Decided"},
    "request_kind": {Language.ZH_TW: "請求", Language.EN: "Request"},
    "their_words": {Language.ZH_TW: "顧客原話", Language.EN: "Their words"},
    "request_access": {Language.ZH_TW: "查閱", Language.EN: "access"},
    "request_correction": {Language.ZH_TW: "更正", Language.EN: "correction"},
    "request_deletion": {Language.ZH_TW: "刪除", Language.EN: "deletion"},
    "confirm_access": {Language.ZH_TW: "已處理", Language.EN: "Answered"},
    "confirm_correction": {Language.ZH_TW: "已更正", Language.EN: "Corrected"},
    "confirm_deletion": {Language.ZH_TW: "確認刪除", Language.EN: "Confirm deletion"},
    "refuse_request": {Language.ZH_TW: "拒絕", Language.EN: "Refuse"},
    "decided_requests": {Language.ZH_TW: "最近處理", Language.EN: "Latest decisions"},
    "request_status_done": {Language.ZH_TW: "已完成", Language.EN: "done"},
    "request_status_refused": {Language.ZH_TW: "已拒絕", Language.EN: "refused"},
    "empty_queue": {
        Language.ZH_TW: "目前沒有等待中的顧客 🎉",
        Language.EN: "Nobody is waiting 🎉",
    },
    "waiting": {Language.ZH_TW: "已等待", Language.EN: "Waiting"},
    "minutes": {Language.ZH_TW: "分鐘", Language.EN: "min"},
    "reason": {Language.ZH_TW: "原因", Language.EN: "Reason"},
    "channel": {Language.ZH_TW: "管道", Language.EN: "Channel"},
    "language": {Language.ZH_TW: "語言", Language.EN: "Language"},
    "tier": {Language.ZH_TW: "等級", Language.EN: "Tier"},
    "claim": {Language.ZH_TW: "接手", Language.EN: "Claim"},
    "open": {Language.ZH_TW: "開啟", Language.EN: "Open"},
    "claimed_by": {Language.ZH_TW: "處理中：", Language.EN: "With "},
    "with_bot": {
        Language.ZH_TW: "暫由機器人接待，需在 {due} 前回覆",
        Language.EN: "back with the bot; answer by {due}",
    },
    "already_claimed": {
        Language.ZH_TW: "這位顧客已經由 {agent} 接手了。",
        Language.EN: "{agent} has already claimed this customer.",
    },
    "transcript": {Language.ZH_TW: "對話紀錄", Language.EN: "Transcript"},
    "reply": {Language.ZH_TW: "回覆顧客", Language.EN: "Reply to the customer"},
    "send": {Language.ZH_TW: "送出", Language.EN: "Send"},
    "note": {Language.ZH_TW: "內部備註（顧客看不到）", Language.EN: "Internal note (never sent)"},
    "add_note": {Language.ZH_TW: "加入備註", Language.EN: "Add note"},
    "canned": {Language.ZH_TW: "常用回覆", Language.EN: "Canned replies"},
    "profile": {Language.ZH_TW: "顧客資料", Language.EN: "Customer"},
    "lifetime_value": {Language.ZH_TW: "顧客終身價值", Language.EN: "Lifetime value"},
    "orders": {Language.ZH_TW: "最近訂單", Language.EN: "Recent orders"},
    "tickets": {Language.ZH_TW: "未結案客訴", Language.EN: "Open tickets"},
    "consent": {Language.ZH_TW: "聯絡方式與同意", Language.EN: "Channels and consent"},
    "ticket": {Language.ZH_TW: "客訴單", Language.EN: "Ticket"},
    "steps": {Language.ZH_TW: "八步驟進度", Language.EN: "Eight-step progress"},
    "resolve": {Language.ZH_TW: "結案並交還機器人", Language.EN: "Resolve and hand back"},
    "hand_back": {Language.ZH_TW: "交還機器人", Language.EN: "Hand back to the bot"},
    "outcome": {Language.ZH_TW: "處理方式", Language.EN: "Outcome"},
    "agreed_action": {Language.ZH_TW: "約定的處理", Language.EN: "What was agreed"},
    "compensation": {Language.ZH_TW: "補償", Language.EN: "Compensation"},
    "amount": {Language.ZH_TW: "金額", Language.EN: "Amount"},
    "root_cause": {Language.ZH_TW: "根本原因", Language.EN: "Root cause"},
    "transfer": {Language.ZH_TW: "轉給同事", Language.EN: "Transfer to"},
    "yes_consent": {Language.ZH_TW: "同意行銷", Language.EN: "marketing OK"},
    "no_consent": {Language.ZH_TW: "未同意行銷", Language.EN: "no marketing"},
    "opted_out": {Language.ZH_TW: "已退訂", Language.EN: "opted out"},
    "unreachable": {Language.ZH_TW: "無法聯絡", Language.EN: "unreachable"},
    "forbidden": {
        Language.ZH_TW: "您的角色無法開啟這個頁面。",
        Language.EN: "Your role cannot open this page.",
    },
    "download_csv": {Language.ZH_TW: "下載 CSV", Language.EN: "Download CSV"},
    "chart_causes": {
        Language.ZH_TW: "每週客訴：依根本原因",
        Language.EN: "Complaints per week by root cause",
    },
    "chart_categories": {
        Language.ZH_TW: "每週客訴：依類別",
        Language.EN: "Complaints per week by category",
    },
    "chart_csat": {
        Language.ZH_TW: "滿意度（1–5 平均）",
        Language.EN: "Satisfaction (average of 1–5)",
    },
    "no_data": {Language.ZH_TW: "這段期間沒有資料", Language.EN: "No data in this period"},
    "repeat_complaints": {Language.ZH_TW: "重複客訴", Language.EN: "Repeat complaints"},
    "handoff_times": {
        Language.ZH_TW: "轉真人：等待與處理時間（分鐘）",
        Language.EN: "Handoffs: waiting and handling (minutes)",
    },
    "period_weeks": {Language.ZH_TW: "最近 {weeks} 週", Language.EN: "Last {weeks} weeks"},
    "reason_asked_for_person": {Language.ZH_TW: "顧客要求真人", Language.EN: "asked for a person"},
    "reason_repeated_fallback": {
        Language.ZH_TW: "機器人聽不懂兩次",
        Language.EN: "bot did not understand twice",
    },
    "reason_bot_failure": {
        Language.ZH_TW: "機器人無法正常回覆",
        Language.EN: "the bot could not answer properly",
    },
    "reason_anger_or_threat": {Language.ZH_TW: "情緒激動或威脅", Language.EN: "anger or threat"},
    "reason_vip_complaint": {
        Language.ZH_TW: "VIP／高價值客戶客訴",
        Language.EN: "VIP or high-value complaint",
    },
    "reason_compensation_beyond_authority": {
        Language.ZH_TW: "補償超出機器人權限",
        Language.EN: "compensation beyond the bot's authority",
    },
    "reason_repeat_complaint": {
        Language.ZH_TW: "30 天內重複客訴",
        Language.EN: "repeat complaint within 30 days",
    },
    "reason_low_satisfaction": {Language.ZH_TW: "滿意度 1–2 分", Language.EN: "satisfaction 1–2"},
    "reason_other": {Language.ZH_TW: "其他", Language.EN: "other"},
    "campaign_name": {Language.ZH_TW: "名稱", Language.EN: "Name"},
    "status": {Language.ZH_TW: "狀態", Language.EN: "Status"},
    "send_at": {Language.ZH_TW: "發送時間", Language.EN: "Send at"},
    "recurrence": {Language.ZH_TW: "重複（crontab，UTC）", Language.EN: "Repeat (crontab, UTC)"},
    "new_campaign": {Language.ZH_TW: "新增行銷活動", Language.EN: "New campaign"},
    "segment": {Language.ZH_TW: "對象（JSON 條件）", Language.EN: "Audience (JSON filters)"},
    "template": {Language.ZH_TW: "訊息範本", Language.EN: "Message template"},
    "create_draft": {Language.ZH_TW: "建立草稿", Language.EN: "Create draft"},
    "author": {Language.ZH_TW: "建立者", Language.EN: "Author"},
    "approver": {Language.ZH_TW: "核准者", Language.EN: "Approved by"},
    "preview": {Language.ZH_TW: "預覽", Language.EN: "Preview"},
    "recipients": {Language.ZH_TW: "位收件人", Language.EN: "recipients"},
    "report": {Language.ZH_TW: "成效", Language.EN: "Results"},
    "holdout_percent": {
        Language.ZH_TW: "對照組（%，不發送，用來衡量成效；0 為不設）",
        Language.EN: "Holdout (%, sent nothing, to measure against; 0 for none)",
    },
    "held_out_note": {
        Language.ZH_TW: "其中約 {count} 位（{percent}%）列為對照組，不會收到訊息；"
        "比較 {days} 天內的訂單。",
        Language.EN: "About {count} of them ({percent}%) are held out and sent nothing; "
        "orders within {days} days are compared.",
    },
    "uplift": {Language.ZH_TW: "與對照組相比", Language.EN: "Against the holdout"},
    "outreach_uplift_winback": {
        Language.ZH_TW: "喚回訊息：近 {days} 天與對照組相比",
        Language.EN: "Win-back, last {days} days, against the holdout",
    },
    "outreach_uplift_birthday": {
        Language.ZH_TW: "生日祝福：近 {days} 天與對照組相比",
        Language.EN: "Birthday greetings, last {days} days, against the holdout",
    },
    "chart_conversions": {
        Language.ZH_TW: "累計下單比例（%，活動開始後第幾天）",
        Language.EN: "Customers who ordered (%, by day since the start)",
    },
    "finding_too_small": {
        Language.ZH_TW: "人數太少，還不能下結論：兩組各需至少 {group} 人，"
        "合計至少 {orders} 筆訂單。",
        Language.EN: "Too few customers for a conclusion: each group needs at least {group} "
        "customers and both together at least {orders} orders.",
    },
    "finding_no_effect": {
        Language.ZH_TW: "看不出對下單有影響：信賴區間包含 0。",
        Language.EN: "No effect on ordering could be shown: the interval includes zero.",
    },
    "finding_more": {
        Language.ZH_TW: "收到訊息的顧客下單比例確實高於對照組。",
        Language.EN: "The message made more customers order than would have anyway.",
    },
    "finding_less": {
        Language.ZH_TW: "收到訊息的顧客下單比例反而低於對照組。",
        Language.EN: "Customers who got the message ordered less than those held out.",
    },
    "group": {Language.ZH_TW: "組別", Language.EN: "Group"},
    "group_messaged": {Language.ZH_TW: "收到訊息", Language.EN: "Messaged"},
    "group_held_out": {Language.ZH_TW: "對照組", Language.EN: "Held out"},
    "group_variant": {Language.ZH_TW: "版本 {label}", Language.EN: "Variant {label}"},
    "template_variants": {
        Language.ZH_TW: "A/B 測試：再寫 1–3 個版本（收件人隨機分到各版本，每種語言寫一樣多個）",
        Language.EN: "A/B test: write 1–3 more versions (recipients are split between them "
        "at random; write as many in each language)",
    },
    "variants_compared": {Language.ZH_TW: "A/B 版本比較", Language.EN: "Variants compared"},
    "variant_against": {
        Language.ZH_TW: "{first} 對 {second}",
        Language.EN: "{first} against {second}",
    },
    "variant_finding_too_small": {
        Language.ZH_TW: "人數太少，還不能比較 {first} 與 {second}。",
        Language.EN: "Too few customers to compare {first} with {second}.",
    },
    "variant_finding_no_effect": {
        Language.ZH_TW: "看不出 {first} 與 {second} 有差別：信賴區間包含 0。",
        Language.EN: "No difference between {first} and {second} could be shown: the "
        "interval includes zero.",
    },
    "variant_finding_more": {
        Language.ZH_TW: "{first} 的下單比例確實高於 {second}。",
        Language.EN: "{first} made more customers order than {second}.",
    },
    "variant_finding_less": {
        Language.ZH_TW: "{second} 的下單比例確實高於 {first}。",
        Language.EN: "{second} made more customers order than {first}.",
    },
    "customers": {Language.ZH_TW: "人數", Language.EN: "Customers"},
    "ordered": {Language.ZH_TW: "下單人數", Language.EN: "Ordered"},
    "conversion": {Language.ZH_TW: "轉換率", Language.EN: "Conversion"},
    "revenue_per_customer": {Language.ZH_TW: "每人營收", Language.EN: "Revenue per customer"},
    "difference": {
        Language.ZH_TW: "差異（95% 信賴區間）",
        Language.EN: "Difference (95% interval)",
    },
    "action_approve": {Language.ZH_TW: "核准", Language.EN: "Approve"},
    "action_schedule": {Language.ZH_TW: "排程", Language.EN: "Schedule"},
    "action_pause": {Language.ZH_TW: "暫停", Language.EN: "Pause"},
    "action_resume": {Language.ZH_TW: "繼續", Language.EN: "Resume"},
    "action_cancel": {Language.ZH_TW: "取消", Language.EN: "Cancel"},
    "no_campaigns": {Language.ZH_TW: "還沒有行銷活動。", Language.EN: "No campaigns yet."},
}

CANNED: dict[Language, list[str]] = {
    Language.ZH_TW: [
        "您好，我是客服人員，接下來由我為您處理。",
        "很抱歉讓您久等了，我馬上幫您確認。",
        "謝謝您的耐心，我已經處理好了，請問還有其他需要幫忙的嗎？",
        "我已經為您安排退款，款項會在 7 個工作天內退回原付款方式。",
    ],
    Language.EN: [
        "Hello, I'm from customer service and I'll take it from here.",
        "Sorry to keep you waiting; I'm checking this for you right now.",
        "Thanks for your patience, that's sorted. Is there anything else I can do?",
        "I've arranged your refund; it will reach your original payment method "
        "within 7 working days.",
    ],
}

HANDED_BACK: dict[Language, str] = {
    Language.ZH_TW: "{agent} 已經處理完畢，接下來由我（客服機器人）繼續為您服務，"
    "有任何問題都可以直接問我喔！",
    Language.EN: "{agent} has finished. I'm the shop's assistant again: "
    "if anything else comes up, just write here.",
}


def translator(language: Language) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        return UI[key][language].format(**values)

    return t


PARKED: dict[Language, str] = {
    Language.ZH_TW: "很抱歉，同事現在都在忙，{due} 前一定會有人回覆您，客訴單{ticket}會保持開啟。"
    "這段時間有其他問題，還是可以先問我喔！",
    Language.EN: "Sorry, everyone is busy right now. A colleague will answer you by {due}, and "
    "your ticket{ticket} stays open. Meanwhile I can help with anything else.",
}

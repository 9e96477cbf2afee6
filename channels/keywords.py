"""The SMS keywords carriers and Twilio define: opt out, opt back in, ask for help.

A keyword counts only as the whole message (case and surrounding punctuation aside):
"cancel my order" is a question for the bot, "CANCEL" is an opt-out.
"""

from __future__ import annotations

import enum
import unicodedata

OPT_OUT = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
    | {"退訂", "取消訂閱", "退订", "取消订阅"}
)
# "yes" opts in only a number that has opted out; otherwise it is an answer to the bot.
OPT_IN = frozenset({"start", "unstop", "訂閱", "订阅"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"yes"})
HELP = frozenset({"help", "info"})


class Keyword(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return "".join(char for char in folded if not unicodedata.category(char).startswith(("P", "Z")))


def sms_keyword(text: str, *, opted_out: bool) -> Keyword | None:
    word = _normalised(text)
    if word in OPT_OUT:
        return Keyword.OPT_OUT
    if word in OPT_IN or (opted_out and word in OPT_IN_WHEN_OPTED_OUT):
        return Keyword.OPT_IN
    if word in HELP:
        return Keyword.HELP
    return None

"""Satisfaction surveys: the one awaiting a customer's answer, reading it, and recording it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import SatisfactionSurvey, SurveyStatus, Ticket, TicketStatus

LOW_SCORE = 2


def pending_survey(session: Session, customer_id: int) -> SatisfactionSurvey | None:
    """The survey most recently sent to the customer and not yet answered."""
    return session.scalar(
        select(SatisfactionSurvey)
        .where(
            SatisfactionSurvey.customer_id == customer_id,
            SatisfactionSurvey.status.in_((SurveyStatus.SENT, SurveyStatus.REMINDED)),
        )
        .order_by(SatisfactionSurvey.sent_at.desc(), SatisfactionSurvey.id.desc())
        .limit(1)
    )


def record_score(
    session: Session, survey: SatisfactionSurvey, *, score: int, reply: str, now: datetime
) -> Ticket | None:
    """Store the answer on the survey and its ticket; a low score reopens the ticket."""
    if not 1 <= score <= 5:
        raise ValueError(f"a satisfaction score is 1 to 5, not {score}")
    survey.score = score
    survey.reply_text = reply
    survey.answered_at = now
    survey.status = SurveyStatus.ANSWERED
    ticket = session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    if ticket is not None:
        ticket.satisfaction_score = score
        if score <= LOW_SCORE:
            ticket.status = TicketStatus.REOPENED
            ticket.closed_at = None
    return ticket


# -- Replies to the survey question ("did we solve it? reply 1-5") -------------------

# Words and phrases, written in Traditional Chinese and English; the Simplified
# spelling of each Chinese entry is added below. Longer phrases win over the shorter
# ones inside them, so "非常不滿意" is 1 and "不滿意" 2, never 滿意.
WORD_SCORES: dict[str, int] = {
    # zh
    "非常滿意": 5,
    "超級滿意": 5,
    "超滿意": 5,
    "很滿意": 5,
    "十分滿意": 5,
    "滿分": 5,
    "一百分": 5,
    "100分": 5,
    "完美": 5,
    "太棒了": 5,
    "很棒": 5,
    "滿意": 4,
    "還算滿意": 4,
    "不錯": 4,
    "還不錯": 4,
    "普通": 3,
    "還好": 3,
    "還可以": 3,
    "尚可": 3,
    "一般": 3,
    "馬馬虎虎": 3,
    "不滿": 2,
    "不滿意": 2,
    "不太滿意": 2,
    "不好": 2,
    "不太好": 2,
    "非常不滿意": 1,
    "很不滿意": 1,
    "極度不滿": 1,
    "很差": 1,
    "非常差": 1,
    "超差": 1,
    "太差": 1,
    "很爛": 1,
    "太爛了": 1,
    "爛透了": 1,
    # en
    "excellent": 5,
    "perfect": 5,
    "great": 5,
    "amazing": 5,
    "awesome": 5,
    "fantastic": 5,
    "outstanding": 5,
    "very good": 5,
    "very satisfied": 5,
    "good": 4,
    "satisfied": 4,
    "ok": 3,
    "okay": 3,
    "fine": 3,
    "average": 3,
    "so-so": 3,
    "so so": 3,
    "meh": 3,
    "neutral": 3,
    "bad": 2,
    "poor": 2,
    "not good": 2,
    "not satisfied": 2,
    "dissatisfied": 2,
    "unsatisfied": 2,
    "terrible": 1,
    "awful": 1,
    "horrible": 1,
    "worst": 1,
    "very bad": 1,
    "very poor": 1,
    "very dissatisfied": 1,
}

# Traditional to Simplified, for the characters of WORD_SCORES that differ.
_TO_SIMPLIFIED = str.maketrans("滿還錯馬極級爛", "满还错马极级烂")

# Emoji without their variation selector (U+FE0F) or skin tone, both dropped first.
EMOJI_SCORES: dict[str, int] = {
    "😡": 1,
    "🤬": 1,
    "😠": 1,
    "👎": 1,
    "😞": 2,
    "☹": 2,
    "🙁": 2,
    "😕": 2,
    "😐": 3,
    "😶": 3,
    "😑": 3,
    "🙂": 4,
    "😊": 4,
    "😀": 4,
    "😄": 4,
    "👍": 4,
    "👌": 4,
    "😍": 5,
    "🤩": 5,
    "🥰": 5,
    "💯": 5,
    "❤": 5,
}

# Numbers written as words; 0 and 6-10 are known only to be refused.
NUMERAL_VALUES: dict[str, int] = {
    "零": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}

FILLED_STARS = "★⭐🌟"
EMPTY_STARS = "☆"

# What may follow a number to make it a score: 4分, 五顆星, 5 stars ("5分鐘" is not).
SCORE_UNITS = (
    r"分(?![鐘钟之])",
    "顆星",
    "颗星",
    "顆",
    "颗",
    "星",
    "stars",
    "star",
    "points",
    "pts",
)

# Words around a score that say nothing more: "我給 4 分吧", "I'd give it a four, thanks".
FILLER_WORDS = (
    "我", "給", "给", "打", "評分", "评分", "評", "评", "分數", "分数", "大概", "應該", "应该",
    "就", "是", "吧", "啦", "喔", "哦", "囉", "啰", "呀", "耶", "啊", "嗯", "了", "的",
    "謝謝", "谢谢", "感謝", "感谢", "你們", "你们", "您",
    "i", "i'd", "i'll", "would", "will", "give", "gave", "it", "it's", "its", "a", "an",
    "rate", "rating", "rated", "score", "my", "is", "was", "the", "overall", "service",
    "thanks", "thank", "you", "thx", "ty", "please", "pls",
)  # fmt: skip

# How much else a reply may say, a CJK character counting 1 and a Latin word 2: more,
# and it is about something else that happens to hold a score-like word ("普通件還是快遞").
MAX_OTHER_TEXT = 3

# "不" / "not" just before a score (up to two characters or one word between) negates it.
_NEGATED = re.compile(
    r"(?:[不沒没無无未別别]\S{0,2}|(?:\bnot|n't|\bnever|\bno)\b\W*(?:[a-z]+\W+)?)\s*$"
)
_QUESTION = re.compile(r"[?嗎吗呢]")
_IGNORED_MARKS = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")


def _alternatives(words: Iterable[str]) -> str:
    """A regex matching any of `words`, longest first; Latin words only as whole words."""
    parts = []
    for word in sorted(words, key=len, reverse=True):
        part = re.escape(word)
        if word[:1].isascii() and word[:1].isalnum():
            part = r"(?<![a-z0-9])" + part
        if word[-1:].isascii() and word[-1:].isalnum():
            part += r"(?![a-z0-9])"
        parts.append(part)
    return "|".join(parts)


def _with_simplified(table: dict[str, int]) -> dict[str, int]:
    return table | {word.translate(_TO_SIMPLIFIED): score for word, score in table.items()}


_PHRASE_SCORES = _with_simplified(WORD_SCORES) | EMOJI_SCORES
_PHRASE = re.compile(_alternatives(_PHRASE_SCORES))
_NUMBER = rf"(?<![\d.])\d+(?![\d.])|{_alternatives(NUMERAL_VALUES)}"
_FRACTION = re.compile(rf"({_NUMBER})\s*(?:/|out\s+of)\s*({_NUMBER})")
_WITH_UNIT = re.compile(rf"({_NUMBER})\s*(?:{'|'.join(SCORE_UNITS)})(?![a-z])")
_STARS = re.compile(rf"[{FILLED_STARS}{EMPTY_STARS}](?:\s*[{FILLED_STARS}{EMPTY_STARS}])*")
_FILLER = re.compile(_alternatives(FILLER_WORDS))
_WORDS = re.compile(r"\d+|[a-z]+|[^\W\d_]")


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMERAL_VALUES[word]


def parse_score(text: str) -> int | None:
    """The 1-5 satisfaction score a customer's reply gives, or None if it gives none.

    Understood, in Traditional or Simplified Chinese or in English, after NFKC
    normalisation (so full-width "４" is 4) and ignoring case:

    * a number alone or with a unit or filler: "4", "４", "4分", "給5分", "5 stars",
      "五", "五分", "兩顆星", "four", "I'd give it a four";
    * out of five: "5/5", "4 out of 5";
    * words (WORD_SCORES): "非常滿意" 5, "滿意" 4, "普通"/"還好" 3, "不滿意" 2,
      "非常不滿意"/"很差"/"爛透了" 1, "excellent" 5, "good" 4, "ok" 3, "bad"/"poor" 2,
      "terrible"/"awful" 1;
    * emoji (EMOJI_SCORES): "😡" 1, "😞" 2, "😐" 3, "🙂"/"👍" 4, "😍"/"💯"/"❤️" 5;
    * stars: "⭐⭐⭐⭐" 4, "★★★★★" 5, "★★★☆☆" 3.

    Several of these that agree are one score ("⭐⭐⭐⭐⭐ 5"). None for anything
    ambiguous: scores that disagree ("4 or 5"), a number out of 1-5 ("6", "123",
    "0分", "8/10"), a negated score ("沒有很滿意"; negative words of the tables such
    as "不滿意" are scores of their own), a question, any other number ("3點前要到"),
    a score-like word in a longer message about something else, and no score at all
    ("我要退貨", "no").
    """
    rest = _IGNORED_MARKS.sub("", unicodedata.normalize("NFKC", text)).casefold()
    rest = rest.replace("\u2019", "'")
    if _QUESTION.search(rest):
        return None
    found: set[int] = set()

    def take(pattern: re.Pattern[str], score_of: Callable[[re.Match[str]], int]) -> bool:
        """Blank out each match of `pattern` in `rest`, keeping its score; False if refused."""
        nonlocal rest
        kept: list[str] = []
        end = 0
        for match in pattern.finditer(rest):
            kept.append(rest[end : match.start()])
            if _NEGATED.search("".join(kept)):
                return False
            found.add(score_of(match))
            kept.append(" ")
            end = match.end()
        rest = "".join(kept) + rest[end:]
        return True

    def out_of_five(match: re.Match[str]) -> int:
        score, scale = _number(match.group(1)), _number(match.group(2))
        return score if scale == 5 else 0

    def stars(match: re.Match[str]) -> int:
        return sum(match.group().count(star) for star in FILLED_STARS)

    if not (
        take(_PHRASE, lambda match: _PHRASE_SCORES[match.group()])
        and take(_FRACTION, out_of_five)
        and take(_STARS, stars)
        and take(_WITH_UNIT, lambda match: _number(match.group(1)))
    ):
        return None
    others = _WORDS.findall(_FILLER.sub(" ", rest))
    if len(others) == 1 and (others[0].isdigit() or others[0] in NUMERAL_VALUES):
        found.add(_number(others[0]))
        others = []
    other_text = sum(2 if word.isascii() else 1 for word in others)
    if any(word.isdigit() for word in others) or other_text > MAX_OTHER_TEXT:
        return None
    if len(found) != 1:
        return None
    (score,) = found
    return score if 1 <= score <= 5 else None

"""Reading a customer's answer to the satisfaction survey ("reply 1-5") as a score."""

from __future__ import annotations

import pytest

from crm_store.surveys import parse_score

REPLIES: list[tuple[str, int | None]] = [
    # digits, half- and full-width, with units and filler
    ("4", 4),
    ("1", 1),
    ("４", 4),
    ("4分", 4),
    ("４分", 4),
    ("給5分", 5),
    ("我給 4 分吧", 4),
    ("5/5", 5),
    ("５／５", 5),
    ("4 out of 5", 4),
    ("3 stars", 3),
    ("5!", 5),
    ("I'd give it a 4, thanks", 4),
    # numbers as words
    ("五", 5),
    ("五分", 5),
    ("三 分吧", 3),
    ("兩顆星", 2),
    ("两颗星", 2),
    ("一分 爛透了", 1),
    ("four", 4),
    ("Five stars", 5),
    ("FIVE STARS!", 5),
    # Chinese words, Traditional and Simplified
    ("非常滿意", 5),
    ("非常满意", 5),
    ("超級滿意", 5),
    ("滿分", 5),
    ("滿意", 4),
    ("满意", 4),
    ("滿意，謝謝", 4),
    ("普通", 3),
    ("還好", 3),
    ("还好", 3),
    ("還可以", 3),
    ("不滿意", 2),
    ("不满意", 2),
    ("非常不滿意", 1),
    ("非常不满意", 1),
    ("很差", 1),
    ("爛透了", 1),
    ("烂透了", 1),
    # English words
    ("excellent", 5),
    ("Excellent!", 5),
    ("good", 4),
    ("ok", 3),
    ("OK", 3),
    ("okay", 3),
    ("bad", 2),
    ("poor", 2),
    ("not good", 2),
    ("terrible", 1),
    ("awful", 1),
    # emoji, with and without a variation selector or skin tone
    ("😡", 1),
    ("🤬", 1),
    ("👎", 1),
    ("😞", 2),
    ("☹️", 2),
    ("☹", 2),
    ("🙁", 2),
    ("😐", 3),
    ("😶", 3),
    ("🙂", 4),
    ("😊", 4),
    ("👍", 4),
    ("👍🏻", 4),
    ("😍", 5),
    ("😍😍😍", 5),
    ("🤩", 5),
    ("🥰", 5),
    ("💯", 5),
    ("❤️", 5),
    ("❤", 5),
    # stars
    ("⭐", 1),
    ("⭐⭐⭐⭐", 4),
    ("⭐ ⭐ ⭐", 3),
    ("★★★★★", 5),
    ("★★★☆☆", 3),
    # several forms that agree
    ("⭐⭐⭐⭐⭐ 5", 5),
    ("非常滿意 😍", 5),
    ("5分 非常滿意", 5),
    # out of range
    ("6", None),
    ("0", None),
    ("123", None),
    ("６", None),
    ("10分", None),
    ("0 stars", None),
    ("8/10", None),
    ("六", None),
    ("⭐⭐⭐⭐⭐⭐", None),
    # no score, or an ambiguous one
    ("", None),
    ("   ", None),
    ("我要退貨", None),
    ("no", None),
    ("thanks", None),
    ("4 or 5", None),
    ("4.5", None),
    ("滿意 3分", None),
    ("5 😡", None),
    # a negation is not the score it negates
    ("沒有很滿意", None),
    ("不給5分", None),
    ("not great", None),
    ("isn't good", None),
    # a question, another number, a longer message about something else
    ("還好嗎?", None),
    ("5?", None),
    ("我3點前要收到貨", None),
    ("等了5分鐘", None),
    ("A1234567 到哪了", None),
    ("good news, my order arrived", None),
    ("one more question", None),
]


@pytest.mark.parametrize(("reply", "score"), REPLIES, ids=[repr(reply) for reply, _ in REPLIES])
def test_parse_score(reply: str, score: int | None) -> None:
    assert parse_score(reply) == score

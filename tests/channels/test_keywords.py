"""SMS keywords count only as the whole message: "STOP" opts out, "please stop" does not."""

from __future__ import annotations

import pytest

from channels.keywords import Keyword, sms_keyword

OPT_OUT_WORDS = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "退訂",
    "取消訂閱",
    "退订",
    "取消订阅",
]


def spellings(word: str) -> list[str]:
    """`word` as people type it: any case, with spaces and punctuation around."""
    return [
        word,
        word.lower(),
        word.capitalize(),
        word.swapcase().capitalize().swapcase(),  # e.g. "sTOP"
        f"{word.capitalize()}.",
        f" {word.lower()}!",
        f"  {word}  \n",
        f"{word}!!!",
        f"「{word}」",
        f"({word.lower()})",
        f"{word}。",
        f"{word}！",
    ]


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
def test_every_opt_out_word_in_any_case_and_punctuation_opts_out(word: str) -> None:
    for text in spellings(word):
        for opted_out in (False, True):
            assert sms_keyword(text, opted_out=opted_out) is Keyword.OPT_OUT, repr(text)


FULL_WIDTH = [
    "ＳＴＯＰ",
    "ｓｔｏｐ",
    "ＳＴＯＰ！",
    "　ＳＴＯＰ　",
    "ＵＮＳＵＢＳＣＲＩＢＥ",
    "ＱＵＩＴ",
]


@pytest.mark.parametrize("text", FULL_WIDTH)
def test_full_width_keywords_opt_out(text: str) -> None:
    assert sms_keyword(text, opted_out=False) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["Stop.", " stop!", "STOP", "stop", "Stop!!", "¡stop!", "Opt out"])
def test_the_usual_ways_of_writing_stop_opt_out(text: str) -> None:
    assert sms_keyword(text, opted_out=False) is Keyword.OPT_OUT


@pytest.mark.parametrize("word", ["START", "UNSTOP", "訂閱", "订阅"])
def test_start_unstop_and_subscribe_opt_back_in(word: str) -> None:
    for text in spellings(word):
        for opted_out in (False, True):
            assert sms_keyword(text, opted_out=opted_out) is Keyword.OPT_IN, repr(text)


@pytest.mark.parametrize("text", ["YES", "yes", "Yes.", " yes! ", "ＹＥＳ"])
def test_yes_opts_in_only_a_number_that_opted_out(text: str) -> None:
    assert sms_keyword(text, opted_out=True) is Keyword.OPT_IN
    assert sms_keyword(text, opted_out=False) is None


@pytest.mark.parametrize("word", ["HELP", "INFO"])
def test_help_and_info_ask_for_help(word: str) -> None:
    for text in spellings(word):
        for opted_out in (False, True):
            assert sms_keyword(text, opted_out=opted_out) is Keyword.HELP, repr(text)


@pytest.mark.parametrize(
    "text",
    [
        "cancel my order",
        "please stop sending",
        "I want to end this",
        "Stop sending me ads",
        "can you help me?",
        "start my return",
        "yes please",
        "我要取消訂單",
        "請幫我退訂單",
        "不要退訂",
        "stopped",
        "ending",
        "the end",
        "",
        "   ",
        "?!",
    ],
)
def test_sentences_that_contain_a_keyword_are_not_keywords(text: str) -> None:
    assert sms_keyword(text, opted_out=False) is None
    assert sms_keyword(text, opted_out=True) is None

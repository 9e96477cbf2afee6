"""SMS cost: GSM-7 or UCS-2, and how many segments; long replies cut to Twilio's limit."""

from __future__ import annotations

import pytest

from crm_store.text_limits import (
    GSM7_EXTENSION,
    MAX_MESSAGE_CHARS,
    SmsEncoding,
    count_segments,
    is_gsm7,
    split_sms,
)

EXTENSION_CHARACTERS = "€[]{}^~\\|"


# --- which alphabet ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Your order A1234567 has shipped.",
        "Prices from £5 or 10$ @ store #3 (100% off?!)",
        "Café déjà vu: ÄÖÑÜ äöñü à è é ù ì ò Ç Ø ø Å å Æ æ ß É ¿¡ § ¤",
        "ΔΦΓΛΩΠΨΣΘΞ _",
        "line one\nline two\r\n",
        EXTENSION_CHARACTERS,
        "",
    ],
)
def test_gsm_alphabet_text_is_gsm7(text: str) -> None:
    assert is_gsm7(text)
    assert count_segments(text).encoding is SmsEncoding.GSM7


@pytest.mark.parametrize(
    "text",
    [
        "您好",
        "Order 訂單 shipped",
        "smile 😀",
        "back`tick",
        "ç lowercase cedilla",  # only the capital Ç is in the basic table
        "curly “quotes”",
        "en–dash",
        "ideographic\u3000space",
    ],
)
def test_anything_outside_the_gsm_alphabet_makes_the_whole_text_ucs2(text: str) -> None:
    assert not is_gsm7(text)
    assert count_segments(text).encoding is SmsEncoding.UCS2


# --- GSM-7 segments: 160 alone, 153 each when concatenated ------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (159, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_segment_boundaries(length: int, segments: int) -> None:
    count = count_segments("a" * length)
    assert count.encoding is SmsEncoding.GSM7
    assert count.units == length
    assert count.segments == segments


def test_an_empty_text_is_one_segment_of_nothing() -> None:
    count = count_segments("")
    assert (count.units, count.segments) == (0, 1)


@pytest.mark.parametrize("char", list(EXTENSION_CHARACTERS))
def test_each_extension_character_costs_two_septets(char: str) -> None:
    assert char in GSM7_EXTENSION
    assert count_segments(char).units == 2
    assert count_segments(f"a{char}b").units == 4


def test_extension_characters_reach_the_single_segment_limit_at_half_the_count() -> None:
    at_limit = count_segments("€" * 80)
    assert (at_limit.units, at_limit.segments) == (160, 1)
    over = count_segments("€" * 80 + "a")
    assert (over.units, over.segments) == (161, 2)
    mixed = count_segments("a" * 158 + "[")
    assert (mixed.units, mixed.segments) == (160, 1)
    assert count_segments("a" * 159 + "]").segments == 2


# --- UCS-2 segments: 70 alone, 67 each when concatenated --------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (69, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segment_boundaries_for_chinese(length: int, segments: int) -> None:
    count = count_segments("謝" * length)
    assert count.encoding is SmsEncoding.UCS2
    assert count.units == length
    assert count.segments == segments


def test_an_emoji_counts_two_utf16_units() -> None:
    assert count_segments("😀").units == 2
    assert count_segments("😀" * 35).segments == 1  # 70 units
    assert count_segments("😀" * 35 + "a").segments == 2  # 71 units
    assert count_segments("謝" * 68 + "😀").units == 70
    assert count_segments("謝" * 69 + "😀").segments == 2


def test_one_chinese_character_turns_a_gsm_text_into_ucs2_segments() -> None:
    text = "a" * 69 + "謝"
    count = count_segments(text)
    assert count.encoding is SmsEncoding.UCS2
    assert (count.units, count.segments) == (70, 1)
    assert count_segments("a" * 70 + "謝").segments == 2  # would be 1 segment in GSM-7


def test_an_extension_character_in_a_ucs2_text_costs_one_unit() -> None:
    assert count_segments("€謝").units == 2


# --- splitting for Twilio ----------------------------------------------------------------


def test_a_reply_within_the_limit_is_sent_whole() -> None:
    text = "謝謝您的耐心等候。" * 100  # 900 characters
    assert split_sms(text) == [text]


def test_split_sms_never_returns_a_part_over_1600_characters() -> None:
    texts = [
        "Your parcel is on its way. " * 300,
        "您的包裹已經出貨。請耐心等候！" * 400,
        "x" * 5000,  # nothing to cut at
        "😀" * 3300,
        ("Para one. " * 100 + "\n\n") * 10,
    ]
    for text in texts:
        parts = split_sms(text)
        assert len(parts) >= 2
        assert all(0 < len(part) <= MAX_MESSAGE_CHARS for part in parts)
        assert "".join("".join(parts).split()) == "".join(text.split())


def test_split_sms_cuts_between_sentences() -> None:
    sentence = "您的包裹已經出貨，預計明天送達。"  # 16 characters
    parts = split_sms(sentence * 150)  # 2,400 characters
    assert all(part.endswith("。") for part in parts)
    assert sum(len(part) for part in parts) == 2400


def test_split_sms_honours_a_smaller_maximum() -> None:
    parts = split_sms("word " * 100, max_chars=50)
    assert all(len(part) <= 50 for part in parts)
    assert " ".join(parts).split() == ["word"] * 100


def test_an_escape_pair_never_straddles_two_segments() -> None:
    # 152 + 2 septets would fill 154 > 153: the € moves to the second segment whole,
    # which then holds 2 + 151 septets and leaves one "a" for a third.
    text = "a" * 152 + "€" + "a" * 152
    assert count_segments(text).units == 306
    assert count_segments(text).segments == 3

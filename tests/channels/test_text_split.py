"""Long text cut into parts: the most natural break that fits, never over the limit."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from crm_store.text_limits import count_segments, split_text


def assert_parts_rebuild(text: str, parts: list[str]) -> None:
    """The parts are `text` in order, with only whitespace left out between them."""
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} is not in the text after position {position}"
        assert text[position:found].strip() == "", f"text skipped before {part!r}"
        position = found + len(part)
    assert text[position:].strip() == "", "text lost after the last part"


def assert_well_formed(
    text: str, parts: list[str], limit: int, measure: Callable[[str], int] = len
) -> None:
    for part in parts:
        assert part, "an empty part"
        assert part == part.strip(), f"{part!r} is not stripped"
        assert measure(part) <= limit, f"{part!r} measures {measure(part)} > {limit}"
    assert_parts_rebuild(text, parts)


# --- what fits is left alone -----------------------------------------------------------


def test_a_text_that_fits_comes_back_as_one_stripped_part() -> None:
    assert split_text("  Your order has shipped.\n", 160) == ["Your order has shipped."]


def test_a_text_exactly_at_the_limit_is_not_split() -> None:
    text = "x" * 50
    assert split_text(text, 50) == [text]


def test_an_empty_or_blank_text_gives_no_parts() -> None:
    assert split_text("", 10) == []
    assert split_text(" \n\t\n ", 10) == []


@pytest.mark.parametrize("limit", [0, -1, -160])
def test_a_limit_below_one_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        split_text("hello", limit)


# --- where the cut falls -----------------------------------------------------------------


def test_a_paragraph_break_is_preferred_to_a_later_sentence_end() -> None:
    first = "The parcel left our warehouse this morning. It goes by courier."
    second = "Ships soon. Your tracking number is 9012345678 and delivery takes two days."
    text = f"{first}\n\n{second}"
    # "Ships soon. " ends inside the first 100 characters too, later than the paragraph break.
    assert text.index("Ships soon. ") + len("Ships soon. ") <= 100
    parts = split_text(text, 100)
    assert parts == [first, second]


@pytest.mark.parametrize("mark", [".", "!", "?"])
def test_an_english_sentence_end_is_preferred_to_a_later_space(mark: str) -> None:
    text = f"aaaa bbbbb{mark} ccccc ddddd eeeee"
    parts = split_text(text, 20)
    assert parts == [f"aaaa bbbbb{mark}", "ccccc ddddd eeeee"]


@pytest.mark.parametrize("mark", ["。", "！", "？"])
def test_a_chinese_sentence_end_is_preferred_to_a_later_comma(mark: str) -> None:
    text = f"今天天氣很好{mark}我們去，公園散步吧好嗎"
    parts = split_text(text, 14)
    assert parts == [f"今天天氣很好{mark}", "我們去，公園散步吧好嗎"]


def test_chinese_sentences_without_spaces_are_cut_after_their_punctuation() -> None:
    text = "今天天氣很好。我們去公園散步吧！你覺得怎麼樣？好的"
    parts = split_text(text, 15)
    assert parts == ["今天天氣很好。", "我們去公園散步吧！", "你覺得怎麼樣？好的"]


def test_without_sentences_the_cut_falls_between_words() -> None:
    parts = split_text("alpha beta gamma delta epsilon", 12)
    assert parts == ["alpha beta", "gamma delta", "epsilon"]


def test_a_word_is_cut_only_when_no_break_fits() -> None:
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]


def test_a_long_chinese_run_without_punctuation_is_cut_at_the_limit() -> None:
    text = "謝" * 23
    assert split_text(text, 10) == ["謝" * 10, "謝" * 10, "謝" * 3]


def test_whitespace_at_a_cut_is_dropped_not_carried_into_the_next_part() -> None:
    parts = split_text("First line here.\n\n\n   Second line here.", 20)
    assert parts == ["First line here.", "Second line here."]


# --- a custom measure ------------------------------------------------------------------


def test_a_custom_measure_decides_what_fits() -> None:
    def utf8_bytes(text: str) -> int:
        return len(text.encode("utf-8"))

    text = "你好世界" * 10  # 40 characters, 120 bytes
    assert split_text(text, 40) == [text]  # by characters it fits
    parts = split_text(text, 30, measure=utf8_bytes)
    assert [len(part) for part in parts] == [10, 10, 10, 10]  # 30 bytes each
    assert_well_formed(text, parts, 30, utf8_bytes)


def test_gsm_extension_characters_measured_as_two_septets_halve_a_part() -> None:
    def septets(text: str) -> int:
        return count_segments(text).units

    text = "€" * 30
    parts = split_text(text, 20, measure=septets)
    assert parts == ["€" * 10] * 3


def test_the_measure_is_used_instead_of_the_length() -> None:
    seen: list[str] = []

    def one_per_word(text: str) -> int:
        seen.append(text)
        return len(text.split())

    text = "one two three four five six seven"
    parts = split_text(text, 3, measure=one_per_word)
    assert parts == ["one two three", "four five six", "seven"]
    assert text in seen  # the whole text was measured, not just its length taken


# --- invariants over generated texts ---------------------------------------------------

ENGLISH = [
    "order", "parcel", "delivery", "tracking", "refund", "the", "a", "is", "your", "we",
    "tomorrow", "courier", "thanks", "sorry", "please", "number", "9012345678",
    "insulated", "bottle", "coupon", "Taipei", "warehouse", "customer", "service",
]  # fmt: skip
CHINESE = [
    "您好", "訂單", "已經", "出貨", "包裹", "明天", "送達", "謝謝", "抱歉", "退款", "客服",
    "保溫杯",
]  # fmt: skip
SEPARATORS = [" "] * 12 + [". ", "! ", "? ", ", ", "\n", "\n\n", "  ", "。", "！", "？", "，", "、"]


def generated_text(rng: random.Random) -> str:
    pieces: list[str] = []
    for _ in range(rng.randint(0, 120)):
        roll = rng.random()
        if roll < 0.45:
            pieces.append(rng.choice(ENGLISH))
        elif roll < 0.85:
            pieces.append(rng.choice(CHINESE))
        elif roll < 0.9:
            pieces.append("x" * rng.randint(10, 60))  # a word longer than small limits
        pieces.append(rng.choice(SEPARATORS))
    return "".join(pieces)


def test_generated_texts_keep_every_invariant() -> None:
    rng = random.Random(20240601)
    checked = 0
    for _ in range(300):
        text = generated_text(rng)
        limit = rng.choice([1, 2, 5, 10, 17, 40, 70, 160, 1600])
        parts = split_text(text, limit)
        assert_well_formed(text, parts, limit)
        if text.strip():
            assert parts, f"no parts for {text!r}"
        checked += len(parts)
    assert checked > 1000  # the loop really exercised splitting


def test_generated_texts_keep_every_invariant_with_a_wide_character_measure() -> None:
    def width(text: str) -> int:  # East Asian characters take two columns
        return sum(2 if ord(char) > 0x2E80 else 1 for char in text)

    rng = random.Random(7)
    for _ in range(200):
        text = generated_text(rng)
        limit = rng.choice([2, 9, 30, 71])
        parts = split_text(text, limit, measure=width)
        assert_well_formed(text, parts, limit, width)


def test_generated_english_never_has_a_word_cut_when_every_word_is_short() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        limit = rng.randint(8, 200)
        words = ["".join(rng.choices("abcdefgh", k=rng.randint(1, limit // 2))) for _ in range(60)]
        text = "".join(word + rng.choice([" ", " ", ". ", "\n", "\n\n"]) for word in words)
        parts = split_text(text, limit)
        assert_well_formed(text, parts, limit)
        rejoined = " ".join(parts).replace(".", " ").split()
        assert rejoined == words, f"a word was cut at limit {limit}"

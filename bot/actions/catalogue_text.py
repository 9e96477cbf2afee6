"""Text as the catalogue matcher sees it: folded, and cut into tokens per language.

Messages are folded before matching, one character for one so that offsets stay those
of the original text: full-width letters and digits to ASCII (Chinese keyboards type
them), the ideographic space to a space, and everything to lower case. English names
and SKUs are matched on a blank English pipeline that sees Chinese as spaces; Chinese
names on a blank Chinese pipeline segmented by jieba, with the names as words of its
own dictionary (`chinese_pipeline`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any, cast

import jieba
import opencc
import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher

# Chinese, Japanese and Bopomofo characters and CJK punctuation. The English pipeline
# sees them as spaces (one for one, so offsets hold), so that English words and SKUs
# glued to Chinese ("我的Bamboo Towel壞了") are whole tokens. Splitting them off with
# tokenizer prefix and suffix rules instead costs time quadratic in a run's length.
CJK = re.compile(
    r"[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    r"\U00020000-\U0003134f]"
)

_WIDE_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# A product name's frequency in jieba's dictionary is at least the dictionary's total
# over this, about that of the commonest words, so that a name wins over the words its
# characters form with their neighbours. The least frequency that keeps a name whole
# when alone (jieba's `suggest_freq`) is not enough in a sentence: 面膜 still loses to
# 地面 in 我的地面膜.
_NAME_FREQUENCY_SHARE = 1000


def fold(text: str) -> str:
    """Full-width ASCII to ASCII, then lower case, keeping one character for one."""
    narrow = text.translate(_WIDE_TO_ASCII)
    lowered = narrow.lower()
    if len(lowered) == len(narrow):
        return lowered
    # A few characters lower to two ("İ"); those stay as they are.
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in narrow)


def english_variants(name: str) -> list[str]:
    """The name and, when its last word is an English word, its plural."""
    folded = " ".join(fold(name).split())
    if not folded:
        return []
    head, _, last = folded.rpartition(" ")
    plural = _plural(last)
    if plural is None:
        return [folded]
    return [folded, f"{head} {plural}" if head else plural]


def _plural(word: str) -> str | None:
    if not (word.isascii() and word.isalpha()) or (word.endswith("s") and word[-2:] != "ss"):
        return None
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def chinese_variants(name: str) -> list[str]:
    """The name as written and in Simplified characters, which some customers type."""
    folded = " ".join(fold(name).split())
    if not folded:
        return []
    return list(dict.fromkeys([folded, fold(str(_simplifier().convert(folded)))]))


@functools.cache
def _simplifier() -> Any:
    return opencc.OpenCC("t2s")


def chinese_pipeline(names: Iterable[str]) -> Language:
    """A blank Chinese pipeline segmented by jieba, with the product names as words.

    jieba may segment a name differently inside a sentence than alone (保 / 溫 / 杯 alone,
    but 保 / 溫 / 杯子 in 保溫杯子; 面膜 alone, but 地面 / 膜 in 我的地面膜), and the
    phrase matcher compares tokens, so the names go into the dictionary. The dictionary
    is this pipeline's own: spaCy would hand the tokenizer the process-wide `jieba`
    module, and words added to it would outlive the catalogue they came from.
    """
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    dictionary = _jieba_dictionary()
    tokenizer = jieba.Tokenizer()
    # A copy of the loaded default dictionary rather than a second load from disk
    # (about 0.6 s); these are the attributes jieba's own `initialize` sets.
    tokenizer.FREQ = dict(dictionary.FREQ)
    tokenizer.total = dictionary.total
    tokenizer.initialized = True
    least = dictionary.total // _NAME_FREQUENCY_SHARE
    for name in names:
        # jieba cuts text into blocks at spaces and most punctuation before it consults
        # the dictionary, so each block of a name is a word of its own. Blocks of ASCII
        # letters and digits it keeps together already.
        for block in jieba.re_han_default.findall(name):
            if not block.isascii():
                tokenizer.add_word(block, max(tokenizer.suggest_freq(block, False), least))
    cast(Any, nlp.tokenizer).jieba_seg = _JiebaWithoutHmm(tokenizer)
    return nlp


@functools.cache
def _jieba_dictionary() -> Any:
    """jieba's default dictionary, loaded once a process (from jieba's cache file)."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


class _JiebaWithoutHmm:
    """jieba as spaCy's ChineseTokenizer calls it, with the HMM for unknown words off.

    The HMM joins runs of characters missing from the dictionary, which in Traditional
    Chinese (jieba's dictionary is mostly Simplified) are common, and would glue a
    one-character product name to its neighbours ("買傘了" as one word).
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def cut(self, sentence: str, cut_all: bool = False) -> Iterator[str]:
        words: Iterator[str] = self._tokenizer.cut(sentence, cut_all=cut_all, HMM=False)
        return words


def phrase_matches(nlp: Language, matcher: PhraseMatcher, text: str) -> list[tuple[int, int, int]]:
    """(start, end, key) of every match, as character offsets."""
    # The strings spaCy interns for this message are freed when the zone ends, so the
    # vocabulary does not grow with every new word or order number customers type.
    with nlp.memory_zone():
        doc = nlp.make_doc(text)
        return [
            (doc[start].idx, doc[end - 1].idx + len(doc[end - 1]), key)
            for key, start, end in matcher(doc)
        ]

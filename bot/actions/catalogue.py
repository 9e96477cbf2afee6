"""Product names and order numbers in a customer's message, from the live catalogue.

The bot recognises products from the catalogue as it is in the customer store, not from
Rasa's training data, so a product added this morning is understood this afternoon
without retraining. `CatalogueMatcher` is built from the active products: spaCy phrase
matchers over a blank English pipeline (names and SKUs, case-insensitive, whole words)
and a blank Chinese pipeline segmented by jieba (Chinese names, found inside sentences
written without spaces). `CatalogueCache` keeps one matcher for a process and rebuilds
it when the catalogue changes.

Messages are folded before matching, one character for one so that offsets stay those
of the original text: full-width letters and digits to ASCII (Chinese keyboards type
them), the ideographic space to a space, and everything to lower case.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import jieba
import opencc
import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crm_store.models import Product

__all__ = [
    "CatalogueCache",
    "CatalogueMatcher",
    "CatalogueProduct",
    "Mentions",
    "ProductMention",
]

logger = logging.getLogger(__name__)

# Order numbers are matched with a plain regex on the folded text, not with a spaCy token
# pattern: their edges are characters, not tokens. The English tokenizer keeps
# "A1234567,A7654321" as one token and jieba splits runs of letters and digits by its
# dictionary, whereas the regex needs only "no ASCII letter or digit on either side",
# which also finds them glued to Chinese ("訂單A1234567還沒到").
_ORDER_NUMBER = re.compile(r"(?<![a-z0-9])a[0-9]{7}(?![a-z0-9])")

# Chinese, Japanese and Bopomofo characters and CJK punctuation. The English pipeline
# sees them as spaces (one for one, so offsets hold), so that English words and SKUs
# glued to Chinese ("我的Bamboo Towel壞了") are whole tokens. Splitting them off with
# tokenizer prefix and suffix rules instead costs time quadratic in a run's length.
_CJK = re.compile(
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


@dataclass(frozen=True)
class ProductMention:
    """A product named in a message.

    Attributes:
        product_id: The product's id in the customer store.
        sku: The product's SKU.
        text: The words as the customer wrote them.
        start: Offset of the first character in the message.
        end: Offset just past the last character, so that ``message[start:end] == text``.
    """

    product_id: int
    sku: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Mentions:
    """What a message refers to.

    Attributes:
        products: Products in the order they appear. Where names overlap, the longest
            wins; products sharing exactly the same name are all listed, so the bot can
            ask which one the customer means.
        order_numbers: Order numbers in upper case, each once, in the order they appear.
    """

    products: list[ProductMention]
    order_numbers: list[str]


@dataclass(frozen=True)
class CatalogueProduct:
    """The fields of an active product that a matcher is built from."""

    product_id: int
    sku: str
    name_zh: str
    name_en: str
    created_at: datetime


class CatalogueMatcher:
    """Finds product names, SKUs and order numbers in messages, for one catalogue.

    A matcher is immutable once built and `find` is safe to call from several threads.
    """

    def __init__(self, products: Iterable[CatalogueProduct]) -> None:
        """Build the matcher.

        Args:
            products: The products to recognise, usually the active ones (see
                `from_session`).
        """
        self._products = tuple(products)
        self._version = (
            len(self._products),
            max((product.created_at for product in self._products), default=None),
        )
        self._by_key: dict[int, CatalogueProduct] = {}
        # spaCy does not promise that one pipeline may tokenize in several threads at
        # once (the vocabulary and the tokenizer cache change on every call, and memory
        # zones must not interleave); a message takes well under a millisecond.
        self._lock = threading.Lock()

        chinese_names = {
            product.product_id: _chinese_variants(product.name_zh) for product in self._products
        }
        self._zh = _chinese_pipeline(name for names in chinese_names.values() for name in names)
        self._en = spacy.blank("en")
        self._zh_matcher = PhraseMatcher(self._zh.vocab, attr="LOWER")
        self._en_matcher = PhraseMatcher(self._en.vocab, attr="LOWER")
        for product in self._products:
            key = f"product:{product.product_id}"
            self._by_key[self._en.vocab.strings.add(key)] = product
            english = [*_english_variants(product.name_en), _fold(product.sku).strip()]
            self._en_matcher.add(key, [self._en.make_doc(text) for text in english if text])
            chinese = chinese_names[product.product_id]
            self._zh_matcher.add(key, [self._zh.make_doc(text) for text in chinese])

    @classmethod
    def from_session(cls, session: Session) -> CatalogueMatcher:
        """Build a matcher from the active products in the customer store.

        Args:
            session: A session of the customer store.

        Returns:
            A matcher for the catalogue as the session sees it.
        """
        return cls(_active_products(session))

    @property
    def version(self) -> tuple[int, datetime | None]:
        """The number of products and the latest `created_at` among them.

        `CatalogueCache` compares it with the store's to know when to rebuild.
        """
        return self._version

    def find(self, text: str) -> Mentions:
        """Find the products and order numbers a message mentions.

        Args:
            text: The customer's message, in Chinese, English or both.

        Returns:
            The products (with offsets into `text`) and the order numbers found.
        """
        folded = _fold(text)
        order_numbers = dict.fromkeys(
            match.group().upper() for match in _ORDER_NUMBER.finditer(folded)
        )
        with self._lock:
            found = [
                *_phrase_matches(self._en, self._en_matcher, _CJK.sub(" ", folded)),
                *_phrase_matches(self._zh, self._zh_matcher, folded),
            ]
        candidates = {(start, end, self._by_key[key]) for start, end, key in found}
        return Mentions(products=_longest_first(candidates, text), order_numbers=[*order_numbers])


class _CacheState(NamedTuple):
    matcher: CatalogueMatcher
    check_at: float


class CatalogueCache:
    """Holds a matcher and rebuilds it when the catalogue changed.

    The catalogue is checked at most every `ttl` seconds with one cheap query: the count
    and the latest `created_at` of the active products. Renaming a product or swapping
    one active product for another with the same count and no newer product is not
    seen by that query; such a change shows once another product is added.

    Thread-safe: one thread checks and rebuilds while the others go on answering from
    the matcher they have; only the first build makes callers wait. If the check fails
    (the database is away), the current matcher is kept and checked again a `ttl` later.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty cache; the first `find` builds the matcher.

        Args:
            session_factory: Makes sessions of the customer store.
            ttl: Seconds between two checks of the catalogue.
            clock: Seconds from an arbitrary start, never going back.
        """
        self._session_factory = session_factory
        self._ttl = ttl
        self._clock = clock
        self._refresh_lock = threading.Lock()
        self._state: _CacheState | None = None

    def find(self, text: str) -> Mentions:
        """Find the products and order numbers a message mentions, in the live catalogue.

        Args:
            text: The customer's message, in Chinese, English or both.

        Returns:
            The products (with offsets into `text`) and the order numbers found.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The first build could not read the catalogue.
        """
        return self._matcher().find(text)

    def _matcher(self) -> CatalogueMatcher:
        state = self._state
        if state is not None and self._clock() < state.check_at:
            return state.matcher
        if state is None:
            with self._refresh_lock:
                return self._refresh()
        if not self._refresh_lock.acquire(blocking=False):
            return state.matcher
        try:
            return self._refresh()
        finally:
            self._refresh_lock.release()

    def _refresh(self) -> CatalogueMatcher:
        """Check the catalogue and rebuild the matcher if it changed; hold the lock."""
        state = self._state
        now = self._clock()
        if state is not None and now < state.check_at:
            return state.matcher  # another thread refreshed while this one waited
        try:
            with self._session_factory() as session:
                if state is not None and _catalogue_version(session) == state.matcher.version:
                    return self._keep(state.matcher, now)
                products = _active_products(session)
        except SQLAlchemyError:
            if state is None:
                raise
            logger.warning("could not check the catalogue; keeping the matcher", exc_info=True)
            return self._keep(state.matcher, now)
        started = time.perf_counter()
        matcher = CatalogueMatcher(products)
        logger.info(
            "catalogue matcher built: %d products in %.2f s",
            len(products),
            time.perf_counter() - started,
        )
        return self._keep(matcher, now)

    def _keep(self, matcher: CatalogueMatcher, checked_at: float) -> CatalogueMatcher:
        self._state = _CacheState(matcher, checked_at + self._ttl)
        return matcher


def _active_products(session: Session) -> list[CatalogueProduct]:
    rows = session.execute(
        select(Product.id, Product.sku, Product.name_zh, Product.name_en, Product.created_at)
        .where(Product.active.is_(True))
        .order_by(Product.id)
    )
    return [
        CatalogueProduct(
            product_id=row.id,
            sku=row.sku,
            name_zh=row.name_zh,
            name_en=row.name_en,
            created_at=row.created_at,
        )
        for row in rows
    ]


def _catalogue_version(session: Session) -> tuple[int, datetime | None]:
    count, latest = session.execute(
        select(func.count(Product.id), func.max(Product.created_at)).where(Product.active.is_(True))
    ).one()
    return count, latest


def _fold(text: str) -> str:
    """Full-width ASCII to ASCII, then lower case, keeping one character for one."""
    narrow = text.translate(_WIDE_TO_ASCII)
    lowered = narrow.lower()
    if len(lowered) == len(narrow):
        return lowered
    # A few characters lower to two ("İ"); those stay as they are.
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in narrow)


def _english_variants(name: str) -> list[str]:
    """The name and, when its last word is an English word, its plural."""
    folded = " ".join(_fold(name).split())
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


def _chinese_variants(name: str) -> list[str]:
    """The name as written and in Simplified characters, which some customers type."""
    folded = " ".join(_fold(name).split())
    if not folded:
        return []
    return list(dict.fromkeys([folded, _fold(str(_simplifier().convert(folded)))]))


@functools.cache
def _simplifier() -> Any:
    return opencc.OpenCC("t2s")


def _chinese_pipeline(names: Iterable[str]) -> Language:
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


def _phrase_matches(nlp: Language, matcher: PhraseMatcher, text: str) -> list[tuple[int, int, int]]:
    """(start, end, key) of every match, as character offsets."""
    # The strings spaCy interns for this message are freed when the zone ends, so the
    # vocabulary does not grow with every new word or order number customers type.
    with nlp.memory_zone():
        doc = nlp.make_doc(text)
        return [
            (doc[start].idx, doc[end - 1].idx + len(doc[end - 1]), key)
            for key, start, end in matcher(doc)
        ]


def _longest_first(
    candidates: Iterable[tuple[int, int, CatalogueProduct]], text: str
) -> list[ProductMention]:
    """Keep the longest of overlapping matches; equal spans are all kept."""
    kept: set[tuple[int, int]] = set()
    chosen: list[ProductMention] = []
    for start, end, product in sorted(
        candidates, key=lambda found: (found[0] - found[1], found[0], found[2].product_id)
    ):
        if (start, end) not in kept and any(start < e and s < end for s, e in kept):
            continue
        kept.add((start, end))
        chosen.append(
            ProductMention(
                product_id=product.product_id,
                sku=product.sku,
                text=text[start:end],
                start=start,
                end=end,
            )
        )
    return sorted(chosen, key=lambda mention: (mention.start, mention.product_id))

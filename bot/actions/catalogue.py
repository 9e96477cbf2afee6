"""Product names and order numbers in a customer's message, from the live catalogue.

The bot recognises products from the catalogue as it is in the customer store, not from
Rasa's training data, so a product added this morning is understood this afternoon
without retraining. `CatalogueMatcher` is built from the active products: spaCy phrase
matchers over a blank English pipeline (names and SKUs, case-insensitive, whole words)
and a blank Chinese pipeline segmented by jieba (Chinese names, found inside sentences
written without spaces). `CatalogueCache` keeps one matcher for a process and rebuilds
it when the catalogue changes. How a message is folded and cut into tokens for
matching is `bot.actions.catalogue_text`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import spacy
from spacy.matcher import PhraseMatcher
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.catalogue_text import (
    CJK,
    chinese_pipeline,
    chinese_variants,
    english_variants,
    fold,
    phrase_matches,
)
from crm_store.models import Product
from crm_store.orders import ORDER_NUMBER_IN_TEXT

__all__ = [
    "CatalogueCache",
    "CatalogueMatcher",
    "CatalogueProduct",
    "Mentions",
    "ProductMention",
]

logger = logging.getLogger(__name__)


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
            product.product_id: chinese_variants(product.name_zh) for product in self._products
        }
        self._zh = chinese_pipeline(name for names in chinese_names.values() for name in names)
        self._en = spacy.blank("en")
        self._zh_matcher = PhraseMatcher(self._zh.vocab, attr="LOWER")
        self._en_matcher = PhraseMatcher(self._en.vocab, attr="LOWER")
        for product in self._products:
            key = f"product:{product.product_id}"
            self._by_key[self._en.vocab.strings.add(key)] = product
            english = [*english_variants(product.name_en), fold(product.sku).strip()]
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
        folded = fold(text)
        # Order numbers by a regex on the folded text, not a spaCy token pattern: their
        # edges are characters, not tokens. The English tokenizer keeps
        # "A1234567,A7654321" as one token, and jieba splits runs of letters and digits
        # by its dictionary.
        order_numbers = dict.fromkeys(
            match.group().upper() for match in ORDER_NUMBER_IN_TEXT.finditer(folded)
        )
        with self._lock:
            found = [
                *phrase_matches(self._en, self._en_matcher, CJK.sub(" ", folded)),
                *phrase_matches(self._zh, self._zh_matcher, folded),
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

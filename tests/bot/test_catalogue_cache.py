"""The catalogue matcher's cache: rebuilt after the TTL if the catalogue changed, kept on errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.catalogue import CatalogueCache, Mentions
from tests.bot.conftest import Catalogue
from tests.factories import make_product


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` from now on."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_product_added_after_the_cache_was_built_is_found_once_the_ttl_passed(
    session: Session,
    session_factory: sessionmaker[Session],
    catalogue: Catalogue,
    statements: list[str],
) -> None:
    clock = FakeClock()
    cache = CatalogueCache(session_factory, ttl=30, clock=clock)
    assert cache.find("請問竹炭牙刷有貨嗎").products == []

    toothbrush = make_product(session, name_zh="竹炭牙刷", name_en="Charcoal Toothbrush")
    session.commit()
    statements.clear()
    clock.advance(29)
    assert cache.find("請問竹炭牙刷有貨嗎").products == []
    assert cache.find("charcoal toothbrushes?").products == []
    assert statements == []

    clock.advance(1)
    found = cache.find("請問竹炭牙刷有貨嗎").products
    assert [(m.product_id, m.text) for m in found] == [(toothbrush.id, "竹炭牙刷")]
    assert [m.product_id for m in cache.find("charcoal toothbrushes?").products] == [toothbrush.id]


def test_an_unchanged_catalogue_costs_one_query_a_ttl_and_no_rebuild(
    session_factory: sessionmaker[Session], catalogue: Catalogue, statements: list[str]
) -> None:
    clock = FakeClock()
    cache = CatalogueCache(session_factory, ttl=30, clock=clock)
    cache.find("保溫杯")
    statements.clear()

    for _ in range(3):
        clock.advance(10)
        assert catalogue.named(cache.find("保溫杯")) == [("保溫杯", "保溫杯")]

    assert len(statements) == 1
    assert "count(" in statements[0].lower()


def test_a_deactivated_product_is_forgotten_once_the_ttl_passed(
    session: Session, session_factory: sessionmaker[Session], catalogue: Catalogue
) -> None:
    clock = FakeClock()
    cache = CatalogueCache(session_factory, ttl=30, clock=clock)
    assert cache.find("面膜").products != []

    catalogue.products["面膜"].active = False
    session.commit()
    clock.advance(30)

    assert cache.find("面膜").products == []


def test_the_cache_keeps_its_matcher_when_the_catalogue_cannot_be_read(
    session: Session,
    session_factory: sessionmaker[Session],
    catalogue: Catalogue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    cache = CatalogueCache(session_factory, ttl=30, clock=clock)
    cache.find("保溫杯")
    session.execute(text("ALTER TABLE products RENAME TO products_away"))
    session.commit()
    clock.advance(30)

    try:
        with caplog.at_level(logging.WARNING, logger="bot.actions.catalogue"):
            found = cache.find("保溫杯")
    finally:
        session.execute(text("ALTER TABLE products_away RENAME TO products"))
        session.commit()

    assert catalogue.named(found) == [("保溫杯", "保溫杯")]
    assert "could not check the catalogue" in caplog.text


def test_concurrent_first_finds_build_the_matcher_once(
    session_factory: sessionmaker[Session], catalogue: Catalogue, statements: list[str]
) -> None:
    cache = CatalogueCache(session_factory, ttl=30, clock=FakeClock())
    start = threading.Barrier(8)
    results: list[Mentions] = []

    def find() -> None:
        start.wait()
        results.append(cache.find("保溫杯蓋 A1234567"))

    threads = [threading.Thread(target=find) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8
    assert all(catalogue.named(found) == [("保溫杯蓋", "保溫杯蓋")] for found in results)
    assert len([sql for sql in statements if "from products" in sql.lower()]) == 1

"""Shared fixtures: a migrated customer store on SQLite and on PostgreSQL.

Every test that takes `session` (or `engine`, `database_url`) runs once per backend.
Each test gets its own database, copied from one migrated at the start of the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from channels.rasa_client import RasaClient
from crm_store import migrate
from crm_store.db import make_engine, make_session_factory
from tests.fakes import FakeTelegram, FakeTwilio
from tests.processes import MODEL, Assistant, assistant_servers

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach beyond this machine."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and address and address[0] not in LOOPBACK:
            raise AssertionError(f"test tried to connect to {address!r}; only loopback allowed")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


def _postgres_admin() -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(POSTGRES_URL)
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        dbname=url.database,
        autocommit=True,
    )


@contextmanager
def _fresh_postgres(*, template: str | None) -> Iterator[str]:
    """A new database (a copy of `template`, or empty) for the block; dropped after."""
    name = f"crmbot_test_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(False)
    finally:
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"crmbot_tmpl_{uuid.uuid4().hex[:10]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(make_url(POSTGRES_URL).set(database=name).render_as_string(False))
    yield name
    with _postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "crmbot.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    with _fresh_postgres(template=request.getfixturevalue("postgres_template")) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The real Rasa server and action server on a real store, shared by the tests."""
    assert MODEL.exists(), "no trained model: run `make train`"
    folder: Path = tmp_path_factory.mktemp("assistant")
    database_url = f"sqlite:///{folder / 'crmbot.db'}"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with (
        assistant_servers(model=MODEL, folder=folder, database_url=database_url) as rasa_url,
        RasaClient(rasa_url, timeout=60) as client,
    ):
        yield Assistant(
            client=client,
            store=make_session_factory(engine),
            rasa_url=rasa_url,
            database_url=database_url,
        )
    engine.dispose()


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as twilio:
        yield twilio


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database only (for tests about PostgreSQL's locking)."""
    with _fresh_postgres(template=postgres_template) as url:
        yield url


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database without tables, for a program that makes its own
    (Rasa's tracker store)."""
    with _fresh_postgres(template=None) as url:
        yield url

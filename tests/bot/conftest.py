"""The real Rasa server and the real action server, on a real store, shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from channels.rasa_client import RasaClient
from crm_store import migrate
from crm_store.db import make_engine, make_session_factory
from tests.processes import MODEL, assistant_servers


@dataclass
class Assistant:
    """A running assistant: talk to it with `client`, look at the store with `store`."""

    client: RasaClient
    store: sessionmaker[Session]
    rasa_url: str


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    assert MODEL.exists(), "no trained model: run `make train`"
    folder: Path = tmp_path_factory.mktemp("assistant")
    database_url = f"sqlite:///{folder / 'crmbot.db'}"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with (
        assistant_servers(model=MODEL, folder=folder, database_url=database_url) as rasa_url,
        RasaClient(rasa_url, timeout=60) as client,
    ):
        yield Assistant(client=client, store=make_session_factory(engine), rasa_url=rasa_url)
    engine.dispose()

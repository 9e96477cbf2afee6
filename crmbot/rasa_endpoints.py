"""Rasa's endpoints file, written from our settings before the Rasa server starts.

    crmbot rasa-endpoints var/endpoints-5005.yml

Rasa's tracker store (its conversations) follows the customer store, in a place of its
own so that Rasa's tables never meet ours:

- beside a SQLite store, the SQLite file `rasa_tracker.db` in the same folder
  (`var/rasa_tracker.db` for the embedded default, as before);
- with a PostgreSQL store, the database `<store's database>_rasa` on the same server,
  which Rasa creates at its first start (it logs in to `login_db`, the store's own
  database, to do so; Rasa does not quote the name, so the store's database name must
  be a plain lower-case one). Every Rasa replica then reads the same conversations.

`RASA_TRACKER_URL` puts it elsewhere (that database must exist).

With `REDIS_URL`, Rasa's lock store is Redis: a replica handles a conversation's
message only when no other replica is handling an earlier one, so any replica can
serve any conversation, in order. It is Rasa's Redis lock store with each change made
in one Redis transaction (`bot.lock_store`): Rasa's own reads and writes back, and two
replicas at once could lose a ticket. Without it Rasa keeps its locks in memory, which is
right for the single Rasa server of the embedded default.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import URL, make_url

from crm_store.settings import Settings

# Rasa fills in `${...}` from its environment; the Procfile sets ACTION_SERVER_URL.
ACTION_ENDPOINT = {"url": "${ACTION_SERVER_URL}"}
TRACKER_DATABASE_SUFFIX = "_rasa"
TRACKER_SQLITE_FILE = "rasa_tracker.db"


class UnsupportedStore(ValueError):
    """Rasa's tracker store cannot live on this kind of database."""

    def __init__(self, url: str) -> None:
        super().__init__(f"Rasa's tracker store needs SQLite or PostgreSQL, not {url!r}")
        self.url = url


def endpoints(settings: Settings) -> dict[str, Any]:
    """The contents of Rasa's endpoints file for these settings."""
    config: dict[str, Any] = {
        "action_endpoint": ACTION_ENDPOINT,
        "tracker_store": tracker_store(settings),
    }
    if settings.redis_url:
        config["lock_store"] = lock_store(settings.redis_url, key_prefix=settings.redis_key_prefix)
    return config


def tracker_store(settings: Settings) -> dict[str, Any]:
    """Rasa's SQLTrackerStore: `RASA_TRACKER_URL`, or derived from `DATABASE_URL`."""
    if settings.rasa_tracker_url:
        return _sql_tracker_store(make_url(settings.rasa_tracker_url))
    store = make_url(settings.database_url)
    backend = store.get_backend_name()
    if backend == "sqlite":
        beside = Path(store.database or TRACKER_SQLITE_FILE).with_name(TRACKER_SQLITE_FILE)
        return _sql_tracker_store(store.set(database=str(beside)))
    if backend == "postgresql":
        own = store.set(database=f"{store.database}{TRACKER_DATABASE_SUFFIX}")
        return {**_sql_tracker_store(own), "login_db": store.database}
    raise UnsupportedStore(settings.database_url)


def _sql_tracker_store(url: URL) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"type": "SQL", "dialect": "sqlite", "db": url.database}
    if backend != "postgresql":
        raise UnsupportedStore(url.render_as_string(hide_password=True))
    # Rasa runs SQLAlchemy 1.4 with psycopg2 in .venv-rasa: only the dialect carries
    # over, not our driver (psycopg 3).
    config: dict[str, Any] = {
        "type": "SQL",
        "dialect": "postgresql",
        "url": url.host or "localhost",
        "port": url.port or 5432,
        "db": url.database,
        "username": url.username,
        "password": url.password,
    }
    if url.query:
        config["query"] = dict(url.query)
    return {key: value for key, value in config.items() if value is not None}


def lock_store(redis_url: str, *, key_prefix: str) -> dict[str, Any]:
    """Rasa's Redis lock store, its changes made atomic (`bot.lock_store`), on the server
    and database of `redis_url`, its keys under `key_prefix` (Rasa takes letters and
    digits only, and ignores any other prefix)."""
    url = urlsplit(redis_url)
    config: dict[str, Any] = {
        "type": "bot.lock_store.AtomicRedisLockStore",
        "url": url.hostname or "localhost",
        "port": url.port or 6379,
        "db": int(url.path.strip("/") or 0),
        "key_prefix": "".join(char for char in key_prefix if char.isalnum()),
        "use_ssl": url.scheme == "rediss",
    }
    if url.username:
        config["username"] = unquote(url.username)
    if url.password:
        config["password"] = unquote(url.password)
    return config


def write_endpoints(settings: Settings, path: Path) -> None:
    """Write the endpoints file at once (replicas starting together may each write it),
    readable by its owner only: it may hold the database's password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as output:
        yaml.safe_dump(endpoints(settings), output, sort_keys=False, allow_unicode=True)
    os.replace(temporary, path)

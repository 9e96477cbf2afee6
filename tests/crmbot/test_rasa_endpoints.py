"""Rasa's endpoints file follows the customer store and Redis (crmbot/rasa_endpoints.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crm_store.settings import Settings
from crmbot.rasa_endpoints import UnsupportedStore, endpoints, write_endpoints

CRMBOT = Path(sys.executable).parent / "crmbot"


def settings(**values: str) -> Settings:
    """Settings from these values only, whatever this machine's environment holds."""
    unset = {"redis_url": None, "rasa_tracker_url": None}
    return Settings(_env_file=None, **{**unset, **values})  # type: ignore[arg-type]


def test_embedded_default_keeps_the_sqlite_tracker_beside_the_store_and_in_memory_locks(
    tmp_path: Path,
) -> None:
    config = endpoints(settings(database_url=f"sqlite:///{tmp_path / 'crmbot.db'}"))

    assert config == {
        "action_endpoint": {"url": "${ACTION_SERVER_URL}"},
        "tracker_store": {
            "type": "SQL",
            "dialect": "sqlite",
            "db": str(tmp_path / "rasa_tracker.db"),
        },
    }


def test_postgresql_store_gives_rasa_its_own_database_on_the_same_server() -> None:
    config = endpoints(
        settings(database_url="postgresql+psycopg://shop:s%40cret@db.internal:6432/crm")
    )

    assert config["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "db.internal",
        "port": 6432,
        "db": "crm_rasa",
        "username": "shop",
        "password": "s@cret",
        "login_db": "crm",  # where Rasa logs in to create crm_rasa
    }
    assert "lock_store" not in config


def test_redis_url_makes_rasa_lock_conversations_in_redis() -> None:
    config = endpoints(
        settings(
            database_url="postgresql+psycopg://postgres@127.0.0.1/crm",
            redis_url="rediss://bot:pass%2Fword@cache.internal:6380/3",
            redis_key_prefix="shop-1:",
        )
    )

    assert config["lock_store"] == {
        "type": "bot.lock_store.AtomicRedisLockStore",
        "url": "cache.internal",
        "port": 6380,
        "db": 3,
        "key_prefix": "shop1",  # Rasa ignores a prefix with anything but letters and digits
        "use_ssl": True,
        "username": "bot",
        "password": "pass/word",
    }


def test_rasa_tracker_url_puts_the_tracker_store_elsewhere_without_creating_it() -> None:
    config = endpoints(
        settings(
            database_url="sqlite:///var/crmbot.db",
            rasa_tracker_url="postgresql://rasa@tracker.internal/conversations?sslmode=require",
        )
    )

    assert config["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "tracker.internal",
        "port": 5432,
        "db": "conversations",
        "username": "rasa",
        "query": {"sslmode": "require"},
    }


def test_a_store_rasa_cannot_use_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedStore, match="mysql"):
        endpoints(settings(database_url="mysql://shop@db/crm"))


def test_written_file_is_yaml_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "endpoints.yml"
    write_endpoints(settings(database_url="postgresql://shop:secret@db/crm"), path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the password
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert written["tracker_store"]["password"] == "secret"
    # Unquoted, so that Rasa substitutes the environment variable.
    assert "url: ${ACTION_SERVER_URL}\n" in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["endpoints.yml"]


def test_crmbot_rasa_endpoints_writes_the_file_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.yml"
    environment = {
        **os.environ,
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/shop",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    subprocess.run(
        [str(CRMBOT), "rasa-endpoints", str(path)],
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )

    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert written["tracker_store"]["db"] == "shop_rasa"
    assert written["lock_store"]["url"] == "127.0.0.1"

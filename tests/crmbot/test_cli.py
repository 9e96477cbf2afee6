"""`crmbot` as an operator runs it: a separate process, configured by the environment."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import customer_csv
from crm_store.models import Customer, StaffRole, StaffUser
from crm_store.staff import authenticate
from tests.factories import make_customer

CRMBOT = Path(sys.executable).parent / "crmbot"


def crmbot(
    database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRMBOT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"},
        timeout=120,
    )


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_db_upgrade_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'crmbot.db'}"
    first = crmbot(url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "database at revision" in first.stdout
    second = crmbot(url, "db", "upgrade")
    assert second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]


def test_commands_refuse_a_database_without_schema(tmp_path: Path) -> None:
    result = crmbot(f"sqlite:///{tmp_path / 'empty.db'}", "customer", "show", "1")
    assert result.returncode == 1
    assert "crmbot db upgrade" in result.stderr


def test_import_reports_bad_rows_and_imports_nothing(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "name,phone,birthday\n王大明,0912345678,1980-01-01\n李小華,0912,1980-13-01\n",
        encoding="utf-8",
    )
    result = crmbot(database_url, "import", "customers", str(path))
    assert result.returncode == 1
    assert "line 3, column phone" in result.stderr
    assert "line 3, column birthday" in result.stderr
    assert "nothing was imported" in result.stderr
    assert count(session, Customer) == 0


def test_a_file_of_several_batches_imports_whole_or_not_at_all(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    """Long enough for the row checker to run in its own process beside the writer."""
    rows = 3 * customer_csv.BATCH_SIZE + 17
    lines = [f"Customer {n},09{12_000_000 + n:08d},,1990-01-01\n" for n in range(rows)]
    path = tmp_path / "customers.csv"
    path.write_text("name,phone,email,birthday\n" + "".join(lines[:-1]) + "Late,0912,,\n")

    failed = crmbot(database_url, "import", "customers", str(path))
    assert failed.returncode == 1
    assert f"line {rows + 1}, column phone" in failed.stderr
    assert "nothing was imported" in failed.stderr
    assert count(session, Customer) == 0

    path.write_text("name,phone,email,birthday\n" + "".join(lines))
    imported = crmbot(database_url, "import", "customers", str(path))
    assert imported.returncode == 0, imported.stderr
    assert f"imported {rows} customers" in imported.stdout
    assert count(session, Customer) == rows


def test_import_export_show_and_forget(database_url: str, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "\ufeffname,phone,language,tier\n王大明,0912345678,zh-TW,vip\nAnn Lee,0922333444,en,\n",
        encoding="utf-8",
    )
    imported = crmbot(database_url, "import", "customers", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 customers" in imported.stdout

    exported = crmbot(database_url, "export", "customers")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["name"], r["phone"], r["tier"]) for r in rows] == [
        ("王大明", "+886912345678", "vip"),
        ("Ann Lee", "+886922333444", "standard"),
    ]

    shown = crmbot(database_url, "customer", "show", "0912 345 678")
    assert shown.returncode == 0, shown.stderr
    assert "王大明" in shown.stdout and "+886912345678" in shown.stdout

    missing = crmbot(database_url, "customer", "show", "0933000000")
    assert missing.returncode == 1
    assert "no customer" in missing.stderr

    customer_id = session.scalar(select(Customer.id).where(Customer.name == "王大明"))
    forgotten = crmbot(database_url, "customer", "forget", str(customer_id), "--yes")
    assert forgotten.returncode == 0, forgotten.stderr
    session.expire_all()
    erased = session.get(Customer, customer_id)
    assert erased is not None and erased.name == "(erased)" and erased.erased_at is not None
    after = crmbot(database_url, "export", "customers")
    assert "王大明" not in after.stdout and "+886912345678" not in after.stdout


def test_forget_asks_before_erasing(database_url: str, session: Session) -> None:
    customer = make_customer(session, name="Keep Me")
    session.commit()
    result = crmbot(database_url, "customer", "forget", str(customer.id), stdin="n\n")
    assert result.returncode == 1
    session.expire_all()
    assert session.get(Customer, customer.id).name == "Keep Me"  # type: ignore[union-attr]


def test_staff_add_with_password_on_stdin(database_url: str, session: Session) -> None:
    added = crmbot(
        database_url,
        "staff",
        "add",
        "amy@shop.tw",
        "--role",
        "marketer",
        "--name",
        "Amy",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert added.returncode == 0, added.stderr
    user = session.scalars(select(StaffUser)).one()
    assert (user.email, user.role, user.display_name) == ("amy@shop.tw", StaffRole.MARKETER, "Amy")

    again = crmbot(
        database_url, "staff", "add", "AMY@shop.tw", "--password-stdin", stdin="another secret!\n"
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    weak = crmbot(database_url, "staff", "add", "bob@shop.tw", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1
    assert "at least" in weak.stderr
    assert count(session, StaffUser) == 1


@pytest.mark.timeout(300)
def test_demo_data_loads_once(database_url: str, session: Session) -> None:
    first = crmbot(database_url, "demo-data", "--customers", "60")
    assert first.returncode == 0, first.stderr
    assert "demo shop loaded: 60 customers" in first.stdout
    second = crmbot(database_url, "demo-data", "--customers", "60")
    assert second.returncode == 0, second.stderr
    assert "already has customers" in second.stdout
    assert count(session, Customer) == 60


def test_demo_admin_is_created_once_and_can_sign_in(database_url: str, session: Session) -> None:
    first = crmbot(database_url, "staff", "demo-admin")
    assert first.returncode == 0, first.stderr
    password = first.stdout.split("password:")[1].split()[0]
    again = crmbot(database_url, "staff", "demo-admin")
    assert "password" not in again.stdout and "no demo admin" in again.stdout
    user = authenticate(session, email="admin@demo.local", password=password)
    assert user is not None and user.role is StaffRole.ADMIN

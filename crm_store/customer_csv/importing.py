"""Importing checked customer rows into the store: all or nothing.

Rows whose phone or chat id the store already has are a problem, or left out with
`skip_existing`; the rest are written a batch at a time with bulk inserts, inside a
savepoint that rolls back everything written once any problem is found.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.orm import Session

from crm_store.audit import record_audit
from crm_store.bulk import allocate_ids, insert_columns
from crm_store.customer_csv.rows import BATCH_SIZE, CustomerRow, RowProblem, checked_batches
from crm_store.db import savepoint
from crm_store.forked import produced_in_child_process
from crm_store.models import Channel, ChannelIdentity, Customer, CustomerTag

Progress = Callable[[int], None]


class ImportFailed(ValueError):
    """The file has problems; nothing was imported. `problems` lists each with its line."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the file; nothing was imported")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    skipped_existing: int


def _existing_addresses(session: Session, channel: Channel, addresses: list[str]) -> dict[str, int]:
    """Which of `addresses` the store already has on `channel`, and whose they are."""
    query = select(ChannelIdentity.address, ChannelIdentity.customer_id).where(
        ChannelIdentity.channel == channel
    )
    # PostgreSQL takes each chunk as one array parameter; SQLite takes bound values,
    # and caps how many.
    postgresql = session.get_bind().dialect.name == "postgresql"
    in_array = ChannelIdentity.address == any_(bindparam("addresses", type_=ARRAY(String)))
    size = 50_000 if postgresql else 500
    found: dict[str, int] = {}
    for start in range(0, len(addresses), size):
        chunk = addresses[start : start + size]
        if postgresql:
            rows = session.execute(query.where(in_array), {"addresses": chunk})
        else:
            rows = session.execute(query.where(ChannelIdentity.address.in_(chunk)))
        found.update((address, customer_id) for address, customer_id in rows)
    return found


def import_customers(
    session: Session,
    stream: IO[str],
    *,
    region: str,
    default_timezone: str,
    actor: str,
    skip_existing: bool = False,
    on_checked: Progress | None = None,
    on_written: Progress | None = None,
) -> ImportResult:
    """Import customers from a CSV stream into `session`'s transaction: all or nothing.

    The file is checked and written a batch at a time, so memory stays flat however
    long it is. From its second batch on, a child process checks the rows while this
    one writes the batch before; after the first problem nothing more is written, the
    rest is only checked, and the rows already written are rolled back.

    `on_checked` is called with the number of rows checked, `on_written` with the
    number written, as the work goes on (for a progress bar).

    Raises:
        ImportFailed: with every problem found; nothing has been added to the session.
    """
    batches = checked_batches(
        stream, region=region, default_timezone=default_timezone, batch_size=BATCH_SIZE
    )
    problems: list[RowProblem] = []
    imported = skipped = 0
    with ExitStack() as stack:
        first = next(batches)
        rest = batches
        if first.checked == BATCH_SIZE:  # more may follow: check them alongside
            rest = stack.enter_context(produced_in_child_process(batches, name="row checker"))
        stack.enter_context(savepoint(session))
        for batch in itertools.chain([first], rest):
            if on_checked is not None:
                on_checked(batch.checked)
            problems.extend(batch.problems)
            rows, clashes = _leave_out_existing(session, batch.rows, skip_existing=skip_existing)
            problems.extend(clashes)
            skipped += len(batch.rows) - len(rows)
            if problems or not rows:
                continue
            _insert_batch(session, rows)
            imported += len(rows)
            if on_written is not None:
                on_written(len(rows))
        if problems:  # raised inside the savepoint, which rolls back what was written
            raise ImportFailed(sorted(problems, key=lambda p: p.line))
        record_audit(
            session,
            actor=actor,
            action="customers.import",
            details={"imported": imported, "skipped_existing": skipped},
        )
    return ImportResult(imported=imported, skipped_existing=skipped)


def _leave_out_existing(
    session: Session, rows: list[CustomerRow], *, skip_existing: bool
) -> tuple[list[CustomerRow], list[RowProblem]]:
    """`rows` without those whose phone or chat id the store already has, and a problem
    for each such row unless `skip_existing`."""
    existing = {
        Channel.SMS: _existing_addresses(session, Channel.SMS, [r.phone for r in rows if r.phone]),
        Channel.TELEGRAM: _existing_addresses(
            session, Channel.TELEGRAM, [r.telegram_chat_id for r in rows if r.telegram_chat_id]
        ),
    }
    if not existing[Channel.SMS] and not existing[Channel.TELEGRAM]:
        return rows, []
    kept: list[CustomerRow] = []
    problems: list[RowProblem] = []
    for row in rows:
        clashes = [
            (column, address, existing[channel][address])
            for column, channel, address in (
                ("phone", Channel.SMS, row.phone),
                ("telegram_chat_id", Channel.TELEGRAM, row.telegram_chat_id),
            )
            if address is not None and address in existing[channel]
        ]
        if not clashes:
            kept.append(row)
        elif not skip_existing:
            problems.extend(
                RowProblem(
                    row.line,
                    column,
                    f"{address} already belongs to customer {customer_id} "
                    "(use --skip-existing to leave such rows out)",
                )
                for column, address, customer_id in clashes
            )
    return kept, problems


def _insert_batch(session: Session, rows: list[CustomerRow]) -> None:
    now = datetime.now(UTC)
    count = len(rows)
    customer_ids = allocate_ids(session, Customer, count)
    birthdays = [row.birthday for row in rows]
    insert_columns(
        session,
        Customer,
        {
            "id": customer_ids,
            "name": [row.name for row in rows],
            "email": [row.email for row in rows],
            "birthday": birthdays,
            "birth_month": [birthday.month if birthday else None for birthday in birthdays],
            "birth_day": [birthday.day if birthday else None for birthday in birthdays],
            "language": [row.language for row in rows],
            "timezone": [row.timezone for row in rows],
            "tier": [row.tier for row in rows],
            "notes": [row.notes for row in rows],
            "order_count": [0] * count,
            "total_spent": [0] * count,
            "created_at": [now] * count,
            "updated_at": [now] * count,
        },
    )
    owners: list[int] = []
    channels: list[Channel] = []
    addresses: list[str] = []
    consents: list[bool] = []
    for customer_id, row in zip(customer_ids, rows, strict=True):
        for channel, address in (
            (Channel.SMS, row.phone),
            (Channel.TELEGRAM, row.telegram_chat_id),
        ):
            if address is not None:
                owners.append(customer_id)
                channels.append(channel)
                addresses.append(address)
                consents.append(row.marketing_consent)
    identities = len(owners)
    insert_columns(
        session,
        ChannelIdentity,
        {
            "customer_id": owners,
            "channel": channels,
            "address": addresses,
            "marketing_consent": consents,
            "consent_changed_at": [now] * identities,
            "opted_out": [False] * identities,
            "reachable": [True] * identities,
            "created_at": [now] * identities,
        },
    )
    tagged = [
        (customer_id, tag)
        for customer_id, row in zip(customer_ids, rows, strict=True)
        for tag in row.tags
    ]
    insert_columns(
        session,
        CustomerTag,
        {"customer_id": [owner for owner, _ in tagged], "tag": [tag for _, tag in tagged]},
    )

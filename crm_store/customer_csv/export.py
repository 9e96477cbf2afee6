"""Exporting customers as CSV, in the import's columns.

An exported file imports again into an empty store.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.customer_csv.rows import COLUMNS
from crm_store.models import Channel, ChannelIdentity, Customer, CustomerTag


def export_rows(session: Session) -> Iterator[dict[str, str]]:
    """Every customer not erased, as rows with the import's columns."""
    customers = session.scalars(
        select(Customer).where(Customer.erased_at.is_(None)).order_by(Customer.id)
    )
    batch: list[Customer] = []
    for customer in customers:
        batch.append(customer)
        if len(batch) == 1_000:
            yield from _export_batch(session, batch)
            batch = []
    yield from _export_batch(session, batch)


def _export_batch(session: Session, customers: list[Customer]) -> Iterable[dict[str, str]]:
    if not customers:
        return
    ids = [customer.id for customer in customers]
    identities: dict[int, dict[Channel, ChannelIdentity]] = {}
    for identity in session.scalars(
        select(ChannelIdentity)
        .where(ChannelIdentity.customer_id.in_(ids))
        .order_by(ChannelIdentity.id)
    ):
        identities.setdefault(identity.customer_id, {}).setdefault(identity.channel, identity)
    tags: dict[int, list[str]] = {}
    for customer_id, tag in session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag)
        .where(CustomerTag.customer_id.in_(ids))
        .order_by(CustomerTag.tag)
    ):
        tags.setdefault(customer_id, []).append(tag)
    for customer in customers:
        channels = identities.get(customer.id, {})
        phone = channels.get(Channel.SMS)
        telegram = channels.get(Channel.TELEGRAM)
        consent = any(
            identity.marketing_consent and not identity.opted_out for identity in channels.values()
        )
        yield {
            "name": customer.name,
            "phone": phone.address if phone else "",
            "telegram_chat_id": telegram.address if telegram else "",
            "email": customer.email or "",
            "birthday": customer.birthday.isoformat() if customer.birthday else "",
            "language": customer.language.value,
            "timezone": customer.timezone,
            "tier": customer.tier.value,
            "marketing_consent": "yes" if consent else "no",
            "tags": ";".join(tags.get(customer.id, [])),
            "notes": customer.notes or "",
        }


def write_customers_csv(session: Session, stream: IO[str]) -> int:
    """Write every customer to `stream`; returns how many."""
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in export_rows(session):
        writer.writerow(row)
        count += 1
    return count

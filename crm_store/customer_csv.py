"""Importing and exporting customers as CSV.

An import is all or nothing: every row is checked, each problem reported with its line
number, and nothing is kept unless every row is good. The export writes the same
columns, so an exported file imports again into an empty store.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, NamedTuple

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.orm import Session

from crm_store.audit import record_audit
from crm_store.bulk import allocate_ids, insert_columns
from crm_store.customers import zone
from crm_store.db import savepoint
from crm_store.forked import produced_in_child_process
from crm_store.models import Channel, ChannelIdentity, Customer, CustomerTag, Language, Tier
from crm_store.phones import InvalidPhoneNumber, normalize_phone

COLUMNS = (
    "name",
    "phone",
    "telegram_chat_id",
    "email",
    "birthday",
    "language",
    "timezone",
    "tier",
    "marketing_consent",
    "tags",
    "notes",
)
REQUIRED_COLUMNS = ("name",)
LANGUAGE_ALIASES = {
    "zh-tw": Language.ZH_TW,
    "zh_tw": Language.ZH_TW,
    "zh-hant": Language.ZH_TW,
    "zh": Language.ZH_TW,
    "tw": Language.ZH_TW,
    "中文": Language.ZH_TW,
    "en": Language.EN,
    "en-us": Language.EN,
    "en-gb": Language.EN,
    "english": Language.EN,
    "英文": Language.EN,
}
TRUE_WORDS = frozenset({"yes", "y", "true", "1", "是", "同意"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "否", "不同意", ""})
CONSENT_WORDS = TRUE_WORDS | FALSE_WORDS
BATCH_SIZE = 5_000

Progress = Callable[[int], None]


class ImportFailed(ValueError):
    """The file has problems; nothing was imported. `problems` lists each with its line."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the file; nothing was imported")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


class CustomerRow(NamedTuple):
    """One good row of the file, in the store's terms. A named tuple: batches of them
    cross from the checker process to the writer, and tuples pickle several times
    faster than dataclasses."""

    line: int
    name: str
    phone: str | None
    telegram_chat_id: str | None
    email: str | None
    birthday: date | None
    language: Language
    timezone: str
    tier: Tier
    marketing_consent: bool
    tags: tuple[str, ...] = ()
    notes: str | None = None


@dataclass(slots=True)
class CheckedBatch:
    """What checking the next rows of the file found: the good rows and the problems.

    `checked` counts every data row read, good or bad."""

    rows: list[CustomerRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    checked: int = 0


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    skipped_existing: int


def _parse_birthday(text: str, this_year: int) -> date:
    try:
        birthday = date.fromisoformat(text)
    except ValueError:
        birthday = None
    if birthday is None:
        for separator in ("-", "/", "."):
            parts = text.split(separator)
            if len(parts) == 3 and all(part.isdigit() for part in parts):
                year, month, day = (int(part) for part in parts)
                birthday = date(year, month, day)  # raises ValueError on 2023-02-29
                break
        else:
            raise ValueError("expected YYYY-MM-DD")
    if not 1900 <= birthday.year <= this_year:
        raise ValueError(f"year {birthday.year} is out of range")
    return birthday


def _parse_row(
    line: int, values: dict[str, str], *, region: str, default_timezone: str, this_year: int
) -> tuple[CustomerRow | None, list[RowProblem]]:
    """Check one row; `values` maps each known column to its stripped text."""
    problems: list[RowProblem] = []

    def problem(column: str, reason: str) -> None:
        problems.append(RowProblem(line, column, reason))

    name = values["name"]
    if not name:
        problem("name", "is empty")
    elif len(name) > 200:
        problem("name", "is longer than 200 characters")

    phone: str | None = None
    if values["phone"]:
        try:
            phone = normalize_phone(values["phone"], region)
        except InvalidPhoneNumber as error:
            problem("phone", error.reason + f" ({values['phone']!r})")

    chat_id = values["telegram_chat_id"] or None
    if chat_id is not None and not chat_id.lstrip("-").isdigit():
        problem("telegram_chat_id", f"{chat_id!r} is not a Telegram chat id (a whole number)")

    email = values["email"] or None
    if email is not None and ("@" not in email or " " in email or len(email) > 320):
        problem("email", f"{email!r} is not an e-mail address")

    birthday: date | None = None
    if values["birthday"]:
        try:
            birthday = _parse_birthday(values["birthday"], this_year)
        except ValueError as error:
            problem("birthday", f"{values['birthday']!r}: {error}")

    language = Language.ZH_TW
    if values["language"]:
        parsed_language = LANGUAGE_ALIASES.get(values["language"].lower())
        if parsed_language is None:
            problem("language", f"{values['language']!r} is not zh-TW or en")
        else:
            language = parsed_language

    timezone = values["timezone"] or default_timezone
    if zone(timezone).key != timezone:
        problem("timezone", f"{timezone!r} is not an IANA time zone such as Asia/Taipei")

    tier = Tier.STANDARD
    if values["tier"]:
        try:
            tier = Tier(values["tier"].lower())
        except ValueError:
            problem("tier", f"{values['tier']!r} is not one of {', '.join(Tier)}")

    consent_text = values["marketing_consent"].lower()
    if consent_text not in CONSENT_WORDS:
        problem("marketing_consent", f"{values['marketing_consent']!r} is not yes or no")

    tags: tuple[str, ...] = ()
    if values["tags"]:
        tags = tuple(
            sorted({tag.strip() for tag in values["tags"].replace("|", ";").split(";")} - {""})
        )
        if any(len(tag) > 64 for tag in tags):
            problem("tags", "a tag is longer than 64 characters")

    if problems:
        return None, problems
    return (
        CustomerRow(
            line=line,
            name=name,
            phone=phone,
            telegram_chat_id=chat_id,
            email=email,
            birthday=birthday,
            language=language,
            timezone=timezone,
            tier=tier,
            marketing_consent=consent_text in TRUE_WORDS,
            tags=tags,
            notes=values["notes"] or None,
        ),
        [],
    )


def checked_batches(
    stream: IO[str], *, region: str, default_timezone: str, batch_size: int = BATCH_SIZE
) -> Iterator[CheckedBatch]:
    """Parse and check a customer CSV, `batch_size` data rows at a time.

    A row whose phone or chat id is already on an earlier line is a problem, and left
    out of the good rows. The last batch may hold fewer rows, or none."""
    reader = csv.reader(stream)
    try:
        header = [column.strip() for column in next(reader, [])]
    except (UnicodeDecodeError, csv.Error) as error:
        yield CheckedBatch(problems=[RowProblem(1, None, f"cannot read the header: {error}")])
        return
    header_problems = _header_problems(header)
    if header_problems:
        yield CheckedBatch(problems=header_problems)
        return

    checker = _RowChecker(header, region=region, default_timezone=default_timezone)
    batch = CheckedBatch()
    line = 1
    try:
        for record in reader:
            line = reader.line_num
            if not record:
                continue
            checker.check(line, record, batch)
            if batch.checked == batch_size:
                yield batch
                batch = CheckedBatch()
    except (UnicodeDecodeError, csv.Error) as error:
        batch.problems.append(RowProblem(line + 1, None, f"cannot read the file: {error}"))
    yield batch


def _header_problems(header: list[str]) -> list[RowProblem]:
    if not header:
        return [RowProblem(1, None, "the file is empty; expected a header row")]
    return [
        RowProblem(1, column, "unknown column; expected some of: " + ", ".join(COLUMNS))
        for column in header
        if column not in COLUMNS
    ] + [
        RowProblem(1, column, "required column is missing")
        for column in REQUIRED_COLUMNS
        if column not in header
    ]


class _RowChecker:
    """Checks the data rows of one file, remembering each phone and chat id's first line."""

    def __init__(self, header: list[str], *, region: str, default_timezone: str) -> None:
        self.header = header
        self.absent = {column: "" for column in COLUMNS if column not in header}
        self.region = region
        self.default_timezone = default_timezone
        self.this_year = datetime.now(UTC).year
        self.first_line_of: dict[tuple[str, str], int] = {}

    def check(self, line: int, record: list[str], batch: CheckedBatch) -> None:
        """Check one row into `batch`: the row, if good, or its problems."""
        batch.checked += 1
        width = len(self.header)
        if len(record) > width:
            batch.problems.append(RowProblem(line, None, "more fields than columns in the header"))
            return
        record.extend([""] * (width - len(record)))
        values = dict(zip(self.header, map(str.strip, record), strict=True))
        values.update(self.absent)
        row, problems = _parse_row(
            line,
            values,
            region=self.region,
            default_timezone=self.default_timezone,
            this_year=self.this_year,
        )
        if row is not None:
            problems = self._duplicates(row)
            if not problems:
                batch.rows.append(row)
        batch.problems.extend(problems)

    def _duplicates(self, row: CustomerRow) -> list[RowProblem]:
        problems = []
        for column, address in (("phone", row.phone), ("telegram_chat_id", row.telegram_chat_id)):
            if address is None:
                continue
            earlier = self.first_line_of.setdefault((column, address), row.line)
            if earlier != row.line:
                problems.append(
                    RowProblem(row.line, column, f"{address} is already on line {earlier}")
                )
        return problems


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

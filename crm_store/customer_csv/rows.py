"""Reading and checking the rows of a customer CSV file.

Every row is checked on its own (each column's text turned into the store's terms) and
against the rows before it (a phone or chat id may be on one line only); each problem
carries its line number and column. Nothing here touches the store: the checker runs in
a child process during an import, and `CheckedBatch`es cross back to the writer.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, NamedTuple

from crm_store.customers import zone
from crm_store.models import Language, Tier
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

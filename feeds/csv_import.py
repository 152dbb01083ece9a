"""Reading an import file (CSV) and reporting what an import did or would do; shared by
the children's (feeds/records/importing.py) and people's (feeds/organisation/importing.py)
imports.

A file is refused whole, with one clear message, when it is not UTF-8 CSV, is too big, or
its header row does not name the documented columns. Otherwise every row is checked and
every problem reported with its line number; an import applies only when no row was
refused, in one transaction, so nothing is ever half-imported.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar

from feeds.errors import Invalid

if TYPE_CHECKING:
    from feeds.audit.records import AuditContext
    from feeds.models import Professional

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
MAX_FIELD = 10_000  # characters in one cell; no column holds anything near it
MIN_REASON, MAX_REASON = 10, 500
FIELD = "file"
STEP = 1_000  # rows between progress reports
CHECKING = "Checking rows"

Progress = Callable[[str, int, int], None]  # (stage, done, total), e.g. a progress bar


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: nobody is watching."""


class Importer(Protocol):
    """`do_import_children` and `do_import_people`."""

    async def __call__(
        self,
        actor: Professional,
        data: bytes,
        reason: object,
        ctx: AuditContext,
        *,
        dry_run: bool = False,
        progress: Progress = no_progress,
    ) -> Report: ...


class Outcome(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on, and its cells by (lower-case) column name;
    only the columns the file has are present."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class RowResult:
    line: int
    key: str  # the row's reference or email, as the file spells it
    outcome: Outcome
    detail: str = ""  # the fields that change, or why the row is refused


@dataclass
class Report:
    """What an import did (or, on a dry run, would do), row by row."""

    kind: str  # "children" or "people"
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    applied: bool = False
    sha256: str = ""

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(row.outcome for row in self.rows)
        return {outcome.value: found.get(outcome, 0) for outcome in Outcome}

    @property
    def refused(self) -> list[RowResult]:
        return [row for row in self.rows if row.outcome == Outcome.REFUSED]

    def summary(self) -> str:
        counts = self.counts
        return ", ".join(f"{counts[o.value]} {o.value}" for o in Outcome)


class Checked(Protocol):
    """A row that passed its checks: what it would change (nothing: unchanged)."""

    @property
    def changes(self) -> object: ...


C = TypeVar("C", bound=Checked)


async def check_all(
    rows: list[Row],
    check: Callable[[Row], RowResult | C],
    result_of: Callable[[C], RowResult],
    report: Report,
    progress: Progress,
) -> list[C]:
    """Check every row in file order, reporting progress and each row's result (then sorted
    by line, with the file's own refusals); returns the rows that change something.
    Every STEP rows it lets other work run (a server answering others meanwhile)."""
    changing: list[C] = []
    for n, row in enumerate(rows, 1):
        if n % STEP == 0 or n == len(rows):
            progress(CHECKING, n, len(rows))
            await asyncio.sleep(0)
        found = check(row)
        if isinstance(found, RowResult):
            report.rows.append(found)
            continue
        report.rows.append(result_of(found))
        if found.changes:
            changing.append(found)
    report.rows.sort(key=lambda r: r.line)
    return changing


def check_reason(value: object) -> str:
    """Why the import is made: it goes into every audit record the import writes."""
    text = value.strip() if isinstance(value, str) else ""
    if not MIN_REASON <= len(text) <= MAX_REASON or not text.isprintable():
        raise Invalid(
            f"Give a reason for the import ({MIN_REASON} to {MAX_REASON} characters).",
            field="reason",
        )
    return text


def _text(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise Invalid(
            f"The file is too big: at most {MAX_FILE_BYTES // (1024 * 1024)} MiB "
            f"({len(data):,} bytes given). Split it into several files.",
            field=FIELD,
        )
    if not data.strip():
        raise Invalid("The file is empty: it needs a header row and at least one row.", field=FIELD)
    if b"\x00" in data:
        raise Invalid("This is not a CSV file (it holds binary data).", field=FIELD)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "The file is not UTF-8 text: save it as CSV (UTF-8) and try again.", field=FIELD
        ) from None


def _header(names: list[str], columns: Columns) -> list[str]:
    header = [name.strip().lower() for name in names]
    expected = "Expected columns: " + ", ".join(columns.required)
    if columns.optional:
        expected += " (and optionally " + ", ".join(columns.optional) + ")"
    doubled = sorted(name for name, n in Counter(header).items() if n > 1)
    if doubled:
        raise Invalid(f"The header row names the column {doubled[0]} twice.", field=FIELD)
    unknown = [name for name in header if name not in columns.all]
    if unknown:
        raise Invalid(f"Unknown column: {unknown[0] or '(blank)'}. {expected}.", field=FIELD)
    missing = [name for name in columns.required if name not in header]
    if missing:
        raise Invalid(f"Missing column: {', '.join(missing)}. {expected}.", field=FIELD)
    return header


def read_rows(data: bytes, columns: Columns) -> tuple[list[Row], list[RowResult]]:
    """The file's data rows, and the rows refused for their shape (a wrong number of
    cells); Invalid (field "file") when the file as a whole cannot be read."""
    reader = csv.reader(io.StringIO(_text(data), newline=""), strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    bad: list[RowResult] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank lines between rows
            if header is None:
                header = _header(cells, columns)
                continue
            if len(rows) + len(bad) >= MAX_ROWS:
                raise Invalid(f"The file has more than {MAX_ROWS:,} rows: split it.", field=FIELD)
            if len(cells) != len(header):
                detail = f"has {len(cells)} cells; the header row has {len(header)}"
                bad.append(RowResult(start, cells[0].strip()[:64], Outcome.REFUSED, detail))
                continue
            if any(len(cell) > MAX_FIELD for cell in cells):
                detail = f"a cell is longer than {MAX_FIELD:,} characters"
                bad.append(RowResult(start, cells[0].strip()[:64], Outcome.REFUSED, detail))
                continue
            rows.append(Row(start, dict(zip(header, cells, strict=True))))
    except csv.Error as error:
        raise Invalid(f"Line {line}: this is not valid CSV ({error}).", field=FIELD) from None
    if header is None:
        raise Invalid("The file is empty: it needs a header row and at least one row.", field=FIELD)
    return rows, bad


def digest(data: bytes) -> str:
    """The file's SHA-256 (the audit record names the exact file imported)."""
    return hashlib.sha256(data).hexdigest()


class RowErrors:
    """Problems found in one row, joined into one line of the report."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, column: str, message: str) -> None:
        self.messages.append(f"{column}: {message}")

    def __bool__(self) -> bool:
        return bool(self.messages)

    def text(self) -> str:
        return "; ".join(self.messages)

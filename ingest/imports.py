"""Reading export files for ``manage.py import_events``.

NDJSON (``.ndjson``/``.jsonl``), JSON (an array or ``{"events": [...]}``) and CSV (OpenRouter's
activity export), optionally gzipped, as spreadsheets save them: a UTF-8 byte-order mark and
CRLF line ends are fine. Every item remembers where it came from, so a rejection names the
file's own line and column (``line 7: tokens_prompt: must be a whole number``), not an
internal field and a 0-based event number.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ingest.events import Rejection, loads

FORMATS = {"csv": "csv", "ndjson": "ndjson", "jsonl": "ndjson", "json": "json"}

# Activity CSV export column -> generation record field.
CSV_COLUMNS = {
    "generation_id": "id",
    "cost_total": "total_cost",
    "tokens_reasoning": "native_tokens_reasoning",
    "tokens_cached": "native_tokens_cached",
    "model_permaslug": "model",
    "finish_reason_normalized": "finish_reason",
    "generation_time_ms": "generation_time",
    "time_to_first_token_ms": "latency",  # OpenRouter's latency is the time to the first token
}


def from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    """Map an activity CSV export row onto generation-record field names."""
    return {CSV_COLUMNS.get(column, column): value for column, value in row.items() if value != ""}


def csv_field_columns(header: list[str]) -> dict[str, str]:
    """Generation-record field -> the export's own column, for the columns ``header`` renames
    (so a rejection names ``generation_id``, not ``id``)."""
    return {CSV_COLUMNS[column]: column for column in header if column in CSV_COLUMNS}


class SourceError(ValueError):
    """The file as a whole cannot be read (wrong format, not UTF-8, corrupt gzip, bad JSON)."""


_FIX_QUOTE = "Fix the quote and import the file again: what was imported counts as duplicates."


class _FirstLines:
    """The lines of a text, keeping the one numbered :attr:`keep` (a row's first line: the
    CSV reader reads a runaway quoted cell on far past it)."""

    def __init__(self, text: IO[str]) -> None:
        self._lines = iter(text)
        self.number, self.keep, self.kept = 0, 0, ""

    def __iter__(self) -> _FirstLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        if self.number == self.keep:
            self.kept = line
        return line


def _stray_quote(header: list[str], row: list[str]) -> str | None:
    """The column of a cell that a stray quote ran on into other cells or lines: one holding
    a line break and as many commas as a row has, or the last cell of a short row holding a
    comma or a line break (the quote reached the end of the file). A text may hold a line
    break when quoted, never another row."""
    for column, cell in zip(header, row, strict=False):
        if ("\n" in cell or "\r" in cell) and cell.count(",") >= len(header) - 1:
            return column
    last = row[-1] if row else ""
    if len(row) < len(header) and ("," in last or "\n" in last or "\r" in last):
        return header[len(row) - 1]
    return None


class ExportFile:
    """One file being imported: its items, where each came from, and how far reading got."""

    def __init__(self, path: Path):
        self.path = path
        self.kind = FORMATS.get(path.name.removesuffix(".gz").rsplit(".", 1)[-1].lower(), "")
        if not self.kind:
            raise SourceError(f"{path}: unknown format (use .csv, .ndjson, .jsonl or .json, optionally .gz)")
        self.size = path.stat().st_size
        self.columns: dict[str, str] = {}  # event field -> the file's own column (CSV)
        self._raw: IO[bytes] | None = None
        # Line of each item, kept as (first item index, line - index) wherever the difference
        # changes (blank lines, quoted newlines): a few entries, not one per row.
        self._starts: list[int] = []
        self._offsets: list[int] = []
        self._reader_errors: dict[int, str] = {}

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for .gz): the progress measure."""
        return self._raw.tell() if self._raw is not None and not self._raw.closed else self.size

    def line_of(self, index: int) -> int | None:
        if not self._starts:
            return None
        n = bisect.bisect_right(self._starts, index) - 1
        return index + self._offsets[n] if n >= 0 else None

    def _at(self, index: int, line: int) -> None:
        if not self._offsets or self._offsets[-1] != line - index:
            self._starts.append(index)
            self._offsets.append(line - index)

    def items(self) -> Iterator[Any]:
        """The file's events as dicts (generation-record field names), in file order."""
        with self.path.open("rb") as raw:
            self._raw = raw
            binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if self.path.suffix == ".gz" else raw
            # utf-8-sig drops a byte-order mark; newline="" leaves CRLF to the csv module.
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            try:
                yield from {"csv": self._csv, "ndjson": self._ndjson, "json": self._json}[self.kind](text)
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"{self.path}: not UTF-8 text ({exc.reason}); save it as UTF-8 (Excel: 'CSV UTF-8')"
                ) from exc
            except (OSError, EOFError, zlib.error) as exc:
                raise SourceError(f"{self.path}: cannot be read: {exc}") from exc
            except csv.Error as exc:
                raise SourceError(f"{self.path}: not a valid CSV file: {exc}") from exc

    def _csv(self, text: IO[str]) -> Iterator[dict[str, Any] | None]:
        lines = _FirstLines(text)
        reader = csv.reader(lines)
        header = [column.strip() for column in next(reader, [])]
        self.columns = csv_field_columns(header)
        index, previous_end = 0, reader.line_num
        while True:
            start = lines.keep = previous_end + 1
            try:
                row = next(reader, None)
            except csv.Error as exc:
                if "field larger than field limit" not in str(exc):
                    raise
                # A quote never closed reads every line after it into one cell, until the
                # cell passes the reader's limit: nothing after it can be read. Its column
                # is the last of the row's first line read alone.
                cells = next(csv.reader([lines.kept]), [""])
                column = header[min(len(cells), len(header)) - 1]
                self._at(index, start)
                self._reader_errors[index] = (
                    f"a quote opens the {column!r} cell and is not closed: the lines after it were "
                    f"read as that cell until it passed {csv.field_size_limit():,} characters, and "
                    f"the rest of the file was not read. {_FIX_QUOTE}"
                )
                yield None
                return
            if row is None:
                return
            previous_end = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank line
            self._at(index, start)
            if len(row) > len(header):
                self._reader_errors[index] = f"{len(row)} cells but the header has {len(header)} columns"
                yield None
            elif (column := _stray_quote(header, row)) is not None:
                taken = f"lines {start}-{previous_end}" if previous_end > start else "the rest of the line"
                self._reader_errors[index] = (
                    f"a quote opens the {column!r} cell and is not closed where the cell ends: "
                    f"{taken} {'were' if previous_end > start else 'was'} read as that one cell. {_FIX_QUOTE}"
                )
                yield None
            else:
                yield from_csv_row(dict(zip(header, row, strict=False)))
            index += 1

    def _ndjson(self, text: IO[str]) -> Iterator[Any]:
        index = 0
        for lineno, line in enumerate(text, start=1):
            if not line.strip():
                continue
            self._at(index, lineno)
            try:
                yield loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                self._reader_errors[index] = f"invalid JSON: {getattr(exc, 'msg', 'nested too deeply')}"
                yield None
            index += 1

    def _json(self, text: IO[str]) -> Iterator[Any]:
        try:
            document = loads(text.read())
        except (json.JSONDecodeError, RecursionError) as exc:
            where = (
                f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            )
            raise SourceError(f"{self.path}: invalid JSON{where}") from exc
        events = document.get("events") if isinstance(document, dict) else document
        if not isinstance(events, list):
            raise SourceError(f'{self.path}: expected a JSON array of events or {{"events": [...]}}')
        yield from events

    def describe(self, rejection: Rejection) -> str:
        """A rejection in the file's terms: where (line, or item of a JSON array), which id,
        and each error under the file's own column name."""
        line = self.line_of(rejection.index)
        where = f"line {line}" if line is not None else f"item {rejection.index + 1}"
        if rejection.id is not None:
            where += f" ({self.columns.get('id', 'id')} {rejection.id})"
        reader_error = self._reader_errors.get(rejection.index)
        if reader_error:
            return f"{where}: {reader_error}"
        problems = "; ".join(
            message if field == "event" else f"{self.columns.get(field, field)}: {message}"
            for field, message in rejection.errors.items()
        )
        return f"{where}: {problems}"


class Progress:
    """A progress bar in bytes of the file (so its ETA is right before the row count is known)
    that shows rows and rows per second; updated after each committed chunk."""

    def __init__(self, source: ExportFile, *, enabled: bool | None, stream: IO[str] | None = None):
        from tqdm import tqdm

        self.source = source
        self.rows = 0
        self.started = time.monotonic()
        self.bar = tqdm(
            total=max(source.size, 1),
            desc=source.path.name,
            unit="B",
            unit_scale=True,
            file=stream,
            disable=None if enabled is None else not enabled,  # None: on a terminal only
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed} elapsed, ETA {remaining}]",
        )

    def __call__(self, rows: int) -> None:
        self.rows += rows
        rate = self.rows / max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.rows:,} rows, {rate:,.0f} rows/s", refresh=False)
        self.bar.update(max(0, min(self.source.position(), self.bar.total) - self.bar.n))

    def close(self) -> None:
        self.bar.close()

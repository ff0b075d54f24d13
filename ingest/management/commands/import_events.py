import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingest.events import from_csv_row, loads
from ingest.services import IMPORT_CHUNK_EVENTS, import_events


def _open(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8")
    return path.open(encoding="utf-8", newline="")


def read_file(path: Path) -> Iterator[Any]:
    """Events from NDJSON (.ndjson/.jsonl), JSON (array or {"events": [...]}) or CSV
    (OpenRouter's activity export columns), optionally gzipped."""
    kind = path.name.removesuffix(".gz").rsplit(".", 1)[-1].lower()
    with _open(path) as handle:
        if kind == "csv":
            for row in csv.DictReader(handle):
                yield from_csv_row(row)
        elif kind in ("ndjson", "jsonl"):
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield loads(line)
                    except json.JSONDecodeError:
                        yield {"_line": lineno}  # rejected by validation, keeps counting going
        elif kind == "json":
            document = loads(handle.read())
            yield from document["events"] if isinstance(document, dict) else document
        else:
            raise CommandError(f"{path}: unknown format (use .ndjson, .jsonl, .json or .csv)")


class Command(BaseCommand):
    help = "Import usage events from NDJSON, JSON or CSV files through the bulk (COPY) path."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument(
            "--chunk-size", type=int, default=IMPORT_CHUNK_EVENTS, help="events per transaction"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, files, chunk_size, quiet, **options):
        failed = False
        for path in files:
            if not path.exists():
                raise CommandError(f"{path}: no such file")
            with tqdm(desc=path.name, unit=" events", disable=quiet) as bar:
                totals = import_events(read_file(path), chunk_size=chunk_size, progress=bar.update)
            self.stdout.write(
                f"{path}: {totals.accepted} accepted, {totals.duplicates} duplicates, "
                f"{totals.rejected} rejected"
            )
            for rejection in totals.errors[:10]:
                self.stderr.write(f"  event {rejection.index} ({rejection.id}): {rejection.errors}")
            failed = failed or totals.rejected > 0
        if failed:
            raise CommandError("some events were rejected (see above); the valid ones are imported")

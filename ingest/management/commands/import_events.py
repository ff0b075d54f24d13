import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ingest.imports import ExportFile, Progress, SourceError
from ingest.services import IMPORT_CHUNK_EVENTS, ImportStopped, import_events

# Exit codes (docs/operations.md): a cron job can tell "all good" from "partly" from "failed".
EXIT_OK = 0
EXIT_FAILED = 1  # a file could not be read, the database failed, or no row of a file was valid
EXIT_PARTIAL = 3  # some rows were rejected, the valid rest is imported (0 with --allow-rejects)
SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import usage events from export files through the bulk (COPY) path: OpenRouter's activity "
        'CSV export, NDJSON/JSONL or JSON (array or {"events": [...]}), optionally gzipped; a UTF-8 '
        "byte-order mark and CRLF line ends are fine. Re-importing a file counts nothing twice. A CSV "
        "row with an app_name but no origin counts for that app (the app of the same title that has a "
        "URL, when there is exactly one). Exit status: 0 every row imported (or already there), "
        f"{EXIT_PARTIAL} some rows rejected and the rest imported, {EXIT_FAILED} failure (unreadable "
        "file, database error, or a file with no valid row or none at all); 2 for a usage error."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, help="files to import, in order")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=IMPORT_CHUNK_EVENTS,
            help=f"events per transaction (default {IMPORT_CHUNK_EVENTS:,}); an interrupted import keeps "
            "the chunks committed before, and a rerun skips them as duplicates",
        )
        parser.add_argument(
            "--allow-rejects",
            action="store_true",
            help=f"exit 0 instead of {EXIT_PARTIAL} when some rows are rejected (cron jobs that only "
            "want to hear about failures); rejected rows are still listed on stderr",
        )
        parser.add_argument(
            "--quiet", action="store_true", help="no progress bar (it is shown only on a terminal anyway)"
        )

    def handle(self, *args, files: list[Path], chunk_size: int, allow_rejects: bool, quiet: bool, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1", returncode=2)
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise CommandError(f"no such file: {', '.join(missing)}", returncode=EXIT_FAILED)
        failed = partial = False
        for path in files:
            outcome = self._import(path, chunk_size, quiet)
            failed |= outcome == EXIT_FAILED
            partial |= outcome == EXIT_PARTIAL
        if failed:
            others = "; the other files were imported" if len(files) > 1 else ""
            raise CommandError(f"import failed (see above){others}", returncode=EXIT_FAILED)
        if partial and not allow_rejects:
            raise CommandError(
                "some rows were rejected (listed above); the valid rows are imported. "
                "Fix and re-import the file (imported rows count once), or pass --allow-rejects.",
                returncode=EXIT_PARTIAL,
            )

    def _import(self, path: Path, chunk_size: int, quiet: bool) -> int:
        try:
            source = ExportFile(path)
        except SourceError as exc:
            self.stderr.write(str(exc))
            return EXIT_FAILED
        progress = Progress(source, enabled=False if quiet else None, stream=sys.stderr)
        try:
            totals = import_events(
                source.items(), chunk_size=chunk_size, progress=progress, titles_are_apps=source.kind == "csv"
            )
        except ImportStopped as stopped:  # the file is unreadable part way: what was read is counted
            progress.close()
            totals = stopped.totals
            self.stderr.write(
                f"{_about(path, stopped.__cause__)}; the {totals.accepted:,} rows read before it are imported "
                f"({totals.duplicates:,} were already there, {totals.rejected:,} rejected): re-import the "
                "whole file once it is fixed (imported rows count once)"
            )
            return EXIT_FAILED
        except DatabaseError as exc:
            progress.close()
            self.stderr.write(f"{path}: {exc}; chunks of {chunk_size:,} rows written before it are kept")
            return EXIT_FAILED
        except KeyboardInterrupt:
            progress.close()
            self.stderr.write(
                f"{path}: interrupted; chunks written before it are kept: run the import again to finish "
                "(imported rows count once)"
            )
            raise CommandError("interrupted", returncode=130) from None
        progress.close()
        self.stdout.write(
            f"{path}: {totals.accepted:,} imported, {totals.duplicates:,} "
            f"duplicate{'' if totals.duplicates == 1 else 's'}, "
            f"{totals.rejected:,} rejected"
        )
        for rejection in totals.errors[:SHOWN_ERRORS]:
            self.stderr.write(f"  {path.name} {source.describe(rejection)}")
        if totals.rejected > SHOWN_ERRORS:
            self.stderr.write(f"  … and {totals.rejected - SHOWN_ERRORS:,} more rejected rows")
        if not (totals.accepted or totals.duplicates):
            self.stderr.write(f"{path}: {'no valid row' if totals.rejected else 'no rows'}; is it the right file?")
            return EXIT_FAILED
        return EXIT_PARTIAL if totals.rejected else EXIT_OK


def _about(path: Path, error: BaseException | None) -> str:
    """An error about ``path``, naming it once (a source error's message may name it already)."""
    text = str(error)
    return text if text.startswith(str(path)) else f"{path}: {text}"

from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from config.backup import BackupError, dump


class Command(BaseCommand):
    help = (
        "Back up the whole database (catalog, rollups, raw events, inbox, keys, accounts) to one "
        "pg_dump custom-format file, with the client tools that match the server (the embedded "
        "PostgreSQL 16's own, or the system's for an external server). Safe while Tokenrank runs. "
        "Restore with `manage.py restore FILE --yes`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            help="file to write, or a folder for tokenrank-<UTC timestamp>.dump (default: that name in "
            "the current folder); written to FILE.partial first, so a failed backup never leaves a "
            "truncated FILE",
        )
        parser.add_argument(
            "--pg-bin",
            type=Path,
            metavar="FOLDER",
            help="take pg_dump and pg_restore from this folder only (default: the best match found)",
        )

    def handle(self, *args, output: Path | None, pg_bin: Path | None, **options):
        name = f"tokenrank-{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}.dump"
        output = output / name if output and output.is_dir() else output or Path(name)
        if output.exists():
            raise CommandError(f"{output} exists already; pick another --output")
        server = connection.pg_version // 10000
        try:
            entries = dump(connection.settings_dict, server, output, pg_bin)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up {connection.settings_dict['NAME']} (PostgreSQL {server}) to {output}: "
            f"{output.stat().st_size:,} bytes, {entries} archive entries."
        )

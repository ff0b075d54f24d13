from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from config.backup import BackupError, restore
from config.celery import app as celery_app
from rankings.cache import bump_generation


class Command(BaseCommand):
    help = (
        "Replace the whole database with a backup made by `manage.py backup`, in one transaction (all "
        "or nothing). Stop the web, worker and beat processes first: the command refuses while Celery "
        "workers answer. Works on a new, empty database too (create it first). Afterwards run "
        "`manage.py migrate` (a backup from an older version) and `manage.py verify_rollups`."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a backup file (pg_dump custom format)")
        parser.add_argument(
            "--yes", action="store_true", help="confirm: every table of the database is replaced"
        )
        parser.add_argument(
            "--ignore-workers",
            action="store_true",
            help="restore even though Celery workers answer (they may write into the restored data)",
        )
        parser.add_argument(
            "--pg-bin",
            type=Path,
            metavar="FOLDER",
            help="take pg_restore from this folder only (default: the best match found)",
        )

    def handle(self, *args, file: Path, yes: bool, ignore_workers: bool, pg_bin: Path | None, **options):
        name = connection.settings_dict["NAME"]
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        if not yes:
            raise CommandError(f"this replaces every table of database {name!r} with {file}; add --yes")
        if not ignore_workers and (workers := self._running_workers()):
            raise CommandError(
                f"Celery workers are running ({', '.join(workers)}): stop web, workers and beat first "
                "(or pass --ignore-workers)"
            )
        server = connection.pg_version // 10000
        connection.close()  # pg_restore drops the tables; keep no session of ours in its way
        try:
            restore(connection.settings_dict, server, file, pg_bin)
        except BackupError as exc:
            raise CommandError(f"{exc}\nNothing was changed (the restore is one transaction).") from exc
        bump_generation()  # cached pages show the restored numbers
        self.stdout.write(
            f"Restored {file} into {name}. Next: `manage.py migrate`, then `manage.py verify_rollups`."
        )

    @staticmethod
    def _running_workers() -> list[str]:
        try:
            return sorted(name for reply in celery_app.control.ping(timeout=1.0) or [] for name in reply)
        except Exception:  # broker unreachable: no worker can be taking work either
            return []

"""Publish daily snapshots now (beat does it on its own): the due days, or one ``--day``."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError

from rankings import snapshots


class Command(BaseCommand):
    help = "Publish the daily ranking snapshots that are due (or one --day YYYY-MM-DD that has closed)."

    def add_arguments(self, parser):
        parser.add_argument("--day", type=date.fromisoformat, help="A closed UTC day, YYYY-MM-DD.")

    def handle(self, *args, day: date | None = None, **options):
        if day is not None:
            if day >= datetime.now(UTC).date():
                raise CommandError(f"{day} has not closed yet.")
            written = [day.isoformat()] if snapshots.write(day) is not None else []
        else:
            written = snapshots.write_due()
        if not written:
            self.stdout.write("Nothing to publish (published snapshots are never rewritten).")
        for folder in written:
            self.stdout.write(f"Published {folder}")

from datetime import date

from django.core.management.base import BaseCommand

from ingest.maintenance import rebuild_rollups


class Command(BaseCommand):
    help = "Recompute rollups from raw events (from --since, at most the retention window back)."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=date.fromisoformat, help="first day, YYYY-MM-DD (UTC)")
        parser.add_argument("--until", type=date.fromisoformat, help="last day (default: today)")

    def handle(self, *args, since, until, **options):
        first, last = rebuild_rollups(since, until, progress=self._progress)
        self.stdout.write(f"Rollups rebuilt for {first} to {last}.")

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            self.stderr.write(f"  {done}/{total} days")

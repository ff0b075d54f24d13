from datetime import date

from django.core.management.base import BaseCommand

from ingest.services import rebuild_rollups


class Command(BaseCommand):
    help = "Recompute rollups from raw events (from --since, at most the retention window back)."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (UTC)")

    def handle(self, *args, since, **options):
        used = rebuild_rollups(since)
        self.stdout.write(f"Rollups rebuilt from {used} on.")

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from ingest.maintenance import verify_rollups


class Command(BaseCommand):
    help = "Compare rollups with raw events; exits non-zero on any difference."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (UTC)")

    def handle(self, *args, since, **options):
        used, mismatches = verify_rollups(since)
        for m in mismatches:
            self.stderr.write(f"{m.table} {m.key}: rollup={m.rollup} raw={m.raw}")
        if mismatches:
            raise CommandError(f"{len(mismatches)} rollup rows differ from raw events since {used}")
        self.stdout.write(f"Rollups match raw events since {used}.")

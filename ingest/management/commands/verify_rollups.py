from datetime import date

from django.core.management.base import CommandError

from ingest.maintenance import verify_rollups
from ingest.management.commands._range import RangeCommand


class Command(RangeCommand):
    help = (
        "Compare every rollup table with the raw events for a range of days of the rollups' zone (weekly "
        "tables with their daily table; the narrow ones from the first day they hold whole since "
        "change_time_zone). Exit status 1 when rows differ (listed, up to 50 per table; `rebuild_rollups` "
        "with the same range repairs them), 0 when they match."
    )

    def handle_range(self, first: date, last: date) -> None:
        _, mismatches = verify_rollups(first, last)
        for m in mismatches:
            self.stderr.write(f"{m.table} {m.key}: rollup={m.rollup} raw={m.raw}")
        if mismatches:
            raise CommandError(f"{len(mismatches)} rollup rows differ from raw events from {first} to {last}")
        self.stdout.write(f"Rollups match raw events from {first} to {last}.")

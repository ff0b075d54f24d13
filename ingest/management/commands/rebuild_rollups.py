from datetime import date

from ingest.maintenance import rebuild_rollups
from ingest.management.commands._range import RangeCommand


class Command(RangeCommand):
    help = (
        "Recompute every rollup table from the raw events for a range of days of the rollups' zone, one transaction "
        "per day (ingest waits on each day); days before the raw events' retention window keep theirs. Exit status 0 when done."
    )

    def handle_range(self, first: date, last: date) -> None:
        rebuild_rollups(first, last, progress=self._progress)
        self.stdout.write(f"Rollups rebuilt for {first} to {last}.")

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            self.stderr.write(f"  {done}/{total} days")

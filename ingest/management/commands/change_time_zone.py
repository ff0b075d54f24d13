from django.core.management.base import BaseCommand, CommandError

from ingest.maintenance import change_time_zone
from ingest.rollups import zones


class Command(BaseCommand):
    help = (
        "Rebuild the date rollups (days, weeks, the narrow rollups) in another reporting time zone "
        "and record it, in one transaction (ingest waits, then goes on in the new zone). Days come "
        "from the quarter-hour rollups, kept forever; the narrow rollups from raw events, for the "
        "days still kept (older ones stay in the former zone). Without ZONE: TOKENRANK_TIME_ZONE. "
        "Exit status 0 when done (or already in that zone), 2 for an unknown zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("zone", nargs="?", help="IANA time zone name, e.g. Asia/Kolkata")

    def handle(self, *args, zone, **options):
        zone = zone or zones.reporting_zone()
        try:
            zones.checked(zone)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if zones.built_zone(fresh=True) == zone:
            self.stdout.write(f"The date rollups are already in {zone}.")
            return
        former, raw_since = change_time_zone(zone)
        self.stdout.write(
            f"Date rollups rebuilt in {zone} (were {former}); narrow rollups before {raw_since} "
            f"stay in {former} (their raw events are no longer kept)."
        )

from django.core.management.base import BaseCommand, CommandError

from ingest.maintenance import change_time_zone
from ingest.rollups import zones


class Command(BaseCommand):
    help = (
        "Rebuild the date rollups (days, weeks, the narrow rollups) in another reporting time zone "
        "and record it, in one transaction (ingest waits, then goes on in the new zone). Days come "
        "from the quarter-hour rollups, kept forever; the narrow rollups from raw events, for the "
        "days still kept (older ones stay in their zone). Without ZONE: TOKENRANK_TIME_ZONE; another "
        "zone than the setting needs --force (pages would go on asking for the setting's). "
        "Exit status 0 when done (or already in that zone), 2 for an unknown or refused zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("zone", nargs="?", help="IANA time zone name, e.g. Asia/Kolkata")
        parser.add_argument(
            "--force", action="store_true", help="rebuild in ZONE even if TOKENRANK_TIME_ZONE names another"
        )

    def handle(self, *args, zone, force, **options):
        setting = zones.reporting_zone()
        zone = zone or setting
        try:
            zones.checked(zone)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if zone != setting and not force:
            raise CommandError(
                f"TOKENRANK_TIME_ZONE is {setting}, not {zone}: set it (and restart) first, or pass --force",
                returncode=2,
            )
        if zones.built_zone(fresh=True) == zone:
            self.stdout.write(f"The date rollups are already in {zone}.")
            return
        done = change_time_zone(zone)
        self.stdout.write(
            f"Date rollups rebuilt in {zone} (were {done.former}). The narrow rollups hold whole days "
            f"in {zone} from {done.narrow_from} (verify_rollups checks them from there); older narrow "
            f"rows stay in {done.older} (their raw events are no longer kept), the day before "
            f"{done.narrow_from} running from its start in {done.older} to its end in {zone}."
        )

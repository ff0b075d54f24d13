"""The day range ``rebuild_rollups`` and ``verify_rollups`` take."""

from __future__ import annotations

import argparse
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from ingest.maintenance import RangeError, rollup_days


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from exc


def add_range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_day,
        metavar="YYYY-MM-DD",
        help="first day (of the zone the rollups are kept in); default and earliest: the oldest day whose raw events are all kept "
        "(today minus TOKENRANK_RAW_RETENTION_DAYS - 1); an earlier day is cut to it",
    )
    parser.add_argument(
        "--until", type=_day, metavar="YYYY-MM-DD", help="last day, inclusive; default: today"
    )


def checked_range(since: date | None, until: date | None) -> tuple[date, date]:
    """The days to cover, or a CommandError (exit 2: a usage error) saying why not."""
    try:
        return rollup_days(since, until)
    except RangeError as exc:
        raise CommandError(str(exc), returncode=2) from exc


class RangeCommand(BaseCommand):
    """A command over a range of days of kept raw events (``--since``, ``--until``): says so
    when the range starts later than asked, then does :meth:`handle_range`."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, epilog="Exit status 2 for an invalid range.", **kwargs)

    def add_arguments(self, parser):
        add_range_arguments(parser)

    def handle(self, *args, since, until, **options):
        first, last = checked_range(since, until)
        if since and first > since:
            self.stderr.write(f"Raw events before {first} are no longer kept: starting from {first}.")
        self.handle_range(first, last)

    def handle_range(self, first: date, last: date) -> None:
        raise NotImplementedError

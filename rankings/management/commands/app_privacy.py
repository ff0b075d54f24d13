"""``manage.py app_privacy SLUG... --private|--public``: hide apps from (or show them in) the
public rankings; takes effect on the next page view and API answer."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from rankings.models import App
from rankings.services import set_apps_public


class Command(BaseCommand):
    help = "Make apps private (hidden from every public page and API answer) or public again."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="+", metavar="SLUG", help="app slug(s), as in /apps/<slug>/")
        visibility = parser.add_mutually_exclusive_group(required=True)
        visibility.add_argument("--private", action="store_true", help="hide the apps")
        visibility.add_argument("--public", action="store_true", help="show the apps again")

    def handle(self, *args, slugs: list[str], private: bool, public: bool, **options):
        apps = list(App.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {app.slug for app in apps})
        if missing:
            raise CommandError(f"no app with slug {', '.join(repr(s) for s in missing)}; nothing changed")
        changed = set_apps_public(apps, public)
        state = "public" if public else "private"
        self.stdout.write(
            f"{changed} of {len(apps)} apps made {state} ({len(apps) - changed} already were); "
            "cached pages and API answers are refreshed."
        )

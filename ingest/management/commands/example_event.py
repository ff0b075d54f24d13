import json
import uuid
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

DEFAULT_MODEL = "anthropic/claude-sonnet-4"


class Command(BaseCommand):
    help = (
        "Print a JSON body for POST /api/v1/events: sample usage events dated now (so they show in "
        "the default week) with fresh ids (so a second run is counted too, not answered as a duplicate)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1, help="events to print (default 1, at most 1000)")
        parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model slug (default {DEFAULT_MODEL})")

    def handle(self, *args, count: int, model: str, **options):
        if not 1 <= count <= 1000:
            raise CommandError("--count must be from 1 to 1000", returncode=2)
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        events = [
            {
                "id": f"example-{uuid.uuid4().hex[:16]}",
                "created_at": now,
                "model": model,
                "origin": "https://myapp.example",
                "app_name": "My app",
                "categories": "programming",
                "tokens_prompt": 1200,
                "tokens_completion": 300,
                "total_cost": 0.0081,
            }
            for _ in range(count)
        ]
        self.stdout.write(json.dumps(events, indent=1))

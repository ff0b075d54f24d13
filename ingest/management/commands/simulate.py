import json
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingest.models import IngestKey
from ingest.services import import_events
from ingest.simulation import SCALES, Simulator
from rankings.models import App, AppOrigin
from rankings.services import set_apps_public

# Cline's tokens in the final week of OpenRouter's 2025 rankings: the calibration anchor.
CLINE_FINAL_WEEK_TOKENS = 49e9


class Command(BaseCommand):
    help = (
        "Simulate gateway traffic (models, providers, apps and categories with realistic growth) through "
        "the bulk ingest path, deterministic per --seed; `make run` uses it for demo data. Re-running with "
        "the same options adds nothing (the event ids repeat). Optionally keep sending live traffic over HTTP."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=365, help="days of history to simulate (default 365)")
        parser.add_argument(
            "--scale",
            choices=sorted(SCALES),
            default="demo",
            help="traffic volume per day (default demo: a year in about 20 s)",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed: the same seed makes the same events (default 1)"
        )
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            metavar="YYYY-MM-DD",
            help="last simulated day (default: today, UTC)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument(
            "--live",
            type=float,
            metavar="RATE",
            help="after the history, send RATE events/s over HTTP until Ctrl-C",
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="with --live: the server (default http://127.0.0.1:8000)",
        )
        parser.add_argument("--key", help="with --live: an ingest key (default: create one)")

    def handle(self, *args, days, scale, seed, end, quiet, live, url, key, **options):
        if days < 1:
            raise CommandError("--days must be at least 1")
        end = end or datetime.now(UTC).date()
        simulator = Simulator(days=days, end=end, scale=SCALES[scale], seed=seed)
        cline_final_week = 0
        final_week_start = days - 7

        def tracked(events):
            nonlocal cline_final_week
            for event in events:
                if event["app_name"] == "Cline" and event["id"].split("-")[2] >= f"{final_week_start:03d}":
                    cline_final_week += event["tokens_prompt"] + event["tokens_completion"]
                yield event

        started = time.monotonic()
        with tqdm(total=simulator.estimated_events(), unit=" events", disable=quiet, desc="simulate") as bar:
            totals = import_events(tracked(simulator.events()), progress=bar.update)
        elapsed = time.monotonic() - started
        set_apps_public(
            App.objects.filter(
                pk__in=AppOrigin.objects.filter(origin__in=simulator.private_origins()).values("app_id")
            ),
            False,
        )
        factor = CLINE_FINAL_WEEK_TOKENS / cline_final_week if cline_final_week else float("nan")
        self.stdout.write(
            f"Simulated {days} days ending {end} at scale {scale!r} (seed {seed}): "
            f"{totals.accepted:,} events accepted, {totals.duplicates:,} duplicates, "
            f"{totals.rejected:,} rejected in {elapsed:.1f} s ({totals.accepted / max(elapsed, 1e-9):,.0f} events/s).\n"
            f"Volume scale-down factor vs OpenRouter: {factor:,.0f}x "
            f"(Cline's final week: {cline_final_week:,} simulated tokens vs ~49B)."
        )
        if totals.rejected:
            raise CommandError(f"{totals.rejected} simulated events were rejected: {totals.errors[:3]}")
        if live:
            self._live(simulator, live, url.rstrip("/"), key)

    def _live(self, simulator: Simulator, rate: float, url: str, key: str | None) -> None:
        if not key:
            _, key = IngestKey.issue(f"simulator-live-{int(time.time())}", owner="simulate --live")
        self.stdout.write(f"Sending {rate:g} events/s to {url}/api/v1/events (Ctrl-C stops)…")
        sent = 0
        tick = 0
        while True:
            started = time.monotonic()
            events = list(simulator.live_events(tick, int(rate)))
            request = urllib.request.Request(
                f"{url}/api/v1/events",
                data=json.dumps(events).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    sent += json.loads(response.read())["accepted"]
            except urllib.error.URLError as exc:
                self.stderr.write(f"send failed: {exc}")
            tick += 1
            if tick % 10 == 0:
                self.stdout.write(f"{sent:,} events sent")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

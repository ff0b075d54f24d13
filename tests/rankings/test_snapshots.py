"""Daily snapshots: what beat publishes, their checksums, their immutability, privacy and
the endpoints that serve them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from ingest.services import import_events
from rankings import snapshots, tasks
from tests.factories import EventFactory
from tests.rankings.conftest import XSS_NAME

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def exports_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "exports"), "file_permissions_mode": 0o444},
        },
    }
    settings.EXPORTS_LICENSE = "CC-BY-4.0"
    return tmp_path / "exports"


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def day_events(day: date, **fields) -> list[dict]:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).isoformat()
    return EventFactory.build_batch(3, created_at=at, **fields)


def test_beat_task_publishes_closed_days_with_checksums(client, usage, exports_dir):
    day = yesterday()
    yesterdays = day_events(day, model="anthropic/claude-sonnet-4")
    import_events(yesterdays)
    published = tasks.maintenance_snapshots()
    assert day.isoformat() in published
    manifest = json.loads((exports_dir / day.isoformat() / "manifest.json").read_text())
    assert manifest["license"] == "CC-BY-4.0" and manifest["date"] == day.isoformat()
    assert {f["name"] for f in manifest["files"]} == set(snapshots.FILE_NAMES)
    for item in manifest["files"]:
        content = (exports_dir / day.isoformat() / item["name"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == item["sha256"] and len(content) == item["bytes"]
    models = list(csv.DictReader(io.StringIO((exports_dir / day.isoformat() / "models.csv").read_text())))
    assert models[0]["slug"] == "anthropic/claude-sonnet-4" and models[0]["rank"] == "1"
    on_day = [e for e in usage + yesterdays if e["created_at"][:10] == day.isoformat()]
    expected = sum(e["tokens_prompt"] + e["tokens_completion"] for e in on_day if e["model"] == models[0]["slug"])
    assert int(models[0]["tokens"]) == expected
    assert tasks.maintenance_snapshots() == []  # nothing left to do


def test_private_apps_never_in_a_snapshot_and_names_are_defused(usage, exports_dir):
    day_before = datetime.now(UTC).date() - timedelta(days=1)
    import_events(day_events(day_before, origin="https://evil.example", app_name=XSS_NAME))
    import_events(day_events(day_before, origin="https://secret.example", app_name="Secret App"))
    import_events(day_events(day_before, origin="https://formula.example", app_name="=HYPERLINK(1)"))
    snapshots.write(day_before)
    apps_csv = (exports_dir / day_before.isoformat() / "apps.csv").read_text()
    apps_json = (exports_dir / day_before.isoformat() / "apps.json").read_text()
    assert "Secret App" not in apps_csv and "Secret App" not in apps_json
    assert "'=HYPERLINK(1)" in apps_csv
    assert any(r["name"] == XSS_NAME for r in json.loads(apps_json)["rows"])


def test_a_published_snapshot_never_changes(usage, exports_dir):
    day = yesterday()
    snapshots.write(day)
    before = {p.name: p.read_bytes() for p in (exports_dir / day.isoformat()).iterdir()}
    import_events(day_events(day, model="z-ai/glm-4.5", tokens_prompt=10**7))  # a late event
    call_command("rebuild_rollups", "--since", day.isoformat(), "--until", day.isoformat(), verbosity=0)
    assert snapshots.write(day) is None
    call_command("write_snapshots", "--day", day.isoformat())
    after = {p.name: p.read_bytes() for p in (exports_dir / day.isoformat()).iterdir()}
    assert after == before
    assert all(not (p.stat().st_mode & 0o222) for p in (exports_dir / day.isoformat()).iterdir())


def test_an_unfinished_run_is_written_afresh(usage, exports_dir):
    day = yesterday()
    folder = exports_dir / day.isoformat()
    folder.mkdir(parents=True)
    (folder / "models.csv").write_text("half a file")
    snapshots.write(day)
    assert (folder / "models.csv").read_text().startswith("date,rank,slug")
    assert not list(folder.glob("models_*"))


def test_due_days_wait_for_the_delay_and_for_data(usage, settings):
    today = datetime.now(UTC).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    settings.EXPORTS_DELAY_MINUTES = 60
    assert today - timedelta(days=1) not in snapshots.due_days(midnight + timedelta(minutes=30))
    assert today - timedelta(days=1) in snapshots.due_days(midnight + timedelta(minutes=61))
    settings.EXPORTS_BACKFILL_DAYS = 30
    first = min(snapshots.due_days())
    assert first >= today - timedelta(days=9)  # no snapshot before the first day with data


def test_exports_endpoints(client, usage):
    day = yesterday().isoformat()
    snapshots.write(yesterday())
    index = client.get("/api/v1/datasets/exports/").json()
    assert index["license"] == "CC-BY-4.0" and index["snapshots"][0]["date"] == day
    readme = client.get("/api/v1/datasets/exports/README")
    assert (
        readme["Content-Type"].startswith("text/markdown") and "License: CC-BY-4.0" in readme.content.decode()
    )
    manifest = client.get(f"/api/v1/datasets/exports/{day}/").json()
    item = next(f for f in manifest["files"] if f["name"] == "models.json")
    response = client.get(item["url"].replace("http://testserver", ""))
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == item["sha256"]
    assert "immutable" in response["Cache-Control"] and response["ETag"] == f'"{item["sha256"]}"'
    assert client.get(f"/api/v1/datasets/exports/{day}/../../etc/passwd").status_code == 404
    assert client.get(f"/api/v1/datasets/exports/{day}/secrets.csv").json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/datasets/exports/1999-01-01/").status_code == 404


def test_beat_schedules_the_snapshots():
    entry = django_settings.CELERY_BEAT_SCHEDULE["daily-snapshots"]
    assert entry["task"] == "rankings.tasks.maintenance_snapshots"
    assert entry["options"]["queue"] == "maintenance"

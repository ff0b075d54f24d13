"""Management commands keep their word: ranges are checked, options are explained, the
README's example is dated now, and a backup restores."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import connection

from ingest import maintenance
from ingest.models import UsageDaily
from ingest.services import import_events
from tests.factories import EventFactory, both_grains_equal, expected_totals, rollup_totals

OURS = ("ingest", "rankings")
DJANGO_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


def _unexplained(parser, prefix: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if action.dest in DJANGO_OPTIONS:
            continue
        if hasattr(action, "choices") and isinstance(action.choices, dict):  # sub-commands
            for name, sub in action.choices.items():
                missing += _unexplained(sub, f"{prefix} {name}")
            continue
        if not (action.help or "").strip():
            missing.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_of_every_command_is_explained_in_help():
    commands = {name: app for name, app in get_commands().items() if app in OURS}
    assert {
        "import_events",
        "rebuild_rollups",
        "verify_rollups",
        "backup",
        "restore",
        "example_event",
    } <= set(commands)
    missing = []
    for name, app in commands.items():
        command = load_command_class(app, name)
        assert command.help.strip(), name
        missing += _unexplained(command.create_parser("manage.py", name), name)
    assert missing == []


def _options(name: str) -> set[str]:
    parser = load_command_class("ingest", name).create_parser("manage.py", name)
    return {o for a in parser._actions if a.dest not in DJANGO_OPTIONS for o in a.option_strings}


def test_rebuild_and_verify_take_the_same_range_and_check_it(db):
    assert _options("rebuild_rollups") == _options("verify_rollups") == {"--since", "--until"}
    today = datetime.now(UTC).date()
    long_ago = today - timedelta(days=400)
    for args, message in (
        (["--since", str(long_ago), "--until", str(long_ago + timedelta(days=1))], "raw events are kept"),
        (["--since", str(today), "--until", str(today - timedelta(days=1))], "is before since"),
        (["--until", str(today + timedelta(days=2))], "after today"),
    ):
        for command in ("rebuild_rollups", "verify_rollups"):
            with pytest.raises(CommandError, match=message) as raised:
                call_command(command, *args)
            assert raised.value.returncode == 2, (command, args)
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("verify_rollups", "--until", "yesterday")


@pytest.mark.django_db(transaction=True)
def test_verify_until_bounds_the_check_and_rebuild_repairs_that_range():
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    import_events(
        [
            *EventFactory.build_batch(3, created_at=two_days_ago.isoformat()),
            *EventFactory.build_batch(2),
        ]
    )
    today = datetime.now(UTC).date()
    UsageDaily.objects.filter(bucket=today).update(requests=999)  # damage today only
    earlier = str(today - timedelta(days=2))
    out = io.StringIO()
    call_command("verify_rollups", "--since", earlier, "--until", str(today - timedelta(days=1)), stdout=out)
    assert f"match raw events from {earlier} to {today - timedelta(days=1)}" in out.getvalue()
    with pytest.raises(CommandError, match="differ"):
        call_command("verify_rollups", "--since", str(today), "--until", str(today))
    call_command("rebuild_rollups", "--since", str(today), "--until", str(today), stderr=io.StringIO())
    call_command("verify_rollups", stdout=io.StringIO())


def test_example_event_is_dated_now_with_a_fresh_id(client, ingest_key):
    bodies = []
    for _ in range(2):
        out = io.StringIO()
        call_command("example_event", stdout=out)
        bodies.append(out.getvalue())
    first, second = (json.loads(body) for body in bodies)
    assert first[0]["id"] != second[0]["id"]
    sent = datetime.fromisoformat(first[0]["created_at"])
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
    for body in bodies:  # each counts: neither is answered as a duplicate
        response = client.post(
            "/api/v1/events",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {ingest_key[1]}",
        )
        assert response.status_code == 202 and response.json()["accepted"] == 1


def test_readme_example_uses_the_command_and_no_docs_example_shares_an_id(settings):
    import re

    readme = (settings.BASE_DIR / "README.md").read_text()
    api = (settings.BASE_DIR / "docs/api.md").read_text()
    assert "manage.py example_event" in readme
    assert "2025-08-01" not in readme  # a fixed past date shows nothing in the default week
    readme_ids = set(re.findall(r'"id": "([^"]+)"', readme))
    api_ids = set(re.findall(r'"id": "([^"]+)"', api))
    assert not readme_ids & api_ids


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_brings_back_exactly_the_backed_up_data(tmp_path):
    kept = EventFactory.build_batch(20)
    import_events(kept)
    before = rollup_totals()
    archive = tmp_path / "tokenrank.dump"
    out = io.StringIO()
    call_command("backup", "--output", str(archive), stdout=out)
    assert archive.stat().st_size > 0 and "archive entries" in out.getvalue()
    assert archive.stat().st_mode & 0o077 == 0  # account and key hashes: the owner's only
    assert not (tmp_path / "tokenrank.dump.partial").exists()
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", "--output", str(archive))

    import_events(EventFactory.build_batch(7))  # written after the backup: gone after the restore
    assert rollup_totals() != before
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(archive))
    call_command("restore", str(archive), "--yes", stdout=io.StringIO())
    connection.close()
    assert rollup_totals() == before and both_grains_equal(expected_totals(kept))
    assert maintenance.verify_rollups()[1] == []
    # Ids seen before the backup are still known: a resend is a duplicate, not a recount.
    assert import_events(kept[:3]).duplicates == 3


def test_backup_tools_match_the_server_version(db):
    from config.backup import find_tool

    server = connection.pg_version // 10000
    assert find_tool("pg_dump", server).major == server
    with pytest.raises(Exception, match="postgresql-client-99"):
        find_tool("pg_dump", 99)

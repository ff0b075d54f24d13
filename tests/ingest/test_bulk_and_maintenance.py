"""import_events files, rebuild/verify rollups, dead-letter retry, partitions and retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from ingest import maintenance, partitions, services, tasks
from ingest.models import InboxBatch, SeenEvent, UsageDaily, UsageModelWeekly, UsageQuarterHour
from ingest.rollups.grains import GRAINS
from rankings.models import App, LLMModel
from tests.conftest import wait_for
from tests.factories import (
    EventFactory,
    activity_row,
    both_grains_equal,
    expected_totals,
    post_events,
    write_activity_export,
)

pytestmark = pytest.mark.django_db(transaction=True)


def write_ndjson(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_import_ndjson_json_and_rerun_counts_once(tmp_path):
    events = EventFactory.build_batch(500)
    call_command("import_events", str(write_ndjson(tmp_path / "a.ndjson", events[:300])), "--quiet")
    (tmp_path / "b.json").write_text(json.dumps({"events": events[200:]}))
    call_command("import_events", str(tmp_path / "b.json"), "--quiet", "--chunk-size", "64")
    call_command("import_events", str(tmp_path / "a.ndjson"), "--quiet")  # a rerun dedups
    assert both_grains_equal(expected_totals(events))
    assert maintenance.verify_rollups()[1] == []


def test_import_openrouter_activity_csv(tmp_path):
    row = activity_row(
        1,
        cost_total="0.5",
        tokens_prompt="1000",
        tokens_completion="300",
        tokens_reasoning="100",
        tokens_cached="200",
        model_permaslug="deepseek/deepseek-r1-0528",
        provider_name="Chutes",
        variant="free",
        app_name="My App",
        generation_time_ms="3000",
    )
    call_command(
        "import_events", write_activity_export(tmp_path / "activity.csv", [row], bom=False), "--quiet"
    )
    row = UsageDaily.objects.get()
    assert (row.requests, row.prompt_tokens, row.completion_tokens) == (1, 1000, 300)
    assert (row.reasoning_tokens, row.cached_tokens, row.variant) == (100, 200, "free")
    assert row.model.slug == "deepseek/deepseek-r1-0528" and row.provider.slug == "chutes"
    assert row.generation_ms_sum == 3000


def test_import_reports_rejections_and_keeps_the_valid_rest(tmp_path):
    good = EventFactory.build_batch(3)
    path = write_ndjson(tmp_path / "mixed.ndjson", [*good, {"id": "x", "model": "bad"}])
    with pytest.raises(CommandError, match="rejected"):
        call_command("import_events", str(path), "--quiet")
    assert both_grains_equal(expected_totals(good))


def test_unknown_model_provider_and_app_are_created_for_review(tmp_path):
    event = EventFactory.build(
        model="newlab/brand-new-model:nitro",
        provider_name="Tiny Cloud",
        origin="https://new.example/",
        app_name="<b>New</b>",
    )
    call_command("import_events", str(write_ndjson(tmp_path / "n.ndjson", [event])), "--quiet")
    model = LLMModel.objects.get(slug="newlab/brand-new-model")
    assert model.needs_review and model.author.needs_review
    app = App.objects.get(origin="https://new.example")
    assert app.needs_review and app.name == "<b>New</b>"
    assert UsageQuarterHour.objects.get().variant == "nitro"


def test_event_without_origin_counts_as_unattributed(tmp_path):
    event = EventFactory.build(origin=None, app_name="Title only")
    call_command("import_events", str(write_ndjson(tmp_path / "u.ndjson", [event])), "--quiet")
    assert UsageDaily.objects.get().app.slug == App.UNATTRIBUTED_SLUG


def test_late_events_land_in_their_own_buckets(tmp_path):
    week_ago = datetime.now(UTC) - timedelta(days=6, hours=3)
    event = EventFactory.build(created_at=week_ago.isoformat())
    call_command("import_events", str(write_ndjson(tmp_path / "late.ndjson", [event])), "--quiet")
    assert UsageDaily.objects.get().bucket == week_ago.date()
    assert UsageQuarterHour.objects.get().bucket == week_ago.replace(minute=week_ago.minute // 15 * 15, second=0, microsecond=0)
    assert UsageModelWeekly.objects.get().bucket == week_ago.date() - timedelta(days=week_ago.weekday())


@pytest.mark.parametrize("table", [grain.table for grain in GRAINS])
def test_verify_finds_a_tampered_rollup_and_rebuild_repairs_it(tmp_path, table):
    events = EventFactory.build_batch(50)
    call_command("import_events", str(write_ndjson(tmp_path / "e.ndjson", events)), "--quiet")
    call_command("verify_rollups")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET prompt_tokens = prompt_tokens + 1")
    with pytest.raises(CommandError, match="differ"):
        call_command("verify_rollups")
    call_command("rebuild_rollups")
    call_command("verify_rollups")
    assert both_grains_equal(expected_totals(events))


def test_batch_given_up_is_kept_and_retry_counts_it_once(client, ingest_key, start_worker, settings):
    _, key = ingest_key
    events = EventFactory.build_batch(20)
    post_events(client, key, events)
    batch = InboxBatch.objects.get()
    # As if workers had died on it over and over (BATCH_MAX_ATTEMPTS).
    InboxBatch.objects.filter(pk=batch.pk).update(attempts=settings.TOKENRANK["BATCH_MAX_ATTEMPTS"])
    start_worker()
    tasks.enqueue_batch(batch.pk)
    wait_for(lambda: InboxBatch.objects.get(pk=batch.pk).status == "failed")
    failed = InboxBatch.objects.get(pk=batch.pk)
    assert "gave up" in failed.last_error and UsageDaily.objects.count() == 0
    assert services.retry_batch(batch.pk)
    wait_for(lambda: InboxBatch.objects.get(pk=batch.pk).status == "done")
    services.retry_batch(batch.pk)  # no-op on a done batch
    assert both_grains_equal(expected_totals(events))


def test_partitions_created_ahead_and_dropped_after_retention(settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "RAW_RETENTION_DAYS": 10, "PARTITIONS_AHEAD_DAYS": 2}
    today = datetime.now(UTC).date()
    old_day = today - timedelta(days=30)
    partitions.ensure_partitions([old_day])
    SeenEvent.objects.create(id="old", seen_at=datetime.now(UTC) - timedelta(days=30))
    SeenEvent.objects.create(id="new")
    result = partitions.maintain(today)
    days = partitions.existing_partitions()
    assert old_day not in days
    assert {today, today + timedelta(days=1), today + timedelta(days=2)} <= set(days)
    assert result["dropped_partitions"] >= 1
    assert set(SeenEvent.objects.values_list("id", flat=True)) == {"new"}


def test_counted_inbox_batches_leave_with_the_raw_events_they_copied(settings):
    """Every event is in its inbox batch as JSON until counted; kept forever, the inbox would
    hold a second copy of all traffic. Counted batches go with the raw retention; a batch still
    to count, or with dead letters for staff, stays."""
    settings.TOKENRANK = {**settings.TOKENRANK, "RAW_RETENTION_DAYS": 10}
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=30), now - timedelta(days=2)

    def batch(status: str, processed_at, dead_letters: int = 0) -> int:
        return InboxBatch.objects.create(
            status=status, processed_at=processed_at, events=[], event_count=0, dead_letter_count=dead_letters
        ).pk

    batch("done", old)  # counted before the retention: goes
    kept = {
        batch("done", recent),
        batch("done", old, dead_letters=1),
        batch("failed", old),
        batch("pending", None),
    }
    assert partitions.maintain(now.date())["pruned_batches"] == 1
    assert set(InboxBatch.objects.values_list("pk", flat=True)) == kept


def test_unreported_costs_are_derived_from_list_prices_and_recomputed_after_a_price_change(tmp_path):
    from decimal import Decimal

    model = LLMModel.objects.get(slug="anthropic/claude-sonnet-4")  # $3 / $15 per 1M tokens
    reported = EventFactory.build(total_cost="0.5")
    unreported = EventFactory.build(
        total_cost=None,
        tokens_prompt=1_000_000,
        tokens_completion=100_000,
        native_tokens_cached=0,
        native_tokens_reasoning=0,
    )
    call_command("import_events", str(write_ndjson(tmp_path / "c.ndjson", [reported, unreported])), "--quiet")
    assert UsageDaily.objects.get().cost == Decimal("0.5") + Decimal("4.5")  # 1M x $3 + 0.1M x $15
    model.prompt_price, model.completion_price = Decimal("1"), Decimal("10")
    model.save()
    today = datetime.now(UTC).date()
    changed, _, _ = maintenance.recompute_derived_costs(model.slug, today - timedelta(days=1), today)
    assert changed == 1
    assert UsageDaily.objects.get().cost == Decimal("0.5") + Decimal("2")  # the reported cost is untouched
    assert maintenance.verify_rollups()[1] == []


@pytest.mark.django_db  # not transactional: the new category is seen by this connection only
def test_chunked_import_overlaps_validation_and_keeps_indexes_and_catalog(monkeypatch):
    """The next chunk is validated on a second thread while one is written: rejections keep
    their index in the whole input, and that thread sees the catalog as this connection does
    (a category added in this very transaction counts), never reading it on its own."""
    from ingest import values
    from rankings.models import Category

    Category.objects.create(slug="astronomy", name="Astronomy")
    monkeypatch.setattr(values, "_known_categories", (float("-inf"), frozenset()))  # expired
    monkeypatch.setattr(values, "KNOWN_CATEGORIES_TTL", 0.0)  # and read again at every use
    events = EventFactory.build_batch(35, categories="astronomy")
    for index in (4, 17, 33):
        events[index]["tokens_prompt"] = -1
    totals = services.import_events(events, chunk_size=10)
    assert (totals.accepted, totals.rejected) == (32, 3)
    assert [r.index for r in totals.errors] == [4, 17, 33]
    counted = UsageDaily.objects.filter(category__slug="astronomy")
    assert sum(row.requests for row in counted) == 32


def test_a_committed_import_writes_on_its_own_connection_while_the_next_chunk_is_prepared(monkeypatch):
    """Outside a caller's transaction a chunk is written on a second connection while the next
    is prepared: every event is still counted once (a resent id in a later chunk too), each
    chunk commits on its own, and rejections keep their index."""
    import threading

    writers = set()
    real = services._write_chunk

    def write(prepared):
        writers.add(threading.current_thread().name)
        return real(prepared)

    monkeypatch.setattr(services, "_write_chunk", write)
    events = EventFactory.build_batch(45)
    events[30] = {**events[3]}  # a resend of an id the first chunk counted
    events[22]["tokens_prompt"] = -1
    totals = services.import_events(events, chunk_size=10)
    assert (totals.accepted, totals.duplicates, totals.rejected) == (43, 1, 1)
    assert [r.index for r in totals.errors] == [22]
    assert sum(row.requests for row in UsageDaily.objects.all()) == 43
    assert SeenEvent.objects.count() == 43 and writers and all(w.startswith("import-write") for w in writers)


def test_a_chunk_rolled_back_by_a_transient_error_is_written_again_once(monkeypatch):
    from django.db import OperationalError

    real, failed = services._write_chunk, []

    def deadlocked_once(prepared):
        if not failed:
            failed.append(prepared.offset)
            with transaction.atomic():  # the chunk's claims are rolled back with it
                services.claim_ids([e["id"] for _, e in prepared.events])
                raise OperationalError("deadlock detected")
        return real(prepared)

    monkeypatch.setattr(services, "_write_chunk", deadlocked_once)
    events = EventFactory.build_batch(25)
    totals = services.import_events(events, chunk_size=10)
    assert failed == [0] and (totals.accepted, totals.duplicates) == (25, 0)
    assert sum(row.requests for row in UsageDaily.objects.all()) == 25

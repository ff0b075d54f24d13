"""Prompt-cache writes (``native_tokens_cache_write``): validated as a part of the prompt,
counted into raw events and every rollup, shown on the model page and in the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ingest import maintenance, processing, schema, services
from ingest.events import normalize, validate_batch, with_defaults
from ingest.models import InboxBatch, RawEvent, UsageDaily, UsageModelWeekly, UsageQuarterHour
from ingest.services import import_events
from tests.factories import EventFactory, both_grains_equal, expected_totals

pytestmark = pytest.mark.django_db


def test_cache_writes_are_a_part_of_the_prompt():
    now = timezone.now()
    event, errors = normalize(
        EventFactory(tokens_prompt=1000, native_tokens_cached=600, native_tokens_cache_write=300), now
    )
    assert errors == {} and event["cache_write"] == 300
    _, errors = normalize(
        EventFactory(tokens_prompt=1000, native_tokens_cached=600, native_tokens_cache_write=500), now
    )
    assert errors == {
        "native_tokens_cache_write": "cached and cache write tokens together are part of prompt tokens"
    }
    _, errors = normalize(
        EventFactory(tokens_prompt=10, native_tokens_cached=0, native_tokens_cache_write=11), now
    )
    assert errors == {
        "native_tokens_cache_write": "cached and cache write tokens together are part of prompt tokens"
    }
    _, errors = normalize(EventFactory(native_tokens_cache_write="many"), now)
    assert errors == {"native_tokens_cache_write": "must be a whole number"}
    missing = EventFactory()
    del missing["native_tokens_cache_write"]
    assert with_defaults(normalize(missing, now)[0])["cache_write"] == 0


def test_counted_in_raw_events_and_every_grain():
    events = EventFactory.build_batch(12)
    assert import_events(events).accepted == 12
    assert both_grains_equal(expected_totals(events))
    written = sum(e["native_tokens_cache_write"] for e in events)
    assert written > 0
    assert sum(RawEvent.objects.values_list("cache_write_tokens", flat=True)) == written
    assert sum(UsageModelWeekly.objects.values_list("cache_write_tokens", flat=True)) == written
    assert maintenance.verify_rollups()[1] == []


def test_a_batch_stored_before_cache_writes_existed_counts_them_as_zero(ingest_key):
    """A pending batch (or a dead letter) normalized by the previous version has no
    ``cache_write`` key: the worker counts it, with no cache writes."""
    key, _ = ingest_key
    events = validate_batch(EventFactory.build_batch(3), timezone.now()).events
    for event in events:
        del event["cache_write"]
    processing.claim_ids([e["id"] for e in events])
    batch = InboxBatch.objects.create(key=key, events=events, event_count=3)
    assert processing.process_batch(batch.pk) == "done"
    assert UsageQuarterHour.objects.get().requests == 3
    assert UsageDaily.objects.get().cache_write_tokens == 0


def test_shown_on_the_model_page_and_in_the_api(client):
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    import_events(
        [
            *EventFactory.build_batch(3, created_at=at, tokens_prompt=4000, native_tokens_cache_write=1500),
            EventFactory.build(
                created_at=at, model="openai/gpt-5", tokens_prompt=4000, native_tokens_cache_write=0
            ),
        ]
    )
    page = client.get("/models/anthropic/claude-sonnet-4/").content.decode()
    assert "<dt>Cache writes</dt><dd>4.5K</dd>" in page
    assert '"name":"Cache writes"' in page  # a line of the usage-over-time chart
    detail = client.get("/api/v1/models/anthropic/claude-sonnet-4").json()
    assert detail["totals"]["cache_write_tokens"] == 4500
    ranking = client.get("/api/v1/rankings/models", {"metric": "cache_write_tokens"}).json()
    assert ranking["metric"] == "cache_write_tokens"
    assert [(r["entity"]["slug"], r["value"]) for r in ranking["results"]] == [
        ("anthropic/claude-sonnet-4", 4500.0)
    ]
    series = client.get("/api/v1/timeseries", {"metric": "cache_write_tokens", "period": "week"}).json()
    assert sum(series["others"]) == 4500



def test_stored_events_leave_out_default_values_and_both_stored_forms_count_alike(ingest_key):
    """Accepted events are stored without the values that have their defaults (no cancel
    flag, no tool calls, no session...): a third less to write and read. A batch stored in
    the earlier form, every value spelled out (pending when this version starts), gives the
    same raw rows."""
    key, _ = ingest_key
    sent = EventFactory.build_batch(3, tool_calls=0, tool_call_errors=None, session_id=None, tags=None)
    sent[0].update(is_byok=True, cancelled=False)
    sent[1].update(streamed=True, tool_calls=2, session_id="s-1")
    assert services.accept_events(sent, key).accepted == 3
    [compact] = InboxBatch.objects.values_list("events", flat=True)
    defaults = {value.key: value.default for value in schema.VALUES}
    assert not [(k, v) for e in compact for k, v in e.items() if k in defaults and v == defaults[k]]
    assert compact[0]["byok"] is True and "cancelled" not in compact[0] and "tool_calls" not in compact[0]
    assert (compact[1]["streamed"], compact[1]["tool_calls"], compact[1]["session_id"]) == (True, 2, "s-1")

    earlier = [{**with_defaults(e), "id": e["id"] + "-earlier"} for e in compact]
    assert all(e.keys() >= defaults.keys() for e in earlier)
    processing.claim_ids([e["id"] for e in earlier])
    InboxBatch.objects.create(key=key, events=earlier, event_count=3)
    assert processing.process_batch(InboxBatch.objects.latest("pk").pk) == "done"  # with the other
    assert set(InboxBatch.objects.values_list("status", flat=True)) == {"done"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM ingest_rawevent")
        names = [c.name for c in cursor.description]
        rows = {
            row[names.index("id")]: tuple(v for c, v in zip(names, row, strict=True) if c not in ("id", "batch_id"))
            for row in cursor.fetchall()
        }
    assert len(rows) == 6
    assert all(rows[e["id"]] == rows[e["id"] + "-earlier"] for e in sent)
    assert maintenance.verify_rollups()[1] == []

"""Accepted means counted: whatever the accept path lets through, the worker writes; an event
that still cannot be written is isolated without failing its neighbours; bodies are read
whole or refused; no body answers 5xx."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest
from django.utils import timezone

from ingest import maintenance, processing, services
from ingest.events import normalize
from ingest.models import DeadLetter, InboxBatch, IngestKey, SeenEvent
from rankings.models import App, Provider
from tests.factories import EventFactory, both_grains_equal, expected_totals, post_events

committed = pytest.mark.django_db(transaction=True)


def store_as_accepted(key: IngestKey, events: list[dict], poison: dict[int, dict] | None = None) -> int:
    """Store a batch as the accept path does (ids claimed, normalized events), with the events
    at the ``poison`` positions altered afterwards: stand-ins for whatever a future gap in
    validation might let through."""
    normalized = [normalize(e, timezone.now())[0] for e in events]
    for position, change in (poison or {}).items():
        normalized[position] = {**normalized[position], **change}
    processing.claim_ids([e["id"] for e in normalized])
    return InboxBatch.objects.create(key=key, events=normalized, event_count=len(normalized)).pk


TOO_LONG_VARIANT = {"variant": "v" * 40}  # refused by the raw insert (varchar(16)): the write
TOO_LONG_ORIGIN = {"origin": "https://x.example/" + "p" * 600}  # refused by the catalog: the prepare


@committed
@pytest.mark.parametrize("poison", [TOO_LONG_VARIANT, TOO_LONG_ORIGIN], ids=["write", "prepare"])
def test_poisoned_batch_coalesced_with_clean_batches_of_another_key(settings, poison):
    settings.TOKENRANK = {**settings.TOKENRANK, "BATCH_COALESCE_EVENTS": 100_000}
    mine, _ = IngestKey.issue("mine")
    theirs, _ = IngestKey.issue("theirs")
    clean_a, poisoned, clean_b = (EventFactory.build_batch(50) for _ in range(3))
    first = store_as_accepted(mine, clean_a)
    bad = store_as_accepted(theirs, poisoned, poison={7: poison})
    last = store_as_accepted(mine, clean_b)

    assert processing.process_batch(first) == "done"  # takes the other two along

    batches = {b.pk: b for b in InboxBatch.objects.all()}
    assert {b.status for b in batches.values()} == {"done"}
    assert batches[first].last_error == batches[last].last_error == ""
    assert batches[first].dead_letter_count == batches[last].dead_letter_count == 0
    assert batches[bad].dead_letter_count == 1 and "dead letter" in batches[bad].last_error
    letter = DeadLetter.objects.get()
    assert letter.batch_id == bad and letter.event_id == poisoned[7]["id"]
    assert "DataError" in letter.error
    good = clean_a + poisoned[:7] + poisoned[8:] + clean_b
    assert both_grains_equal(expected_totals(good))
    assert maintenance.verify_rollups()[1] == []
    # The bad event's id was released: the corrected event, resent, is counted.
    assert not SeenEvent.objects.filter(id=poisoned[7]["id"]).exists()
    assert SeenEvent.objects.count() == len(good)


@committed
def test_poisoned_event_between_good_ones_is_isolated_and_the_rest_counted():
    key, _ = IngestKey.issue("gw")
    events = EventFactory.build_batch(1000)
    batch = store_as_accepted(key, events, poison={499: TOO_LONG_VARIANT, 500: TOO_LONG_ORIGIN})
    assert processing.process_batch(batch) == "done"
    assert InboxBatch.objects.get(pk=batch).dead_letter_count == 2
    assert set(DeadLetter.objects.values_list("event_id", flat=True)) == {
        events[499]["id"],
        events[500]["id"],
    }
    good = events[:499] + events[501:]
    assert both_grains_equal(expected_totals(good))
    assert maintenance.verify_rollups()[1] == []


@committed
def test_dead_letter_resent_or_requeued_is_counted_once(client):
    key, plaintext = IngestKey.issue("gw")
    events = EventFactory.build_batch(10)
    batch = store_as_accepted(key, events, poison={3: TOO_LONG_VARIANT, 4: TOO_LONG_VARIANT})
    processing.process_batch(batch)
    assert DeadLetter.objects.count() == 2

    # The gateway resends one of them, corrected: its id was released, so it counts.
    assert post_events(client, plaintext, [events[3]]).json()["accepted"] == 1
    processing.process_batch(InboxBatch.objects.latest("pk").pk)
    # The operator fixes the other one in the backoffice and requeues both: the resent one is
    # a duplicate now, the fixed one counts; requeuing again does nothing.
    fixed = DeadLetter.objects.get(event_id=events[4]["id"])
    fixed.event = json.dumps({**json.loads(fixed.event), "variant": ""})
    fixed.save()
    result = services.requeue_dead_letters(DeadLetter.objects.all())
    assert (result.accepted, result.duplicates) == (1, 1)
    processing.process_batch(result.batch_id)
    assert services.requeue_dead_letters(DeadLetter.objects.all()).accepted == 0
    assert both_grains_equal(expected_totals(events))


# --- Accept implies write -------------------------------------------------------------------

TEXT_FIELDS = ["id", "model", "provider_name", "origin", "app_name", "categories", "finish_reason", "variant"]


@pytest.mark.django_db
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_lone_surrogate_in_any_text_field_rejects_that_event_only(client, ingest_key, field):
    _, key = ingest_key
    bad, good = EventFactory.build_batch(2)
    body = json.dumps([{**bad, field: "SURROGATE"}, good]).replace("SURROGATE", "a\\ud800b")
    response = post_events(client, key, body)
    assert response.status_code == 202
    answer = response.json()
    if field == "categories":  # matched against known categories only: it counts as "other"
        assert answer["accepted"] == 2
        return
    assert answer["accepted"] == 1
    [rejection] = answer["rejected"]
    assert rejection["index"] == 0 and list(rejection["errors"]) == [field]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "created_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2025-13-01T00:00:00Z"]
)
def test_timestamp_that_overflows_rejects_that_event_only(client, ingest_key, created_at):
    _, key = ingest_key
    bad, good = EventFactory.build_batch(2)
    answer = post_events(client, key, [{**bad, "created_at": created_at}, good]).json()
    assert answer["accepted"] == 1 and list(answer["rejected"][0]["errors"]) == ["created_at"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"origin": "a" * 496 + ".com"}, "origin"),  # 500 as sent, 508 with the scheme added
        ({"origin": "https://" + "\u0130" * 300 + ".com"}, "origin"),  # İ lowercases to two characters
        ({"variant": "nitro\x00"}, "variant"),
        ({"variant": "way-too-long-for-a-variant"}, "variant"),
        ({"finish_reason": "stop\x00" + "x" * 50}, "finish_reason"),
    ],
)
def test_values_the_write_would_refuse_are_refused_at_accept(client, ingest_key, change, field):
    _, key = ingest_key
    answer = post_events(client, key, [EventFactory.build(**change), EventFactory.build()]).json()
    assert answer["accepted"] == 1
    assert list(answer["rejected"][0]["errors"]) == [field]


@committed
def test_slugs_never_run_out():
    # 120 apps on one host (paths differ) and providers whose names have no ASCII letter.
    events = [EventFactory.build(origin=f"https://one.example/app/{n}") for n in range(120)]
    events += [EventFactory.build(provider_name=name) for name in ("日本", "中国", "한국", "日本")]
    totals = services.import_events(events)
    assert (totals.accepted, totals.rejected) == (len(events), 0)
    slugs = list(App.objects.filter(origin__startswith="https://one.example").values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs)) == 120
    assert Provider.objects.filter(name__in=["日本", "中国", "한국"]).values("slug").distinct().count() == 3
    assert both_grains_equal(expected_totals(events))


@committed
def test_import_isolates_an_event_the_write_refuses(monkeypatch):
    """The bulk path keeps the rest of a chunk, reports the event by its position, and does
    not claim its id."""
    events = EventFactory.build_batch(30)
    real = normalize

    def gap(event, now):  # a validation gap: the variant passes unchecked
        out, errors = real(event, now)
        if out and event["id"] == events[12]["id"]:
            out = {**out, **TOO_LONG_VARIANT}
        return out, errors

    monkeypatch.setattr("ingest.events.normalize", gap)
    totals = services.import_events(events, chunk_size=64)
    assert (totals.accepted, totals.rejected) == (29, 1)
    assert totals.errors[0].index == 12 and "DataError" in totals.errors[0].errors["event"]
    assert not SeenEvent.objects.filter(id=events[12]["id"]).exists()
    assert both_grains_equal(expected_totals(events[:12] + events[13:]))


# --- Bodies read whole or refused ----------------------------------------------------------


@pytest.mark.django_db
def test_multi_member_gzip_is_read_whole(client, ingest_key):
    _, key = ingest_key
    events = EventFactory.build_batch(6)
    # Two members, as `cat a.gz b.gz` or a streaming compressor that flushes members makes.
    body = gzip.compress(b'{"events": [' + json.dumps(events[:3])[1:-1].encode()) + gzip.compress(
        b", " + json.dumps(events[3:])[1:-1].encode() + b"]}"
    )
    response = client.post(
        "/api/v1/events",
        data=body,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 202 and response.json()["accepted"] == 6


@pytest.mark.django_db
@pytest.mark.parametrize("cut", [10, 0.5, -4])
def test_truncated_gzip_is_400_and_accepts_nothing(client, ingest_key, cut):
    _, key = ingest_key
    whole = gzip.compress("\n".join(json.dumps(e) for e in EventFactory.build_batch(200)).encode())
    body = whole[: int(len(whole) * cut) if isinstance(cut, float) else cut]
    response = client.post(
        "/api/v1/events",
        data=body,
        content_type="application/x-ndjson",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_gzip"
    assert not InboxBatch.objects.exists() and not SeenEvent.objects.exists()


def _chunked_post(port: int, key: str, pieces: list[bytes], **headers) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST",
        "/api/v1/events",
        body=iter(pieces),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
        encode_chunked=True,
    )
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@committed
def test_chunked_body_without_content_length_is_read_whole(gunicorn_server):
    _, key = IngestKey.issue("chunky")
    events = EventFactory.build_batch(300)
    body = json.dumps(events).encode()
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    status, answer = _chunked_post(gunicorn_server, key, pieces)
    assert status == 202 and answer["accepted"] == 300
    status, answer = _chunked_post(
        gunicorn_server, key, [gzip.compress(body)], **{"Content-Encoding": "gzip"}
    )
    assert status == 202 and answer["duplicates"] == 300
    # The size limit still holds, counted while reading (the server's limit: 200,000 bytes).
    status, answer = _chunked_post(gunicorn_server, key, [b" " * 50_000] * 5)
    assert status == 413 and answer["error"]["code"] == "too_large"

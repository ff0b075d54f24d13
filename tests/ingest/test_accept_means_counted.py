"""Accepted means counted: whatever the accept path lets through, the worker writes; an event
that still cannot be written is isolated without failing its neighbours; bodies are read
whole or refused; no body answers 5xx."""

from __future__ import annotations

import gzip
import http.client
import json
import socket

import pytest
from django.utils import timezone

from ingest import maintenance, processing, services
from ingest.events import normalize
from ingest.models import DeadLetter, InboxBatch, IngestKey, SeenEvent
from ingest.values import known_categories
from rankings.models import App, Provider
from tests.factories import EventFactory, both_grains_equal, expected_totals, post_events

committed = pytest.mark.django_db(transaction=True)


def post_encoded(
    client, key: str, body: bytes, content_type: str = "application/json", encoding: str = "gzip"
):
    """POST a body already encoded (gzip, broken gzip) with its Content-Encoding."""
    return client.post(
        "/api/v1/events",
        data=body,
        content_type=content_type,
        HTTP_CONTENT_ENCODING=encoding,
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


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
@pytest.mark.parametrize("poison", [TOO_LONG_VARIANT, TOO_LONG_ORIGIN], ids=["write", "prepare"])
def test_a_batch_staged_in_parts_is_counted_whole(settings, monkeypatch, poison):
    """A worker reads a batch a part at a time: every part is counted, in any number of
    parts and with a last part short, and a bad event in a middle part is set aside alone."""
    settings.TOKENRANK = {**settings.TOKENRANK, "BATCH_COALESCE_EVENTS": 100_000}
    monkeypatch.setattr(processing, "STAGE_PART_EVENTS", 8)
    key, _ = IngestKey.issue("parts")
    events, others = EventFactory.build_batch(30), EventFactory.build_batch(5)
    batch = store_as_accepted(key, events, poison={13: poison})
    store_as_accepted(key, others)
    assert processing.process_batch(batch) == "done"
    assert DeadLetter.objects.get().event_id == events[13]["id"]
    assert both_grains_equal(expected_totals(events[:13] + events[14:] + others))
    assert maintenance.verify_rollups()[1] == []


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
    # The operator fixes the other one in the backoffice and requeues both: the fixed one
    # counts; the resent one, never fixed, is validated again and stays a dead letter (it was
    # counted through the resend); requeuing again does nothing more.
    fixed = DeadLetter.objects.get(event_id=events[4]["id"])
    fixed.event = json.dumps({**json.loads(fixed.event), "variant": ""})
    fixed.save()
    result = services.requeue_dead_letters(DeadLetter.objects.all())
    assert (result.accepted, result.duplicates) == (1, 0)
    assert [r.id for r in result.rejected] == [events[3]["id"]] and "model" in result.rejected[0].errors
    processing.process_batch(result.batch_id)
    again = services.requeue_dead_letters(DeadLetter.objects.all())
    assert again.accepted == 0 and len(again.rejected) == 1
    assert both_grains_equal(expected_totals(events))


@committed
def test_requeue_validates_an_edited_dead_letter_like_any_event():
    key, _ = IngestKey.issue("gw")
    events = EventFactory.build_batch(3)
    processing.process_batch(store_as_accepted(key, events, poison={1: TOO_LONG_VARIANT}))
    letter = DeadLetter.objects.get()
    letter.event = json.dumps({**json.loads(letter.event), "variant": "", "prompt": -1_000_000, "cached": 5})
    letter.save()
    result = services.requeue_dead_letters([letter])
    assert result.accepted == 0 and set(result.rejected[0].errors) == {"native_tokens_prompt"}
    assert DeadLetter.objects.get().requeued_at is None  # still waiting for a real fix
    assert both_grains_equal(expected_totals([events[0], events[2]]))


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
    response = post_encoded(client, key, body)
    assert response.status_code == 202 and response.json()["accepted"] == 6


@pytest.mark.django_db
@pytest.mark.parametrize("cut", [10, 0.5, -4])
def test_truncated_gzip_is_400_and_accepts_nothing(client, ingest_key, cut):
    _, key = ingest_key
    whole = gzip.compress("\n".join(json.dumps(e) for e in EventFactory.build_batch(200)).encode())
    body = whole[: int(len(whole) * cut) if isinstance(cut, float) else cut]
    response = post_encoded(client, key, body, "application/x-ndjson")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_gzip"
    assert not InboxBatch.objects.exists() and not SeenEvent.objects.exists()


@pytest.mark.django_db
def test_a_body_that_is_no_gzip_says_so_in_words(client, ingest_key):
    _, key = ingest_key
    response = post_encoded(client, key, json.dumps({"events": EventFactory.build_batch(2)}).encode())
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and "no gzip header" in message and "Error -3" not in message
    whole = gzip.compress(json.dumps(EventFactory.build_batch(2)).encode())
    response = post_encoded(client, key, whole + b"trailing garbage")
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and f"the {len(whole):,} bytes of gzip data are followed by" in message
    assert not InboxBatch.objects.exists()


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


# --- Found by a hostile trial ----------------------------------------------------------------


def _raw_post(port: int, key: str, body: bytes) -> tuple[int, bytes]:
    """A hand-framed request: chunked framing that a client library would not produce."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + body
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@committed
@pytest.mark.parametrize(
    "framing",
    [b"zz\r\n[]\r\n0\r\n\r\n", b"5\r\n[]\r\n0\r\n\r\n", b"2\r\n[]\r\n"],
    ids=["size-not-a-number", "size-wrong", "no-last-chunk"],
)
def test_malformed_chunked_body_is_400_not_500(gunicorn_server, framing):
    _, key = IngestKey.issue("framing")
    status, body = _raw_post(gunicorn_server, key, framing)
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "unreadable_body"


@pytest.mark.django_db
def test_many_gzip_members_are_refused_quickly(client, ingest_key):
    _, key = ingest_key
    body = gzip.compress(b"") * 5000 + gzip.compress(json.dumps([EventFactory.build()]).encode())
    response = post_encoded(client, key, body)
    assert response.status_code == 400 and "gzip members" in response.json()["error"]["message"]


@pytest.mark.django_db  # the known categories are read from the catalog
def test_validating_huge_fields_keeps_no_memory():
    """The validator's caches key on the text as sent: a huge model or category text must not
    stay in them (a gateway could grow the server's memory by megabytes per request)."""
    import gc
    import tracemalloc

    now = timezone.now()
    known_categories()  # the catalog's categories read (and cached) before measuring
    huge = [
        EventFactory.build(model=f"{n}" + "m" * 1_000_000, categories=f"{n}" + "c," * 500_000)
        for n in range(3)
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for event in huge:
            assert normalize(event, now)[0] is None  # the model is refused
        del event
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 500_000, f"{kept:,} bytes kept after validating"


@pytest.mark.django_db
def test_numbers_in_superscript_are_refused_with_a_clear_message(client, ingest_key):
    _, key = ingest_key
    answer = post_events(client, key, [EventFactory.build(tokens_prompt="²")]).json()
    assert answer["rejected"][0]["errors"] == {"tokens_prompt": "must be a whole number"}


@committed
def test_app_whose_origin_is_no_valid_link_can_still_be_saved_in_the_admin(client):
    from django.contrib.auth.models import User

    services.import_events(
        [
            EventFactory.build(origin="https://my_app.local/x"),
            EventFactory.build(origin="http://[::1]:8080/x"),
        ]
    )
    underscore = App.objects.get(origin="https://my_app.local/x")
    assert underscore.url == ""  # identifies the app, but no link the admin would accept
    assert App.objects.filter(origin="http://[::1]:8080/x").exists()  # IPv6 keeps its brackets
    client.force_login(User.objects.create_superuser("root", password="x"))
    change = f"/admin/rankings/app/{underscore.pk}/change/"
    form = client.get(change).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update({"is_public": "", "origins-TOTAL_FORMS": "0", "origins-INITIAL_FORMS": "0"})
    response = client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not App.objects.get(pk=underscore.pk).is_public


@pytest.mark.django_db
def test_ids_are_claimed_one_per_line_and_a_line_break_in_one_is_refused():
    """``claim_ids`` sends the ids as lines of one text: validated ids hold no line break,
    and one that did would be claimed as two, so it is refused, claiming nothing."""
    assert processing.claim_ids(["a", "b", "c"]) == {"a", "b", "c"}
    assert processing.claim_ids(["c", "d"]) == {"d"}
    assert normalize(EventFactory.build(id="e\nf"), timezone.now())[1] == {
        "id": "must be a string of 1-200 printable characters"
    }
    with pytest.raises(ValueError, match="line break"):
        processing.claim_ids(["e\nf"])
    assert not SeenEvent.objects.filter(id__in=["e", "f", "e\nf"]).exists()

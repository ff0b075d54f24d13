"""POST /api/v1/events: status codes, messages, and the valid rest of a batch kept."""

import gzip
import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from ingest.auth import revoke
from ingest.models import InboxBatch, IngestKey, SeenEvent
from tests.factories import EventFactory, post_events

pytestmark = pytest.mark.django_db


def stored_ids() -> set[str]:
    return {e["id"] for batch in InboxBatch.objects.all() for e in batch.events}


def test_valid_batch_is_stored_before_202(client, ingest_key):
    _, key = ingest_key
    events = EventFactory.build_batch(3)
    response = post_events(client, key, events)
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    batch = InboxBatch.objects.get()
    assert batch.status == "pending" and batch.event_count == 3
    assert stored_ids() == {e["id"] for e in events}
    key_row = IngestKey.objects.get()
    assert key_row.events_accepted == 3 and key_row.last_used_at is not None


def test_envelope_and_ndjson_and_gzip_bodies(client, ingest_key):
    _, key = ingest_key
    a, b, c = EventFactory.build_batch(3)
    assert post_events(client, key, {"events": [a]}).json()["accepted"] == 1
    ndjson = "\n".join(json.dumps(e) for e in [b]) + "\n"
    assert post_events(client, key, ndjson, content_type="application/x-ndjson").json()["accepted"] == 1
    assert post_events(client, key, [c], gzipped=True).json()["accepted"] == 1
    assert stored_ids() == {a["id"], b["id"], c["id"]}


def test_resent_and_repeated_ids_are_duplicates(client, ingest_key):
    _, key = ingest_key
    first, second = EventFactory.build_batch(2)
    post_events(client, key, [first])
    response = post_events(client, key, [first, second, second])
    assert response.json() == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert SeenEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"id": None}, "id", "is required"),
        ({"id": "bad\x00id"}, "id", "printable"),
        ({"id": "u-rtl\u202e2"}, "id", "printable"),  # a bidi override: not one id shown as another
        ({"id": "u-var\ufe0fabc"}, "id", "printable"),  # a variation selector: draws nothing
        ({"id": "u-\u3164abc"}, "id", "printable"),  # a Hangul filler
        ({"id": " u-space "}, "id", "spaces"),
        ({"id": "x" * 201}, "id", "1-200"),
        ({"created_at": "yesterday"}, "created_at", "RFC 3339"),
        ({"created_at": "2019-12-31T23:59:59Z"}, "created_at", "before 2020"),
        ({"created_at": "2999-01-01T00:00:00Z"}, "created_at", "more than 1 hour ahead of the server's clock"),
        ({"model": "no-slash"}, "model", "author/name"),
        ({"model": 42}, "model", "author/name"),
        ({"tokens_prompt": -5}, "tokens_prompt", "negative"),
        ({"tokens_prompt": 10**40}, "tokens_prompt", "at most"),
        ({"tokens_prompt": 10**12}, "tokens_prompt", "at most"),
        ({"tokens_prompt": "many"}, "tokens_prompt", "whole number"),
        ({"tokens_completion": 1.5}, "tokens_completion", "whole number"),
        ({"tokens_prompt": "9" * 45}, "tokens_prompt", "at most 100,000,000"),  # as text: a CSV cell
        ({"tokens_prompt": "-" + "9" * 45}, "tokens_prompt", "must not be negative"),
        ({"tokens_completion": True}, "tokens_completion", "whole number"),
        ({"total_cost": "NaN"}, "total_cost", "must be a number"),
        ({"total_cost": -1}, "total_cost", "negative"),
        ({"total_cost": "9" * 40}, "total_cost", "at most 100000"),
        ({"total_cost": [1]}, "total_cost", "number"),
        ({"latency": -1}, "latency", "negative"),
        ({"origin": "javascript:alert(1)"}, "origin", "http(s)"),
        ({"app_name": "x" * 100_000}, "app_name", "at most 200"),
        ({"categories": {"a": 1}}, "categories", "list"),
        ({"cancelled": "maybe"}, "cancelled", "true or false"),
        ({"native_tokens_reasoning": 10_000, "tokens_completion": 5}, "native_tokens_reasoning", "part of"),
        ({"native_tokens_cached": 10_000, "tokens_prompt": 5}, "native_tokens_cached", "part of"),
    ],
)
def test_bad_field_rejects_that_event_and_keeps_the_rest(client, ingest_key, overrides, field, message):
    _, key = ingest_key
    good = EventFactory.build()
    bad = EventFactory.build(**overrides)
    response = post_events(client, key, [good, bad])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    [rejection] = body["rejected"]
    assert rejection["index"] == 1
    assert message in rejection["errors"][field]
    assert stored_ids() == {good["id"]}


def test_a_number_too_large_for_a_float_is_too_large_not_unfinite(client, ingest_key):
    _, key = ingest_key
    for digits, said in (("9" * 5000, "must be at most 100,000,000"), ("-" + "9" * 5000, "must not be negative")):
        event = EventFactory.build(tokens_prompt=1)
        body = json.dumps([event]).replace('"tokens_prompt": 1', '"tokens_prompt": ' + digits, 1)
        assert digits in body
        [rejection] = post_events(client, key, body).json()["rejected"]
        assert rejection["errors"] == {"tokens_prompt": said}


def test_nan_literal_and_non_object_items(client, ingest_key):
    _, key = ingest_key
    good = EventFactory.build()
    raw = (
        "[" + json.dumps(good) + ', {"id": "n", "created_at": "2025-01-01T00:00:00Z", '
        '"model": "a/b", "tokens_prompt": NaN}, 7, "text", null]'
    )
    body = post_events(client, key, raw).json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 4]
    assert body["rejected"][0]["errors"]["tokens_prompt"] == "must be a number"


def test_bad_ndjson_line_rejects_only_that_line(client, ingest_key):
    _, key = ingest_key
    a, b = EventFactory.build_batch(2)
    body = f"{json.dumps(a)}\n{{not json\n{json.dumps(b)}\n"
    result = post_events(client, key, body, content_type="application/x-ndjson").json()
    assert result["accepted"] == 2
    assert result["rejected"][0]["index"] == 1
    assert "line 2" in result["rejected"][0]["errors"]["event"]


def test_unknown_fields_ignored_and_native_counts_preferred(client, ingest_key):
    _, key = ingest_key
    event = EventFactory.build(native_tokens_prompt=1234, something_new={"x": 1})
    post_events(client, key, [event])
    [stored] = InboxBatch.objects.get().events
    assert stored["prompt"] == 1234
    missing_native = EventFactory.build(tokens_prompt=777)
    post_events(client, key, [missing_native])
    assert InboxBatch.objects.latest("pk").events[0]["prompt"] == 777


def test_model_variant_author_and_category_are_parsed(client, ingest_key):
    _, key = ingest_key
    event = EventFactory.build(
        model="DeepSeek/deepseek-r1:free",
        categories=["unknown-x", "Marketing/SEO"],
        origin="HTTPS://Www.Example.com/app/?utm=1",
        provider_name=None,
    )
    post_events(client, key, [event])
    [stored] = InboxBatch.objects.get().events
    assert (stored["author"], stored["model"], stored["variant"]) == (
        "deepseek",
        "deepseek/deepseek-r1",
        "free",
    )
    assert stored["category"] == "marketing-seo"
    assert stored["origin"] == "https://www.example.com/app"
    assert stored["provider"] == "unknown"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("[{", "application/json", 400, "parse_error"),
        ("\x00\x01garbage", "application/json", 400, "parse_error"),
        ('{"not": "events"}', "application/json", 400, "parse_error"),
        ("[]", "application/json", 400, "empty_batch"),
        ("[" * 100_000, "application/json", 400, "parse_error"),
        ("a,b\n1,2", "text/csv", 415, "unsupported_media_type"),
        ('[{"id": 1}]', "application/json", 400, "no_valid_events"),
    ],
)
def test_whole_body_errors(client, ingest_key, body, content_type, status, code):
    _, key = ingest_key
    response = post_events(client, key, body, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert InboxBatch.objects.count() == 0


def test_parse_error_names_the_position(client, ingest_key):
    _, key = ingest_key
    response = post_events(client, key, '[\n{"id": "a",,}]')
    assert response.status_code == 400
    assert "line 2 column" in response.json()["error"]["message"]


def test_invalid_utf8_is_400(client, ingest_key):
    _, key = ingest_key
    response = post_events(client, key, b'[{"id": "\xff"}]')
    assert response.status_code == 400


def test_no_key_is_401_and_unknown_key_is_401(client):
    response = post_events(client, None, [EventFactory.build()])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "Bearer" in response["WWW-Authenticate"]
    assert post_events(client, "trk_nope", [EventFactory.build()]).status_code == 401


def test_revoked_key_is_403_at_once(client, ingest_key):
    key_row, key = ingest_key
    assert post_events(client, key, [EventFactory.build()]).status_code == 202
    revoke(key_row)
    response = post_events(client, key, [EventFactory.build()])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "key_revoked"


def test_too_many_events_is_413(client, ingest_key, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "INGEST_MAX_EVENTS": 5}
    _, key = ingest_key
    response = post_events(client, key, EventFactory.build_batch(6))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_events"


def test_too_many_bytes_is_413(client, ingest_key, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "INGEST_MAX_BYTES": 1000}
    _, key = ingest_key
    assert post_events(client, key, EventFactory.build_batch(20)).status_code == 413


def test_gzip_bomb_is_413_without_inflating_it(client, ingest_key):
    _, key = ingest_key
    bomb = gzip.compress(b"[" + b" " * (200 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 1024 * 1024
    response = client.post(
        "/api/v1/events",
        data=bomb,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 413


def test_corrupt_gzip_is_400_and_unknown_encoding_is_415(client, ingest_key):
    _, key = ingest_key
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    bad = client.post(
        "/api/v1/events",
        data=b"not gzip",
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        **headers,
    )
    assert bad.status_code == 400
    br = client.post(
        "/api/v1/events", data=b"[]", content_type="application/json", HTTP_CONTENT_ENCODING="br", **headers
    )
    assert br.status_code == 415
    body = json.dumps(EventFactory.build_batch(1)).encode()
    for charset, status in (("latin-1", 415), ('"UTF-8"', 202), ("utf8", 202)):
        answer = client.post(
            "/api/v1/events", data=body, content_type=f"application/json; charset={charset}", **headers
        )
        assert answer.status_code == status, charset
    assert answer.json()["duplicates"] == 1  # the first utf-8 send was counted; latin-1 was not read



def test_rate_limit_is_429_with_retry_after(client, ingest_key):
    key_row, key = ingest_key
    key_row.rate_limit_per_minute = 2
    key_row.save()
    statuses = [post_events(client, key, [EventFactory.build()]).status_code for _ in range(3)]
    assert statuses[:2] == [202, 202]
    assert statuses[2] == 429
    response = post_events(client, key, [EventFactory.build()])
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"


def test_events_far_in_the_past_of_retention_are_still_accepted(client, ingest_key):
    _, key = ingest_key
    event = EventFactory.build(created_at=(timezone.now().replace(year=2021)).isoformat())
    assert post_events(client, key, [event]).json()["accepted"] == 1


def test_an_event_dated_ahead_of_the_clock_is_counted_when_it_arrived(client, ingest_key):
    """A gateway's clock skew (within the hour allowed) must not put a request after now: a
    window "so far" would leave it out, or its last day read whole would count it early."""
    _, key = ingest_key
    sent = timezone.now()
    ahead = EventFactory.build(created_at=(sent + timedelta(minutes=50)).isoformat())
    on_time = EventFactory.build(created_at=(sent - timedelta(minutes=5)).isoformat())
    assert post_events(client, key, [ahead, on_time]).json()["accepted"] == 2
    stored = {e["id"]: datetime.fromisoformat(e["created_at"]) for e in InboxBatch.objects.get().events}
    assert sent <= stored[ahead["id"]] <= timezone.now()
    assert stored[on_time["id"]] == datetime.fromisoformat(on_time["created_at"])


def test_a_free_variant_without_a_cost_costs_nothing(ingest_key):
    from ingest.events import normalize, with_defaults

    now = timezone.now()
    free, _ = normalize(EventFactory.build(model="openai/gpt-4o:free", total_cost=None), now)
    paid, _ = normalize(EventFactory.build(model="openai/gpt-4o", total_cost=None), now)
    assert free["cost"] == "0" and with_defaults(paid)["cost"] is None  # None: priced from the list at write time

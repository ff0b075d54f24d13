"""Property-based tests of the accept contract (Hypothesis).

1. Whatever ``validate`` accepts, the worker writes: events drawn field by field from
   adversarial values (lone surrogates, control characters, characters that grow when
   lowercased, long strings, huge and odd numbers, odd timestamps) go through the real accept
   path and the real batch processing on PostgreSQL; none may end as a dead letter.
2. No body answers 5xx: arbitrary bytes, JSON documents, NDJSON and gzip (whole, truncated,
   corrupt) posted to the endpoint answer 202 or a 4xx.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest import processing
from ingest.models import InboxBatch
from tests.factories import post_events

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example database under the project tree: every run explores afresh
)

# Every character, lone surrogates and control characters included.
any_char = st.characters(codec=None, exclude_categories=())
tricky_char = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\u0130", "\ufb03", "ß", "\u2028", "\x85", "\u200b", "/", ":", "-", " "]
)
text = st.text(st.one_of(any_char, tricky_char), max_size=40) | st.text(
    st.one_of(any_char, tricky_char), min_size=90, max_size=520
)
host = st.from_regex(r"[a-z0-9.\-]{1,30}\.[a-z]{2,4}", fullmatch=True)
origin = st.one_of(
    text,
    st.builds(lambda h, p: f"https://{h}/{p}", host, text),
    st.builds(lambda h: h, host),
    st.builds(lambda n: "\u0130" * n + ".com", st.integers(1, 300)),
    st.builds(lambda n: "a" * n + ".com", st.integers(480, 500)),
)
model = st.one_of(
    st.sampled_from(["anthropic/claude-sonnet-4", "openai/gpt-4o:free", "meta/llama-3:nitro"]),
    st.builds(
        lambda a, b, v: f"{a}/{b}{v}",
        st.from_regex(r"[a-z0-9][a-z0-9._\-]{0,70}", fullmatch=True),
        st.from_regex(r"[a-z0-9][a-z0-9._\-]{0,135}", fullmatch=True),
        st.sampled_from(["", ":free", ":x" * 9]),
    ),
    text,
)
count = st.one_of(
    st.integers(-5, 200_000_000),
    st.integers(min_value=2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["12", " 7 ", "-3", "1e3", "²", "５", True, None, "", [], {}]),
)
money = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-10, 10**30),
    st.sampled_from(["0.0123", "1e-40", "99999.99999999999", "1E+5", None]),
)
moment = st.one_of(
    st.datetimes(
        min_value=datetime(2020, 1, 2), max_value=datetime(2026, 12, 31), timezones=st.timezones()
    ).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "2025-02-30T00:00:00Z", "now"]
    ),
    text,
)
ANY = st.one_of(text, count, money, st.booleans(), st.none())
ERROR_KIND = st.sampled_from(["invalid_json", "unknown_tool", "schema_mismatch", "other"])
TAG_KEY = st.sampled_from(["programming_language", "language", "task", " Language ", "team"])


def recent() -> st.SearchStrategy[str]:
    """A time the accept path takes: the last few days, in any zone."""
    now = timezone.now()
    return st.integers(0, 3 * 24 * 3600).flatmap(
        lambda s: st.timezones().map(lambda z: (now - timedelta(seconds=s)).astimezone(z).isoformat())
    )


def event(created_at: st.SearchStrategy = moment) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"id": st.one_of(text, st.integers(), st.uuids().map(str))},
        optional={
            "created_at": created_at,
            "model": model,
            "variant": st.one_of(text, st.sampled_from(["standard", "free", "NITRO", "x" * 17])),
            "provider_name": text,
            "origin": origin,
            "http_referer": origin,
            "app_name": text,
            "categories": st.one_of(
                text, st.lists(text, max_size=4), st.sampled_from(["programming", "marketing/seo"])
            ),
            "tokens_prompt": count,
            "tokens_completion": count,
            "native_tokens_prompt": count,
            "native_tokens_completion": count,
            "native_tokens_reasoning": count,
            "native_tokens_cached": count,
            "total_cost": money,
            "usage": money,
            "latency": count,
            "generation_time": count,
            "cancelled": ANY,
            "streamed": ANY,
            "is_byok": ANY,
            "finish_reason": text,
            "num_search_results": count,
            "tool_calls": st.one_of(count, st.lists(ANY, max_size=3)),
            "tool_call_errors": st.one_of(ANY, st.dictionaries(st.one_of(text, ERROR_KIND), count, max_size=5)),
            "tags": st.one_of(ANY, st.dictionaries(st.one_of(text, TAG_KEY), ANY, max_size=6)),
            "session_id": st.one_of(text, st.integers()),
            "harness": text,
        },
    )


# Text for the write property: no lone surrogates (refused at accept, never reaching the
# write) but control characters and characters that grow when lowercased or normalized.
write_char = st.one_of(
    st.characters(codec=None, exclude_categories=("Cs",)),
    st.sampled_from(["\x00", "\x7f", "\u0130", "\ufb03", "ß", "\u2028", "\x85", "\u200b", "ǅ"]),
)


def near(limit: int) -> st.SearchStrategy[str]:
    """Short text, or text at the field's accepted length limit (where growth overflows)."""
    return st.text(write_char, max_size=12) | st.text(write_char, min_size=limit - 6, max_size=limit)


write_origin = st.one_of(
    near(500),
    st.builds(lambda h, p: f"https://{h}/{p}", host, near(480)),
    st.builds(lambda n: "\u0130" * n + ".com", st.integers(1, 300)),
    st.builds(lambda n: "a" * n + ".com", st.integers(480, 496)),
)


def writable_event() -> st.SearchStrategy[dict]:
    """Events whose types are right but whose text is hostile: the values the write path
    could refuse (columns, catalog, slugs), with numbers at their accepted limits."""
    tokens = st.one_of(st.integers(0, 100_000_000), st.sampled_from([0, 100_000_000, "42", "５"]))
    return st.fixed_dictionaries(
        {
            "id": st.one_of(near(200), st.uuids().map(str), st.integers(0, 2**63)),
            "created_at": recent(),
            "model": st.one_of(model, st.sampled_from(["anthropic/claude-sonnet-4", "x/y:free"])),
            "tokens_prompt": tokens,
            "tokens_completion": tokens,
        },
        optional={
            "variant": st.one_of(near(16), st.sampled_from(["standard", "free", "NITRO", "x" * 16])),
            "provider_name": near(100),
            "origin": write_origin,
            "app_name": near(200),
            "categories": st.one_of(near(30), st.lists(near(30), max_size=4)),
            "native_tokens_reasoning": st.integers(0, 50),
            "native_tokens_cached": st.integers(0, 50),
            "total_cost": st.one_of(st.decimals(0, 100_000, places=12).map(str), st.floats(0, 100_000)),
            "latency": st.integers(0, 86_400_000),
            "generation_time": st.floats(0, 86_400_000),
            "cancelled": st.booleans(),
            "streamed": st.sampled_from([True, False, "true", "0", ""]),
            "finish_reason": near(50),
            "tool_calls": st.integers(0, 10_000),
            "tool_call_errors": st.one_of(st.integers(0, 2), st.dictionaries(ERROR_KIND, st.integers(0, 1))),
            "tags": st.dictionaries(st.one_of(TAG_KEY, near(64)), near(100), max_size=6),
            "session_id": st.one_of(near(200), st.integers(0, 2**63)),
            "harness": near(64),
        },
    )


def as_json(value) -> bytes:
    """JSON as a gateway might write it: lone surrogates as escapes, NaN as a literal."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def raw_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_rawevent")
        return cursor.fetchone()[0]


def _event(**fields) -> dict:
    return {
        "id": fields.pop("id", "fuzz-x"),
        "created_at": timezone.now().isoformat(),
        "model": "a/b",
        **fields,
    }


@FUZZ
@given(events=st.lists(writable_event(), min_size=1, max_size=4))
# Values that once passed validation and failed the write, always tried.
@example(events=[_event(origin="a" * 496 + ".com")])
@example(events=[_event(origin="https://" + "\u0130" * 300 + ".com")])
@example(events=[_event(id="v", variant="nitro\x00")])
@example(events=[_event(id="f", finish_reason="stop\x00")])
@example(events=[_event(id=f"s{n}", origin=f"https://one.example/{n}") for n in range(60)])
def test_whatever_validate_accepts_the_worker_writes(client, ingest_key, events):
    _, key = ingest_key
    before = raw_count()
    response = post_events(client, key, as_json(events))
    assert response.status_code in (202, 400), response.content
    accepted = response.json()["accepted"]
    if not accepted:
        return
    batch = InboxBatch.objects.latest("pk")
    assert processing.process_batch(batch.pk) == "done"
    batch.refresh_from_db()
    assert batch.dead_letter_count == 0, batch.last_error
    assert raw_count() == before + accepted


def gzip_variants(body: bytes) -> st.SearchStrategy[tuple[bytes, str]]:
    whole = gzip.compress(body)
    return st.sampled_from(
        [
            (body, ""),
            (whole, "gzip"),
            (whole + whole, "gzip"),
            (whole[: len(whole) // 2], "gzip"),
            (whole[:-3], "gzip"),
            (whole[:10] + b"\xff" * 20 + whole[30:], "gzip"),
            (body, "br"),
        ]
    )


json_document = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=600),
    json_document.map(as_json),
    st.lists(event(), max_size=5).map(as_json),
    st.lists(event(), max_size=5).map(lambda items: {"events": items}).map(as_json),
    st.lists(st.one_of(event().map(as_json), st.binary(max_size=40)), max_size=5).map(b"\n".join),
)


@FUZZ
@given(
    body_and_encoding=bodies.flatmap(gzip_variants),
    content_type=st.sampled_from(
        ["application/json", "application/x-ndjson", "text/plain", "application/json; charset=latin-1"]
    ),
)
def test_no_body_answers_5xx(client, ingest_key, body_and_encoding, content_type):
    _, key = ingest_key
    body, encoding = body_and_encoding
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    # client.generic sends the bytes as they are (client.post would transcode to the charset).
    response = client.generic(
        "POST", "/api/v1/events", body, content_type, HTTP_AUTHORIZATION=f"Bearer {key}", **extra
    )
    assert response.status_code in (202, 400, 413, 415), response.content
    assert response["Content-Type"].startswith("application/json")
    json.loads(response.content)  # always a readable answer


def test_fuzz_strategies_reach_the_write_path(db):
    """The write property is only as good as its examples: most generated events must pass
    validation (and reach the worker), with hostile text among them."""
    from ingest.events import normalize

    now = datetime.now(UTC)
    outcomes = []

    @settings(max_examples=300, database=None, deadline=None, derandomize=True)
    @given(item=writable_event())
    def sample(item):
        outcomes.append(normalize(item, now)[0] is not None)

    sample()
    assert sum(outcomes) >= len(outcomes) // 5, f"only {sum(outcomes)} of {len(outcomes)} events were valid"

"""The optional fields of the narrow rollups (tool calls, tags, session): read, bounded,
rejected with the field's name when wrong, counted once whichever way they come in."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ingest import extras
from ingest.events import as_record, normalize, validate_batch
from ingest.models import RawEvent
from ingest.services import import_events
from rankings.models import TagKey, TagValue
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def errors_of(**fields) -> dict[str, str]:
    return normalize(EventFactory.build(**fields), timezone.now())[1]


def test_a_finish_reason_of_tool_calls_counts_one_call_and_failures_are_calls():
    event = EventFactory.build(finish_reason="tool_calls", tool_calls=None, tool_call_errors=None)
    failing = EventFactory.build(tool_calls=None, tool_call_errors=3)
    listed = EventFactory.build(tool_calls=[{"name": "a"}, {"name": "b"}], tool_call_errors={"schema_mismatch": 1})
    assert import_events([event, failing, listed]).accepted == 3
    counted = {r.id: r for r in RawEvent.objects.all()}
    assert counted[event["id"]].tool_calls == 1
    assert (counted[failing["id"]].tool_calls, counted[failing["id"]].tool_errors_other) == (3, 3)
    assert (counted[listed["id"]].tool_calls, counted[listed["id"]].tool_errors_schema_mismatch) == (2, 1)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"tool_calls": -1}, "tool_calls", "must not be negative"),
        ({"tool_calls": 10_001}, "tool_calls", "at most 10,000"),
        ({"tool_calls": 1, "tool_call_errors": 2}, "tool_call_errors", "more than tool_calls"),
        ({"tool_call_errors": {"timeout": 1}}, "tool_call_errors", "unknown kind 'timeout'"),
        ({"tool_call_errors": {"invalid_json": "x"}}, "tool_call_errors", "whole number"),
        ({"tags": ["python"]}, "tags", "must be an object"),
        ({"tags": {f"k{n}": "v" for n in range(65)}}, "tags", "at most 64 keys"),
        ({"tags": {"language": 3}}, "tags", "language: must be a string"),
        ({"tags": {"language": "x" * 101}}, "tags", "at most 100 characters"),
        ({"tags": {"language": "\ud800"}}, "tags", "lone surrogate"),
        ({"tags": {"language": "fr", "Language": "de"}}, "tags", "language: given twice"),
        ({"session_id": "s" * 201}, "session_id", "at most 200"),
        ({"session_id": ["s"]}, "session_id", "must be a string"),
        ({"harness": "h" * 65}, "harness", "at most 64"),
        ({"harness": "\u0130" * 64}, "harness", "once normalized"),  # grows when lowercased
    ],
)
def test_wrong_values_are_rejected_naming_the_field(fields, field, message):
    errors = errors_of(**fields)
    assert message in errors[field]


@pytest.mark.parametrize("text", ["s-1\u200b", "s-\u3164-1", "s\u00ad-1"])
def test_a_session_harness_or_tag_value_with_a_character_that_draws_nothing_is_rejected(text):
    """It would look like another ("s-1") and count apart from it."""
    assert "none that draws nothing" in errors_of(session_id=text)["session_id"]
    assert "none that draws nothing" in errors_of(harness=text)["harness"]
    assert errors_of(tags={"task": text})["tags"].startswith("task: must hold only printable characters")


def test_limits_hold_for_the_composed_spelling_and_harnesses_fold_compatibility_forms():
    decomposed = "e\u0301" * 150  # 300 code points, 150 once composed: within the 200 allowed
    event, errors = normalize(
        EventFactory.build(id=f"e-{decomposed}", session_id=decomposed, harness="\uff23\uff2c\uff29\uff2e\uff25"),
        timezone.now(),
    )
    assert errors == {}
    assert (event["id"], event["session_id"], event["harness"]) == (f"e-{"\u00e9" * 150}", "\u00e9" * 150, "cline")


def test_one_id_session_harness_or_tag_sent_in_two_spellings_counts_as_one():
    """Composed and decomposed accents (NFC, NFD) are one text; harnesses casefold like tags."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    events = [
        EventFactory.build(id=f"e-{spelling}", session_id=spelling, harness=harness, tags={"task": spelling})
        for spelling, harness in ((composed, "Stra\u00dfe"), (decomposed, "STRASSE"))
    ]
    validated = validate_batch(events, timezone.now())
    assert (len(validated.events), validated.duplicates_in_batch) == (1, 1)
    event = normalize(events[1], timezone.now())[0]
    assert (event["id"], event["session_id"], event["harness"]) == (f"e-{composed}", composed, "strasse")
    assert event["tags"] == f"task={composed}"


def test_unranked_keys_are_ignored_whatever_they_hold_and_values_are_normalized():
    event, errors = normalize(
        EventFactory.build(tags={" Language ": "  EN  us ", "team": {"nested": [1]}, "task": "", "x": None}),
        timezone.now(),
    )
    assert errors == {}
    assert event["tags"] == "language=en us"


def test_a_key_ranked_in_the_admin_is_counted_within_the_ttl(monkeypatch):
    """Also for tags objects read (and remembered) before the key was ranked."""
    monkeypatch.setattr(extras, "_ranked", (float("-inf"), frozenset()))
    first, second = EventFactory.build(), EventFactory.build(tags={"team": "search", "task": "qa"})
    for _ in range(2):
        assert "team=search" not in validate_batch([first], timezone.now()).events[0]["tags"]
    TagKey.objects.create(key="team", name="Team")
    monkeypatch.setattr(extras, "_ranked", (float("-inf"), extras._ranked[1]))  # the TTL is over
    for event in (second, first):
        tags = validate_batch([event], timezone.now()).events[0]["tags"]
        assert extras.split_tags(tags)[-1] == "team=search"


def test_a_dead_letter_written_back_reads_the_same():
    event, _ = normalize(
        EventFactory.build(tool_calls=4, tool_call_errors={"invalid_json": 1, "other": 2}, harness="Cline"),
        timezone.now(),
    )
    again, errors = normalize(as_record(event), timezone.now())
    assert errors == {} and again == event


def test_a_keys_values_past_its_limit_count_as_other_and_the_limit_holds():
    TagKey.objects.filter(key="language").update(max_values=2)
    events = [EventFactory.build(tags={"language": f"lang-{n % 5}"}) for n in range(20)]
    assert import_events(events, chunk_size=7).accepted == 20
    values = set(TagValue.objects.filter(key__key="language").values_list("value", flat=True))
    assert len(values - {"other"}) == 2 and "other" in values
    counted = [
        tag
        for tags in RawEvent.objects.values_list("tags", flat=True)
        for tag in extras.split_tags(tags)
        if tag.startswith("language=")
    ]
    assert len(counted) == 20 and set(counted) == {f"language={v}" for v in values}


def test_a_session_is_counted_under_the_hash_of_its_id_one_row_per_session():
    """The session table keys a session by ``hashtextextended(session_id, 0)`` (an 8-byte key,
    ingest.0020): each id gets its own row, whatever its length, and its turns add up."""
    from django.db import connection

    from ingest.narrow_models import UsageSession

    long_id = "s" * extras.MAX_SESSION_ID
    ids = ["a", "b", long_id, long_id[:-1] + "t"]
    events = [
        EventFactory.build(session_id=ids[n % 4], harness="cline", model="lab/m", created_at=timezone.now().isoformat())
        for n in range(12)
    ]
    assert import_events(events).accepted == 12
    with connection.cursor() as cursor:
        cursor.execute("SELECT hashtextextended(s, 0), s FROM unnest(%s::text[]) AS s", [ids])
        hashes = dict(cursor.fetchall())
    turns = dict(UsageSession.objects.values_list("session_key", "requests"))
    assert {hashes[key]: n for key, n in turns.items()} == {session: 3 for session in ids}

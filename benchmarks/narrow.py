"""The benchmark's share of issue 16: the ingest workload with tool calls, tags and sessions
(the HTTP + Celery rate with them against the same run without), and the narrow rollups at
OpenRouter-like cardinality for the page benchmark. Imported by ``benchmarks/run.py`` after
Django is set up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

LANGUAGES = ["en"] * 83 + ["zh-hans"] * 5 + ["es", "ru", "pt", "de", "fr", "ja", "ko", "it", "tr", "pl", "nl", "ar"]
PROGRAMMING = ["python"] * 6 + ["typescript"] * 4 + ["javascript"] * 3 + ["java", "go", "rust", "c++", "c#", "php"]
TASKS = ["code.generation", "code.debugging", "code.refactoring", "qa", "writing", "roleplay.chat", "translation"]
HARNESSES = ["cline", "claude-code", "kilo-code", "roo-code", None, None, None]


def with_fields(events: list[dict], seed: int = 7) -> list[dict]:
    """The same events (new ids) with what a 2026 gateway sends: tags on every event (a
    programming language on coding ones), tool calls on two in five (some failing), and
    sessions: an app's consecutive requests in time to one model (the events' own: the
    cube's keys are those of the run without the fields), ~10 turns each, with the harness
    named by about half of them."""
    rng = random.Random(seed)
    open_sessions: dict[str, list] = {}
    fields: dict[int, dict] = {}
    for n in sorted(range(len(events)), key=lambda i: events[i]["created_at"]):
        event = events[n]
        app = (event["origin"], event["model"])  # a session keeps its model
        session = open_sessions.get(app)
        if session is None or session[1] <= 0:
            session = [f"{app[0][8:]}-{n}", rng.randint(1, 20), HARNESSES[n % len(HARNESSES)]]
            open_sessions[app] = session
        session[1] -= 1
        added = {
            "id": event["id"] + "-n",
            "tags": {"language": rng.choice(LANGUAGES), "task": rng.choice(TASKS)},
            "session_id": session[0],
        }
        if event["categories"] == "programming" or n % 3 == 0:
            added["tags"]["programming_language"] = rng.choice(PROGRAMMING)
        if session[2]:
            added["harness"] = session[2]
        if rng.random() < 0.4:
            added["tool_calls"] = rng.randint(1, 4)
            added["finish_reason"] = "tool_calls"
            if rng.random() < 0.05:
                added["tool_call_errors"] = {rng.choice(["invalid_json", "unknown_tool", "schema_mismatch"]): 1}
        fields[n] = added
    return [{**event, **fields[n]} for n, event in enumerate(events)]


# A random value per measure column of a generated rollup row (run.py's cube and the narrow
# rollups); those not listed are 0.
GENERATED = {
    "requests": "(1 + random() * 500)::bigint",
    "prompt_tokens": "(random() * 5e7)::bigint",
    "completion_tokens": "(random() * 5e6)::bigint",
    "reasoning_tokens": "(random() * 1e6)::bigint",
    "cached_tokens": "(random() * 2e7)::bigint",
    "cost": "(random() * 50)::numeric",
    "latency_ms_sum": "(random() * 1e6)::bigint",
    "latency_count": "(1 + random() * 500)::bigint",
    "generation_ms_sum": "(random() * 5e6)::bigint",
    "generation_count": "(1 + random() * 500)::bigint",
    "generation_completion_tokens": "(random() * 5e6)::bigint",
    "tool_calls": "(1 + random() * 900)::bigint",
    "tool_errors_invalid_json": "(random() * 10)::bigint",
    "tool_errors_unknown_tool": "(random() * 5)::bigint",
    "tool_errors_schema_mismatch": "(random() * 15)::bigint",
}
SESSION_VALUES = {
    "requests": "(1 + floor(20 * power(random(), 3)))::bigint",
    "prompt_tokens": "(random() * 4e5)::bigint",
    "completion_tokens": "(random() * 2e4)::bigint",
    "cost": "(random() * 2)::numeric",
    "tool_calls": "(random() * 30)::bigint",
}
PICK = "({array}::bigint[])[1 + floor(cardinality({array}::bigint[]) * power(random() + 0 * g, {skew}))::int]"


def _insert(cursor, grain, keys: dict[str, str], values: dict[str, str], series: str, per: int, params) -> None:
    """Rows of ``grain``: ``per`` draws of its key (``keys``: column -> SQL, over the bucket
    ``s.b`` and the draw ``g``) per bucket of ``series``, one per key, in key order (as ingest
    writes them), with random measures."""
    measures = ", ".join(f"{values.get(c, '0')} AS {c}" for c in grain.measure_columns)
    columns = ", ".join(grain.columns)
    positions = ", ".join(str(n) for n in range(1, len(grain.columns) + 1))
    cursor.execute(
        f"INSERT INTO {grain.table} ({columns}, {', '.join(grain.measure_columns)}) "
        f"SELECT DISTINCT ON ({positions}) {', '.join(keys[c] for c in grain.columns)}, {measures} "
        f"FROM {series} AS s(b), generate_series(1, {per}) AS g ORDER BY {positions}",
        params,
    )


def build_narrow_rollups(days: int = 365) -> dict[str, int]:
    """The narrow rollups over the bench catalog (run.py's 400 models, 60 providers, 5,000
    apps) for ``days``, with 3 ranked tag keys of 50 values each and 2 % of the apps
    private. Returns rows per table."""
    from django.db import connection

    from ingest.rollups.grains import (
        CONTEXT_DAILY,
        CONTEXT_TOTAL,
        SESSIONS,
        TAG_APP_DAILY,
        TAG_DAILY,
        TAG_TOTAL,
        TOOL_DAILY,
    )
    from ingest.schema import CONTEXT_BUCKETS
    from rankings.models import App, TagKey, TagValue

    for key in TagKey.objects.filter(ranked=True):
        TagValue.objects.bulk_create(
            [TagValue(key=key, value=f"{key.key}-{n}", tag=f"{key.key}={key.key}-{n}") for n in range(50)],
            ignore_conflicts=True,
        )
    App.objects.filter(slug__regex=r"^bench-app-[0-9]*[05]7$").update(is_public=False)  # 2 %
    with connection.cursor() as cursor:
        arrays = {}
        for name, query in (
            ("models", "SELECT array_agg(id ORDER BY id) FROM rankings_llmmodel WHERE slug LIKE 'bench-author-%%'"),
            ("apps", "SELECT array_agg(id ORDER BY id) FROM rankings_app WHERE slug LIKE 'bench-app-%%'"),
            ("providers", "SELECT array_agg(id ORDER BY id) FROM rankings_provider WHERE slug LIKE 'bench-provider-%%'"),
            ("tags", "SELECT array_agg(id ORDER BY id) FROM rankings_tagvalue"),
        ):
            cursor.execute(query)
            arrays[name] = cursor.fetchone()[0]
        contexts = "(ARRAY[" + ", ".join(f"'{code}'" for code, _, _ in CONTEXT_BUCKETS) + "])[1 + floor(5 * random())::int]"
        keys = {
            "model_id": PICK.format(array="%(models)s", skew=2.2),
            "provider_id": PICK.format(array="%(providers)s", skew=1.5),
            "app_id": PICK.format(array="%(apps)s", skew=2.5),
            "tag_id": PICK.format(array="%(tags)s", skew=1.8),
            "context": contexts,
            "harness": "(ARRAY['', 'cline', 'claude-code', 'kilo-code', 'roo-code'])[1 + floor(5 * random())::int]",
            "session_key": "g",
        }
        today = datetime.now(UTC).date()
        daily = f"generate_series('{today - timedelta(days=days - 1)}'::date, '{today}'::date, '1 day')"
        plan = [
            (TOOL_DAILY, 2_500, GENERATED),
            (CONTEXT_DAILY, 2_000, GENERATED),
            (CONTEXT_TOTAL, 20, GENERATED),
            (TAG_DAILY, 8_000, GENERATED),
            (TAG_TOTAL, 600, GENERATED),
            (TAG_APP_DAILY, 20_000, GENERATED),
            (SESSIONS, 6_000, SESSION_VALUES),
        ]
        counts = {}
        # Built afresh: after a zone change the rows older than the raw events are still there.
        cursor.execute("TRUNCATE " + ", ".join(grain.table for grain, _, _ in plan))
        for grain, per, values in plan:
            _insert(cursor, grain, {**keys, "bucket": "s.b::date"}, values, daily, per, arrays)
            cursor.execute(f"VACUUM ANALYZE {grain.table}")
            cursor.execute(f"SELECT count(*) FROM {grain.table}")
            counts[grain.table] = cursor.fetchone()[0]
    return counts

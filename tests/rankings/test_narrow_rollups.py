"""Tool calls, context length, tags and cost per session: every number the selectors give
equals the same sum (or percentile) computed over the raw events, for several windows, with
private apps' tags and sessions never shown."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingest import schema
from ingest.extras import split_tags
from ingest.models import RawEvent
from rankings import selectors
from rankings.models import App, LLMModel, TagKey, TagValue
from rankings.selectors import Filters, Window
from tests.rankings.conftest import APPS, MODELS

pytestmark = pytest.mark.django_db

def windows() -> list[Window]:
    now = datetime.now(UTC)
    return [
        selectors.period_window("day"),  # hourly grains
        selectors.period_window("week"),
        selectors.period_window("month"),
        selectors.period_window("all"),
        Window(now - timedelta(days=9, minutes=37), now - timedelta(hours=30)),  # off day boundaries
    ]


def raw(window: Window):
    """The raw events the narrow rollups (per UTC day) count for ``window``: its whole days."""
    window = window.whole_days()
    return list(
        RawEvent.objects.filter(created_at__gte=window.start, created_at__lt=window.end).values(
            "model_id",
            "provider_id",
            "app_id",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "tool_calls",
            "tags",
            "session_id",
            "harness",
            *(f"tool_errors_{kind}" for kind, _ in schema.TOOL_ERROR_KINDS),
        )
    )


def tokens(row) -> int:
    return row["prompt_tokens"] + row["completion_tokens"]


def private_ids() -> set[int]:
    return set(App.objects.filter(is_public=False).values_list("pk", flat=True))


@pytest.mark.parametrize("by", ["model", "model_provider"])
def test_tool_calls_and_failures_match_raw_events(narrow, by):
    for window in windows():
        expected = defaultdict(lambda: defaultdict(int))
        for row in raw(window):
            if row["tool_calls"]:
                key = (row["model_id"],) if by == "model" else (row["model_id"], row["provider_id"])
                expected[key]["calls"] += row["tool_calls"]
                expected[key]["requests"] += 1
                expected[key]["tokens"] += tokens(row)
                for kind, _ in schema.TOOL_ERROR_KINDS:
                    expected[key][kind] += row[f"tool_errors_{kind}"]
        ranking = selectors.tool_ranking(window, by=by, limit=None)
        got = {
            row.keys: {
                "calls": row.tool_calls,
                "requests": row.requests,
                "tokens": row.value,
                **row.failures,
            }
            for row in ranking.rows
        }
        assert got == {k: dict(v) for k, v in expected.items()}, window
        assert ranking.total == sum(v["calls"] for v in expected.values())
        calls = [row.tool_calls for row in ranking.rows]
        assert calls == sorted(calls, reverse=True)


def test_context_length_buckets_match_raw_events(narrow):
    limits = [(code, limit) for code, _, limit in schema.CONTEXT_BUCKETS]

    def bucket(prompt: int) -> str:
        return next(code for code, limit in limits if limit is None or prompt < limit)

    for window in windows():
        for model in (None, LLMModel.objects.get(slug=MODELS[1])):
            expected = defaultdict(int)
            for row in raw(window):
                if model is None or row["model_id"] == model.pk:
                    expected[bucket(row["prompt_tokens"])] += tokens(row)
            filters = Filters(model=model.pk if model else None)
            shares = selectors.context_shares(window, filters=filters)
            assert [r.entity.code for r in shares] == [code for code, _ in limits]
            assert {r.entity.code: r.value for r in shares if r.value} == dict(expected), window
            total = sum(expected.values()) or 1
            assert all(math.isclose(r.share, expected.get(r.entity.code, 0) / total) for r in shares)
        series = selectors.context_series(window, interval="day")
        assert sum(sum(values) for _, values in series.series) == sum(tokens(r) for r in raw(window))


def test_context_by_model_gives_each_models_bucket_shares(narrow):
    window = selectors.period_window("month")
    for row in selectors.context_by_model(window):
        mine = [r for r in raw(window) if r["model_id"] == row.key]
        assert row.value == sum(tokens(r) for r in mine)
        assert math.isclose(sum(row.extra.values()), 1.0)


def expected_tags(window: Window, key: str, *, model=None, app=None) -> dict[str, int]:
    """Tokens per value of ``key`` over the raw events (private apps left out of every reading
    but a model's, which shows only values public apps use too)."""
    private = private_ids()
    per_value: dict[str, int] = defaultdict(int)
    public_values = set()
    for row in raw(window):
        for tag in split_tags(row["tags"]):
            k, value = tag.split("=", 1)
            if k != key:
                continue
            if row["app_id"] not in private:
                public_values.add(value)
            if (model is not None and row["model_id"] != model) or (app is not None and row["app_id"] != app):
                continue
            if model is None and row["app_id"] in private:
                continue
            per_value[value] += tokens(row)
    if model is not None:
        per_value = {v: n for v, n in per_value.items() if v in public_values}
    return {v: n for v, n in per_value.items() if n}


@pytest.mark.parametrize("key", ["programming_language", "language", "task"])
def test_tag_rankings_match_raw_events_without_private_apps(narrow, key):
    tag_key = TagKey.objects.get(key=key)
    model = LLMModel.objects.get(slug=MODELS[0]).pk
    app = App.objects.get(origin=APPS[0][0]).pk
    for window in windows():
        for scope in ({}, {"model": model}, {"app": app}):
            ranking = selectors.tag_ranking(tag_key, window, filters=Filters(**scope), limit=None)
            got = {row.entity.value: row.value for row in ranking.rows}
            assert got == expected_tags(window, key, **scope), (window, scope)
            assert "secret-lang" not in got
            assert math.isclose(sum(r.share for r in ranking.rows), 1.0) or not ranking.rows
        series = selectors.tag_series(tag_key, window, interval="day", top=2)
        assert sum(sum(v) for _, v in series.series) + sum(series.others) == sum(
            expected_tags(window, key).values()
        )


def test_tag_values_past_a_keys_limit_fold_into_other(narrow):
    values = set(TagValue.objects.filter(key__key="task").values_list("value", flat=True))
    assert len(values - {"other"}) == 3 and "other" in values
    counted = {tag for tags in RawEvent.objects.values_list("tags", flat=True) for tag in split_tags(tags)}
    assert {t for t in counted if t.startswith("task=")} == {f"task={v}" for v in values}
    assert not any(t.startswith("team=") for t in counted)  # not a ranked key: ignored


def percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def turn_range(turns: int) -> str:
    return next(label for label, _, last in schema.TURN_RANGES if last is None or turns <= last)


@pytest.mark.parametrize("metric", ["cost", "tokens"])
def test_cost_per_session_percentiles_match_raw_events(narrow, metric):
    private = private_ids()
    for window in windows():
        for scope in ({}, {"app": App.objects.get(origin=APPS[0][0]).pk}):
            sessions: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), 0])
            for row in raw(window):
                if not row["session_id"] or row["app_id"] in private:
                    continue
                if scope and row["app_id"] != scope["app"]:
                    continue
                key = (row["app_id"], row["harness"], row["session_id"], row["model_id"])
                sessions[key][0] += 1
                sessions[key][1] += row["cost"]
                sessions[key][2] += tokens(row)
            groups: dict[tuple, list] = defaultdict(list)
            for (app_id, harness, _, model_id), (turns, cost, n) in sessions.items():
                value = float(cost) if metric == "cost" else float(n)
                label = (None if harness else app_id, harness, model_id)
                groups[label].append((turns, value, float(cost)))
                groups[label + (turn_range(turns),)].append((turns, value, float(cost)))
            report = selectors.session_report(window, metric=metric, filters=Filters(**scope), limit=None)
            assert report.count == len([k for k in groups if len(k) == 3]), window
            for group in report.rows:
                key = (group.app_id, group.harness, group.model_id)
                for stats, members in [(group.all, groups[key])] + [
                    (stats, groups[key + (label,)]) for label, stats in group.by_turns.items()
                ]:
                    assert stats.sessions == len(members)
                    assert math.isclose(stats.total, sum(v for _, v, _ in members))
                    assert math.isclose(stats.median, percentile([v for _, v, _ in members], 0.5))
                    assert math.isclose(stats.p90, percentile([v for _, v, _ in members], 0.9))
                    assert math.isclose(stats.p90_cost, percentile([c for _, _, c in members], 0.9))
                    assert math.isclose(stats.median_turns, percentile([t for t, _, _ in members], 0.5))
            assert sum(s.sessions for s in report.by_turns.values()) == len(sessions)
            assert all(g.harness != "secret-harness" for g in report.rows)
            assert all(g.app_id not in private for g in report.rows)

"""The home page's and entity pages' sections of the narrow rollups: tool calls, languages,
context length, any ranked tag, and cost per session. Each home section follows the page's
period and metric and has tabs of its own; entity pages show the same scoped to a model (or
an app: its sessions and tags)."""

from __future__ import annotations

from typing import Any

from ingest import schema
from rankings import charts, selectors
from rankings.cache import cached
from rankings.models import TagKey
from rankings.page_state import LANGUAGE_LABELS, PERIOD_LABELS, TURN_LABELS, State, tabs
from rankings.selectors import Filters, Window
from rankings.selectors.sessions import METRICS as SESSION_METRICS

HISTORY_DAYS = 90  # the weekly charts of these sections, like the categories one


def _period_tabs(state: State, path: str, section: str) -> list[dict[str, Any]]:
    return tabs(state, path, "period", PERIOD_LABELS, section)


def _session_metric(metric: str) -> str:
    """Sessions are read in the page's metric when a session row sums it, else in cost."""
    return metric if metric in SESSION_METRICS else "cost"


def session_rows(sessions: dict[str, Any], turns: str) -> list[tuple[Any, Any]]:
    """(harness x model group, its figures) for every session or one turn range."""
    groups = sessions["report"].rows
    if turns == "all":
        return [(group, group.all) for group in groups]
    return [(group, group.by_turns[turns]) for group in groups if turns in group.by_turns]


def _window(state: State) -> Window:
    """The narrow rollups are per UTC day: the whole days of the page's period ("today" is
    read as yesterday and today, and labelled so)."""
    return state.period_window(state.period).whole_days()


def section_tools(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = _window(state)
        return {
            "window": window,
            "models": selectors.tool_ranking(window, metric=state.metric, limit=10),
            "pairs": selectors.tool_ranking(window, by="model_provider", metric=state.metric, limit=10),
        }

    return {
        "tools": cached("home:tools:" + state.key("period", "metric"), compute),
        "tools_tabs": _period_tabs(state, path, "tools"),
        "tool_kinds": schema.TOOL_ERROR_KINDS,  # every kind, "other" too: they add up to the error rate
    }


def _tag_block(key: TagKey | None, state: State, filters: Filters | None = None) -> dict[str, Any] | None:
    """A ranked key's values this period and its weekly chart."""
    if key is None:
        return None
    window = _window(state)
    history = state.history_window(HISTORY_DAYS, "week")
    series = selectors.tag_series(key, history, interval="week", metric=state.metric, top=6, filters=filters)
    return {
        "key": key,
        "window": window,
        "ranking": selectors.tag_ranking(key, window, metric=state.metric, filters=filters, limit=10),
        "figure": charts.stacked_bars(series, height=260),
    }


def section_languages(state: State, path: str) -> dict[str, Any]:
    def compute():
        return _tag_block(TagKey.objects.filter(key=state.lang, ranked=True).first(), state)

    ranked = {k.key for k in selectors.ranked_keys()}
    return {
        "languages": cached("home:languages:" + state.key("lang", "period", "metric"), compute),
        "languages_tabs": tabs(
            state, path, "lang", {k: v for k, v in LANGUAGE_LABELS.items() if k in ranked}, "languages"
        ),
        "languages_period_tabs": _period_tabs(state, path, "languages"),
    }


def section_tags(state: State, path: str) -> dict[str, Any]:
    keys = selectors.ranked_keys()
    key = next((k for k in keys if k.key == state.tag), keys[0] if keys else None)

    def compute():
        return _tag_block(key, state)

    return {
        "by_tag": cached("home:tags:" + state.key("tag", "period", "metric"), compute),
        "tag_tabs": tabs(state, path, "tag", {k.key: k.name for k in keys}, "tags"),
        "tags_period_tabs": _period_tabs(state, path, "tags"),
    }


def _context(window: Window, history: Window, metric: str, filters: Filters | None = None) -> dict[str, Any]:
    series = selectors.context_series(history, interval="week", metric=metric, filters=filters)
    return {
        "window": window,
        "buckets": selectors.context_shares(window, metric=metric, filters=filters),
        "figure": charts.stacked_bars(series, normalize=True, height=260),
    }


def section_context(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = _window(state)
        context = _context(window, state.history_window(HISTORY_DAYS, "week"), state.metric)
        context["models"] = selectors.context_by_model(window, metric=state.metric, limit=10)
        return context

    return {
        "context": cached("home:context:" + state.key("period", "metric"), compute),
        "context_tabs": _period_tabs(state, path, "context"),
        "context_buckets": selectors.BUCKETS,
    }


def _sessions(state: State, filters: Filters | None = None, limit: int = 12) -> dict[str, Any]:
    window = _window(state)
    metric = _session_metric(state.metric)
    report = selectors.session_report(window, metric=metric, filters=filters, limit=limit)
    counts = {label: stats.sessions for label, stats in report.by_turns.items()}
    return {
        "report": report,
        "metric": metric,
        "figure": charts.grouped_bars(list(counts), {"Sessions": list(counts.values())}, height=220)
        if counts
        else None,
    }


def section_sessions(state: State, path: str) -> dict[str, Any]:
    sessions = cached("home:sessions:" + state.key("period", "metric"), lambda: _sessions(state))
    return {
        "sessions": sessions,
        "session_rows": session_rows(sessions, state.turns),
        "turn_tabs": tabs(state, path, "turns", TURN_LABELS, "sessions"),
        "sessions_period_tabs": _period_tabs(state, path, "sessions"),
    }


NARROW_SECTIONS = {
    "tools": section_tools,
    "languages": section_languages,
    "context": section_context,
    "tags": section_tags,
    "sessions": section_sessions,
}


def entity_sections(kind: str, obj: Any, state: State, window: Window, history: Window) -> dict[str, Any]:
    """What a model's page (tool calls per provider, its languages and tags, context length,
    cost per session by harness) or an app's page (its sessions and tags) adds."""
    if kind not in ("model", "app"):
        return {}
    filters = Filters(**{kind: obj.pk})
    window = window.whole_days()
    keys = selectors.ranked_keys()
    out: dict[str, Any] = {
        "tag_blocks": [
            (key, selectors.tag_ranking(key, window, metric=state.metric, filters=filters, limit=8)) for key in keys
        ],
        "sessions": _sessions(state, filters, limit=8),
    }
    out["session_rows"] = session_rows(out["sessions"], "all")
    if kind == "model":
        out["tools"] = selectors.tool_ranking(window, by="provider", metric=state.metric, filters=filters)
        out["tool_kinds"] = schema.TOOL_ERROR_KINDS
        out["context"] = _context(window, history, state.metric, filters)
    return out

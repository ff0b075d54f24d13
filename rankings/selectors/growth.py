"""Reads for the growth report (``rankings.growth`` and its seven drivers,
``rankings.drivers``): every sum it needs from three passes over the rollups, each over the
smallest grain that answers for the window (``ingest.rollups.read.source``): per model and
variant (and per category) over the two compared windows, per model over the window before
them, and per app over the two.

"Free" traffic is the ``:free`` variants plus models the catalog lists at $0 (both prices
zero): a property of the rollup key, so every grain gives the same answer (a zero sum of
cost would not: a daily row can mix free and paid hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.models import App, Category, LLMModel

FREE_VARIANT = "free"
CODING_CATEGORY = "programming"
# What the report sums per model and variant: the measures metrics are made of.
MEASURES = tuple(m.column for m in schema.METRIC_MEASURES)


def free_models() -> set[int]:
    """Models the catalog lists at $0."""
    return set(LLMModel.objects.filter(prompt_price=0, completion_price=0).values_list("pk", flat=True))


@dataclass(frozen=True)
class Sums:
    """Per model × variant (``category`` None) or per category (``model_id`` None): each
    measure of :data:`MEASURES` summed in the earlier and the later window."""

    model_id: int | None
    variant: str | None
    category_id: int | None
    before: dict[str, Any]
    after: dict[str, Any]

    @staticmethod
    def tokens(side: dict[str, Any]) -> int:
        return side["prompt_tokens"] + side["completion_tokens"]


# Whether a rollup row ``u`` falls in the later window (the query's ``%(split)s``): grouping
# by it sums each window apart with one aggregate per measure, not one per measure and window.
_LATER = sql.SQL("u.bucket >= %(split)s")
_SUMS = sql.SQL(", ").join(
    sql.SQL("sum({}){}").format(sql.Identifier("u", c), sql.SQL("" if c == "cost" else "::bigint"))
    for c in MEASURES
)
# Per model × variant and per category, each window apart, in one range scan of the grain's
# primary key (bucket first): the per-model-variant-category daily table for whole days, the
# hourly cube otherwise; two grouping sets, one pass.
_MODEL_VARIANTS = sql.SQL(
    "SELECT {later}, u.model_id, u.variant, u.category_id, GROUPING(u.category_id), {sums}{source} "
    "GROUP BY GROUPING SETS ((1, u.model_id, u.variant), (1, u.category_id))"
)


def model_variants(after: Window) -> list[Sums]:
    """Every model × variant and every category used in ``after`` or the equal window before."""
    before = after.previous()
    source = read.source(
        Window(before.start, after.end), Filters(), columns=frozenset({"model_id", "variant", "category_id"})
    )
    query = _MODEL_VARIANTS.format(later=_LATER, sums=_SUMS, source=source.sql)
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "split": read.bounds(after, source.grain)[0]})
        rows = cursor.fetchall()
    empty = dict.fromkeys(MEASURES, 0)
    sums: dict[tuple, list[dict[str, Any]]] = {}
    for later, model, variant, category, grouping, *values in rows:
        key = (model, variant, None) if grouping == 1 else (None, None, category)
        sums.setdefault(key, [empty, empty])[later] = dict(zip(MEASURES, values, strict=True))
    return [Sums(*key, before, after) for key, (before, after) in sums.items()]


# Tokens per model in one window: the per-model daily table for whole days (its primary key),
# the hourly cube otherwise.
_PER_MODEL = sql.SQL("SELECT u.model_id, sum({tokens})::bigint{source} GROUP BY 1")


def model_tokens(window: Window) -> dict[int, int]:
    source = read.source(window, Filters(), entity="model")
    with read_cursor() as cursor:
        cursor.execute(_PER_MODEL.format(tokens=read.metric_sum("tokens"), source=source.sql), source.params)
        return dict(cursor.fetchall())


@dataclass(frozen=True)
class AppRow:
    """An app's tokens in the two windows: in all, on free traffic, in the programming
    category (both windows together), and how many models it used in each."""

    app_id: int
    before: int
    after: int
    free_before: int
    free_after: int
    coding: int
    models_before: int
    models_after: int


# Per app and window, in one range scan of the cube (the only grain with apps and models;
# whole days: the daily one). The models an app used are counted exactly without grouping by
# app and model (nearly a row per cube row at OpenRouter-like cardinality): each row sets its
# model's bit in a string of bits as long as the largest model id, OR-ed per app.
_APPS = sql.SQL(
    "SELECT u.app_id, {later}, sum({t})::bigint, coalesce(sum({t}) FILTER (WHERE {free}), 0)::bigint, "
    "coalesce(sum({t}) FILTER (WHERE u.category_id = %(coding)s), 0)::bigint, "
    "bit_count(bit_or(set_bit(%(no_models)s::bit({width}), u.model_id::int, 1))){source} GROUP BY 1, 2"
)
_FREE = sql.SQL("u.variant = %(free_variant)s OR u.model_id = ANY(%(free_models)s)")


def apps(after: Window) -> list[AppRow]:
    """Every app used in ``after`` or the equal window before it (private ones too: callers
    name none of them; requests sent without an app as the unattributed app)."""
    before = after.previous()
    columns = frozenset({"app_id", "model_id", "category_id", "variant"})
    source = read.source(Window(before.start, after.end), Filters(), columns=columns)
    width = (LLMModel.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    query = _APPS.format(
        later=_LATER, t=read.metric_sum("tokens"), free=_FREE, width=sql.Literal(width), source=source.sql
    )
    params = {
        **source.params,
        "split": read.bounds(after, source.grain)[0],
        "coding": Category.objects.filter(slug=CODING_CATEGORY).values_list("pk", flat=True).first(),
        "free_variant": FREE_VARIANT,
        "free_models": list(free_models()),
        "no_models": "0" * width,
    }
    with read_cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    per_app: dict[int, list[int]] = {}
    for app, later, tokens, free, coding, models in rows:
        line = per_app.setdefault(app, [0] * 7)
        line[later], line[2 + later], line[5 + later] = tokens, free, models
        line[4] += coding
    return [AppRow(app, *line) for app, line in per_app.items()]


def unattributed_app() -> int | None:
    """The app that stands for requests sent without one (it is no app)."""
    return App.objects.filter(slug=App.UNATTRIBUTED_SLUG).values_list("pk", flat=True).first()


def private_apps() -> set[int]:
    """Apps no public number names (few)."""
    return set(App.objects.filter(is_public=False).values_list("pk", flat=True))


def model_authors(model_ids: set[int]) -> dict[int, int]:
    return dict(LLMModel.objects.filter(pk__in=model_ids).values_list("pk", "author_id"))

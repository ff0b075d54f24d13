"""Reads for the seven drivers of token growth (``rankings.drivers``): per model and variant
over three consecutive windows, and per app over the two compared ones, each in one pass
over the rollups.

"Free" traffic is the ``:free`` variants plus models the catalog lists at $0 (both prices
zero): a property of the rollup key, so every grain gives the same answer (zero-cost rows
would not: a daily row can mix free and paid hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from psycopg import sql

from ingest.rollups import read
from ingest.rollups.grains import read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.models import App, Category, LLMModel

FREE_VARIANT = "free"
CODING_CATEGORY = "programming"

# Whether a rollup row ``u`` is free traffic (see the module's docstring).
_FREE = sql.SQL("(u.variant = %(free_variant)s OR u.model_id = ANY(%(free_models)s))")


def _free_params() -> dict[str, object]:
    models = list(LLMModel.objects.filter(prompt_price=0, completion_price=0).values_list("pk", flat=True))
    return {"free_variant": FREE_VARIANT, "free_models": models}


@dataclass(frozen=True)
class ModelVariantRow:
    """A model × variant's tokens in the three windows (earlier, before, after) and its
    spend in the last two."""

    model_id: int
    variant: str
    free: bool
    earlier: int
    before: int
    after: int
    cost_before: Decimal
    cost_after: Decimal


# Per model and variant, the three windows summed apart in one range scan of the grain's
# primary key (bucket first): the per-model-variant daily table for windows of whole days,
# the hourly cube otherwise.
_MODEL_VARIANTS = sql.SQL(
    "SELECT u.model_id, u.variant, {free}, "
    "coalesce(sum({tokens}) FILTER (WHERE u.bucket < %(split_before)s), 0)::bigint, "
    "coalesce(sum({tokens}) FILTER (WHERE u.bucket >= %(split_before)s AND u.bucket < %(split_after)s), 0)::bigint, "
    "coalesce(sum({tokens}) FILTER (WHERE u.bucket >= %(split_after)s), 0)::bigint, "
    "coalesce(sum(u.cost) FILTER (WHERE u.bucket >= %(split_before)s AND u.bucket < %(split_after)s), 0), "
    "coalesce(sum(u.cost) FILTER (WHERE u.bucket >= %(split_after)s), 0)"
    "{source} GROUP BY 1, 2"
)


def model_variants(after: Window) -> list[ModelVariantRow]:
    """Every model × variant used in ``after``, the equal window before it or the one before
    that (the earlier window tells which models had just entered the top)."""
    before = after.previous()
    span = Window(before.previous().start, after.end)
    source = read.source(span, Filters(), columns=frozenset({"model_id", "variant"}))
    query = _MODEL_VARIANTS.format(free=_FREE, tokens=read.metric_sum("tokens"), source=source.sql)
    params = {
        **source.params,
        **_free_params(),
        "split_before": read.bounds(before, source.grain)[0],
        "split_after": read.bounds(after, source.grain)[0],
    }
    with read_cursor() as cursor:
        cursor.execute(query, params)
        return [ModelVariantRow(*row) for row in cursor.fetchall()]


@dataclass(frozen=True)
class AppRow:
    """An app's tokens in the two windows: in all, on free traffic, the models it used, and
    whether programming is the category of most of its tokens over both windows.
    ``attributed``: false for requests sent without an app (counted, but no app)."""

    app_id: int
    attributed: bool
    before: int
    after: int
    free_before: int
    free_after: int
    models_before: int
    models_after: int
    coding: bool


# Per app: its (app, model) and (app, category) sums from one range scan of the cube (the
# only grain with both), through two grouping sets, then folded to one row per app.
_APPS = sql.SQL(
    "WITH g AS (SELECT u.app_id, u.model_id, u.category_id, GROUPING(u.model_id) AS by_category, "
    "sum({tokens}) FILTER (WHERE u.bucket < %(split)s) AS t0, "
    "sum({tokens}) FILTER (WHERE u.bucket >= %(split)s) AS t1, "
    "sum({tokens}) FILTER (WHERE u.bucket < %(split)s AND {free}) AS f0, "
    "sum({tokens}) FILTER (WHERE u.bucket >= %(split)s AND {free}) AS f1"
    "{source} GROUP BY GROUPING SETS ((u.app_id, u.model_id), (u.app_id, u.category_id))) "
    "SELECT app_id, app_id IS DISTINCT FROM %(unattributed)s, coalesce(sum(t0) FILTER (WHERE by_category = 0), 0)::bigint, "
    "coalesce(sum(t1) FILTER (WHERE by_category = 0), 0)::bigint, "
    "coalesce(sum(f0) FILTER (WHERE by_category = 0), 0)::bigint, "
    "coalesce(sum(f1) FILTER (WHERE by_category = 0), 0)::bigint, "
    "count(*) FILTER (WHERE by_category = 0 AND t0 > 0), count(*) FILTER (WHERE by_category = 0 AND t1 > 0), "
    "coalesce((array_agg(category_id ORDER BY coalesce(t0, 0) + coalesce(t1, 0) DESC, category_id) "
    "FILTER (WHERE by_category = 1))[1] = %(coding)s, false) "
    "FROM g GROUP BY app_id"
)


def apps(after: Window) -> list[AppRow]:
    """Every app (private ones too: the drivers name none) used in ``after`` or the equal
    window before it."""
    before = after.previous()
    span = Window(before.start, after.end)
    columns = frozenset({"app_id", "model_id", "category_id", "variant"})
    source = read.source(span, Filters(), columns=columns)
    coding = Category.objects.filter(slug=CODING_CATEGORY).values_list("pk", flat=True).first()
    query = _APPS.format(tokens=read.metric_sum("tokens"), free=_FREE, source=source.sql)
    params = {
        **source.params,
        **_free_params(),
        "split": read.bounds(after, source.grain)[0],
        "coding": coding,
        "unattributed": App.objects.filter(slug=App.UNATTRIBUTED_SLUG).values_list("pk", flat=True).first(),
    }
    with read_cursor() as cursor:
        cursor.execute(query, params)
        return [AppRow(*row) for row in cursor.fetchall()]

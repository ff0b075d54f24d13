"""Reads for the growth report (``rankings.growth`` and its seven drivers,
``rankings.drivers``): every sum it needs from three reads of the rollups, each over the
smallest grains that answer its windows (``ingest.rollups.read.cover``): per model and
variant (and per category) over the two compared windows, per model over the window before
the earlier one, and per app over the two.

"Free" traffic is the ``:free`` variants plus models the catalog lists at $0 (both prices
zero): a property of the rollup key, so every grain gives the same answer (a zero sum of
cost would not: a daily row can mix free and paid hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import transaction
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


class VariantSums(NamedTuple):
    """A model × variant's tokens and cost in the earlier and the later window. A named tuple,
    as the other rows of these reads: a report makes thousands, which a frozen dataclass
    builds several times slower (one ``object.__setattr__`` per field)."""

    model_id: int
    variant: str
    before: int
    after: int
    cost_before: Decimal
    cost_after: Decimal


class ModelVariants(NamedTuple):
    """Per model × variant, and every measure of :data:`MEASURES` per category in the earlier
    and the later window (the categories' sums add up to the windows' totals)."""

    variants: list[VariantSums]
    categories: dict[int, tuple[dict[str, Any], dict[str, Any]]]


@contextmanager
def _roomy_cursor() -> Iterator[Any]:
    """A read cursor (the database rollup reads go to) in a transaction of its own with 32 MB
    of ``work_mem``: two windows grouped by model, variant and category, or by app, are tens
    of thousands of groups, which then hash in memory instead of sorting on disk (two to three
    times faster at OpenRouter-like cardinality, benchmarks/run.py). A lower cost per row
    passed between processes lets the planner split these scans and partial sums over
    parallel workers: by default it prices the partial groups the workers hand over (a few
    thousand) as if there were one per input row, and keeps to one process (the per-app
    read over two weeks of the cube: 255 ms in one process, 185 ms in three on two cores)."""
    with read_cursor() as cursor, transaction.atomic(using=cursor.db.alias):
        cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute("SET LOCAL parallel_tuple_cost = 0.01")
        yield cursor


def _sides(
    windows: tuple[Window, ...], columns: frozenset[str], select: sql.Composable
) -> tuple[sql.Composed, dict]:
    """Each window's rollup rows (``select``: what of a row ``u`` to keep) with the window's
    index as ``side``, one window after the other: the two windows a change compares need
    not touch (a period so far against the same time of the period before). Each is read from
    the rollups that answer it exactly (``ingest.rollups.read.cover``), every run of a grain a
    plain range scan of its table in one flat UNION ALL: no nested subqueries whose rows each
    pass through two more steps (a sixth less CPU time in the apps' read)."""
    parts, params = [], {}
    for n, window in enumerate(windows):
        for k, piece in enumerate(read.cover(window, [], set(columns), weeks=True)):
            first, last = f"w{n}_p{k}_first", f"w{n}_p{k}_last"
            params.update({first: piece.first, last: piece.last})
            parts.append(
                sql.SQL(
                    "SELECT {side} AS side, {select} FROM {table} u WHERE u.bucket >= {first} AND u.bucket < {last}"
                ).format(
                    side=sql.Literal(n),
                    select=select,
                    table=piece.grain.name,
                    first=sql.Placeholder(first),
                    last=sql.Placeholder(last),
                )
            )
    return sql.SQL(" UNION ALL ").join(parts), params


# Per model × variant and per category, each window apart: two grouping sets, one pass over
# each window's rows (the per-model-variant-category daily table for its whole days). A model
# × variant row answers its tokens and cost, a category row every measure: the aggregates are
# the same for both sets, but thousands of model × variant rows no longer carry five more
# values each to Python.
_MODEL_VARIANTS = sql.SQL(
    "SELECT side, model_id, variant, category_id, GROUPING(category_id), ({tokens})::bigint, {sums} "
    "FROM ({rows}) s GROUP BY GROUPING SETS ((side, model_id, variant), (side, category_id))"
)


def model_variants(after: Window, before: Window) -> ModelVariants:
    """Every model × variant and every category used in ``before`` or ``after``."""
    columns = ("model_id", "variant", "category_id", *MEASURES)
    rows, params = _sides(
        (before, after), frozenset(columns[:3]), sql.SQL(", ").join(sql.Identifier("u", c) for c in columns)
    )
    tokens = sql.SQL(" + ").join(
        sql.SQL("sum({})").format(sql.Identifier(c)) for c in read.METRICS["tokens"].columns
    )
    # Cost for both sets; the other measures for categories only (NULL on model rows).
    sums = sql.SQL(", ").join(
        sql.SQL("sum(cost)")
        if c == "cost"
        else sql.SQL("CASE WHEN GROUPING(category_id) = 0 THEN sum({})::bigint END").format(sql.Identifier(c))
        for c in MEASURES
    )
    with _roomy_cursor() as cursor:
        cursor.execute(_MODEL_VARIANTS.format(tokens=tokens, sums=sums, rows=rows), params)
        fetched = cursor.fetchall()
    cost = MEASURES.index("cost")
    empty = dict.fromkeys(MEASURES, 0)
    variants: dict[tuple[int, str], list] = {}
    categories: dict[int, list[dict[str, Any]]] = {}
    for side, model, variant, category, per_model, tokens_sum, *values in fetched:
        if per_model:
            line = variants.setdefault((model, variant), [0, 0, Decimal(0), Decimal(0)])
            line[side], line[2 + side] = tokens_sum, values[cost]
        else:
            categories.setdefault(category, [empty, empty])[side] = dict(zip(MEASURES, values, strict=True))
    return ModelVariants(
        [VariantSums(*key, *line) for key, line in variants.items()],
        {category: (before, after) for category, (before, after) in categories.items()},
    )


# Tokens per model in one window: the per-model daily table for whole days (its primary key),
# the hourly cube otherwise.
_PER_MODEL = sql.SQL("SELECT u.model_id, sum({tokens})::bigint{source} GROUP BY 1")


def model_tokens(window: Window) -> dict[int, int]:
    source = read.source(window, Filters(), entity="model")
    with read_cursor() as cursor:
        cursor.execute(_PER_MODEL.format(tokens=read.metric_sum("tokens"), source=source.sql), source.params)
        return dict(cursor.fetchall())


class AppRow(NamedTuple):
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


# Per app and window, over each window's rows of the cube (the only grain with apps and
# models; its daily table for whole days). The models an app used are counted exactly without
# grouping by app and model (nearly a group per cube row at OpenRouter-like cardinality): each
# row sets its model's bit in a string of bits as long as the largest model id, OR-ed per app.
_APPS = sql.SQL(
    "SELECT app_id, side, sum(tokens)::bigint, "
    "coalesce(sum(tokens) FILTER (WHERE variant = %(free_variant)s OR model_id = ANY(%(free_models)s)), 0)::bigint, "
    "coalesce(sum(tokens) FILTER (WHERE category_id = %(coding)s), 0)::bigint, "
    "bit_count(bit_or(set_bit(%(no_models)s::bit({width}), model_id::int, 1))) FROM ({rows}) s GROUP BY 1, 2"
)


def apps(after: Window, before: Window) -> list[AppRow]:
    """Every app used in ``before`` or ``after`` (private ones too: callers name none of
    them; requests sent without an app as the unattributed app)."""
    select = sql.SQL("u.app_id, u.model_id, u.category_id, u.variant, {} AS tokens").format(
        read.metric_sum("tokens")
    )
    rows, params = _sides(
        (before, after), frozenset({"app_id", "model_id", "category_id", "variant"}), select
    )
    width = (LLMModel.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    params.update(
        coding=Category.objects.filter(slug=CODING_CATEGORY).values_list("pk", flat=True).first(),
        free_variant=FREE_VARIANT,
        free_models=list(free_models()),
        no_models="0" * width,
    )
    with _roomy_cursor() as cursor:
        cursor.execute(_APPS.format(width=sql.Literal(width), rows=rows), params)
        fetched = cursor.fetchall()
    per_app: dict[int, list[int]] = {}
    for app, side, tokens, free, coding, models in fetched:
        line = per_app.setdefault(app, [0] * 7)
        line[side], line[2 + side], line[5 + side] = tokens, free, models
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

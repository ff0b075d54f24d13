"""The fields of rollup models, from :mod:`ingest.schema`: a measure's column, a dimension's
key column, and the abstract models that carry a set of measures (every rollup model
subclasses one, in :mod:`ingest.models` and :mod:`ingest.narrow_models`)."""

from __future__ import annotations

from django.db import models

from ingest import schema


def measure_field(measure: schema.Measure) -> models.Field:
    if measure.money:
        return models.DecimalField(max_digits=24, decimal_places=10, default=0)
    return models.BigIntegerField(default=0)


def dimension_field(name: str, *, led: bool = False) -> models.Field:
    """A rollup key column. No foreign-key constraints: ingest resolves ids before it writes,
    and constraint checks on every upserted row would cost more than they protect. ``led``:
    the column gets no index of its own (every index is paid for on each upserted row)
    because another one serves every read that filters by it: an index of the table (or its
    primary key) that leads with it, or the primary key led by the bucket, when every read
    of the table that filters by the column also bounds the bucket to a few days."""
    dimension = schema.DIMENSION[name]
    if dimension.catalog:
        return models.ForeignKey(
            dimension.catalog, on_delete=models.DO_NOTHING, db_constraint=False, db_index=not led
        )
    return models.CharField(max_length=dimension.width, blank=True, default="")


def bucket_indexes(prefix: str, *columns: str) -> list[models.Index]:
    """One ``(column, bucket)`` index per column, named ``{prefix}_{column}_bucket``: the reads
    of one model's, app's or category's rows over a range of buckets."""
    return [models.Index(fields=[column, "bucket"], name=f"{prefix}_{column}_bucket") for column in columns]


def add_measures(model: type[models.Model], measures: tuple[schema.Measure, ...]) -> None:
    """One field per measure on an abstract rollup model."""
    for measure in measures:
        model.add_to_class(measure.column, measure_field(measure))


def measures_model(name: str, measures: tuple[schema.Measure, ...], doc: str) -> type[models.Model]:
    """An abstract rollup model carrying ``measures`` (sums, so rows merge by addition), read
    from the replica when one is configured (``config.db_router``)."""
    meta = type("Meta", (), {"abstract": True})
    model = type(
        name, (models.Model,), {"__module__": __name__, "__doc__": doc, "Meta": meta, "replica_reads": True}
    )
    add_measures(model, measures)
    return model


UsageMeasures = measures_model(
    "UsageMeasures",
    schema.MEASURES,
    "Every measure of :data:`ingest.schema.MEASURES`: the cube and its narrower tables.",
)
MetricMeasures = measures_model(
    "MetricMeasures", schema.METRIC_MEASURES, "What metrics sum: the narrow rollups' rows."
)
SessionMeasures = measures_model(
    "SessionMeasures",
    schema.SESSION_MEASURES,
    "What a session row sums: turns (requests), cost, tokens, tool calls.",
)


class DayKey(models.Model):
    """A daily (or weekly) rollup row's bucket: its day (or its week's Monday)."""

    bucket = models.DateField()

    class Meta:
        abstract = True


class ModelDayKey(DayKey):
    """A day's row of one model; the table's (model, bucket) index leads with the model."""

    model = dimension_field("model", led=True)

    class Meta:
        abstract = True


class AppDayKey(DayKey):
    """A day's row of one app; the table's (app, bucket) index leads with the app."""

    app = dimension_field("app", led=True)

    class Meta:
        abstract = True

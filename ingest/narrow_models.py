"""The narrow rollups: tool calls, context length, tags and sessions, in small daily tables of
their own beside the cube (whose reads keep their speed), written from the same events in
the same statement (:mod:`ingest.rollups.grains` declares their keys and measures). A key
column that an index leads with gets no index of its own (``led``)."""

from __future__ import annotations

from django.db import models

from ingest import schema
from ingest.rollup_fields import (
    AppDayKey,
    DayKey,
    MetricMeasures,
    ModelDayKey,
    SessionMeasures,
    add_measures,
    bucket_indexes,
    dimension_field,
)


class ToolMeasures(MetricMeasures):
    """What metrics sum plus tool calls and their failures by kind, over the requests that
    made tool calls."""

    class Meta:
        abstract = True


add_measures(ToolMeasures, schema.TOOL_MEASURES)


class UsageToolDaily(ToolMeasures, ModelDayKey):
    """Requests with tool calls per UTC day, model and provider."""

    pk = models.CompositePrimaryKey("bucket", "model", "provider")
    provider = dimension_field("provider", led=True)  # read with a bucket range

    class Meta:
        indexes = bucket_indexes("tooldaily", "model")


class UsageContextDaily(MetricMeasures, ModelDayKey):
    """Usage per UTC day, model and context-length bucket (from prompt tokens)."""

    pk = models.CompositePrimaryKey("bucket", "model", "context")
    context = dimension_field("context")

    class Meta:
        indexes = bucket_indexes("contextdaily", "model")


class UsageContextTotal(MetricMeasures, DayKey):
    """Usage per UTC day and context-length bucket: five rows a day for the home page."""

    pk = models.CompositePrimaryKey("bucket", "context")
    context = dimension_field("context")


class UsageTagDaily(MetricMeasures, ModelDayKey):
    """Usage per UTC day, ranked tag value and model (a model's tags): an event adds to one
    row per tag."""

    pk = models.CompositePrimaryKey("bucket", "tag", "model")
    tag = dimension_field("tag", led=True)  # read with a bucket range (primary key)

    class Meta:
        indexes = bucket_indexes("tagdaily", "model")


class UsageTagTotal(MetricMeasures, DayKey):
    """Usage per UTC day and ranked tag value: the tag rankings and charts of all apps."""

    pk = models.CompositePrimaryKey("bucket", "tag")
    tag = dimension_field("tag", led=True)  # read with a bucket range (primary key)


class UsageTagAppDaily(MetricMeasures, AppDayKey):
    """Usage per UTC day, app and ranked tag value: an app's tags (its page), and what
    private apps add to the tag rollups, taken out of every public tag reading."""

    pk = models.CompositePrimaryKey("bucket", "app", "tag")
    tag = dimension_field("tag", led=True)  # read with a bucket range

    class Meta:
        indexes = bucket_indexes("tagappdaily", "app")


class UsageSession(SessionMeasures, AppDayKey):
    """One row per UTC day a session was active, per app, harness and model: a session's
    turns and cost are the sum of its rows (docs/decisions.md, "Cost per session")."""

    pk = models.CompositePrimaryKey("bucket", "app", "harness", "session_key", "model")
    harness = dimension_field("harness")
    session_key = models.BigIntegerField()  # the session id's hash (ingest.schema, "session")
    model = dimension_field("model", led=True)  # read with a bucket range

    class Meta:
        indexes = bucket_indexes("session", "app")

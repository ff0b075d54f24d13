"""Ingest's tables: keys, the durable inbox, the dedup registry, the raw events and the usage
rollups built from them. The measures and dimensions of raw events and rollups come from
:mod:`ingest.schema`."""

from __future__ import annotations

import hashlib
import secrets

import orjson
from django.conf import settings
from django.contrib import admin
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from psycopg.types.json import Json

from ingest import narrow_models, schema  # noqa: F401 (registers the narrow rollups' models)
from ingest.rollup_fields import (
    AppDayKey,
    DayKey,
    ModelDayKey,
    UsageMeasures,
    bucket_indexes,
    dimension_field,
)

KEY_PREFIX = "trk_"


def hash_key(plaintext: str) -> str:
    """SHA-256 of an ingest key. Keys are 256-bit random tokens, so a fast hash is safe
    (no dictionary to attack) and keeps the per-request lookup cheap."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


class IngestKey(models.Model):
    name = models.CharField(max_length=100, unique=True)
    owner = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute; empty uses the default setting."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    events_accepted = models.BigIntegerField(default=0)
    is_test = models.BooleanField(
        "test key",
        default=False,
        help_text="Its events are accepted and kept, but never counted in any public number "
        "(rankings, pages, API, exports); see ingest.services.set_test_key.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def rate_limit(self) -> int:
        return self.rate_limit_per_minute or settings.TOKENRANK["INGEST_DEFAULT_RATE_LIMIT"]

    @classmethod
    def issue(cls, name: str, owner: str = "") -> tuple[IngestKey, str]:
        """Create a key; return it and its plaintext, which is never stored or shown again."""
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(name=name, owner=owner, prefix=plaintext[:10], key_hash=hash_key(plaintext))
        return key, plaintext


class PlainJSONField(models.JSONField):
    """JSON kept as PostgreSQL ``json`` (the text as sent), not ``jsonb``. For documents
    written once and read back whole, never queried inside: ``json`` costs about half of
    ``jsonb`` to store and to read back (inbox batches: 7.5 vs 14.3 µs per event to insert,
    3.7 vs 6.6 µs to read; docs/operations.md)."""

    def db_type(self, connection) -> str:
        return "json"

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        return None if value is None else Json(value, dumps=orjson.dumps)

    def from_db_value(self, value, expression, connection):
        # psycopg already parses ``json`` columns, with orjson (see IngestConfig.ready);
        # Django has psycopg hand jsonb over as text, which the parent parses.
        return value if not isinstance(value, str) else super().from_db_value(value, expression, connection)


class InboxBatch(models.Model):
    """A batch of accepted, validated, first-seen events, committed before the 202.

    Workers move it into raw events and rollups in one transaction and mark it done;
    a beat sweep re-enqueues batches left pending (broker down, worker killed).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"
        DISCARDED = "discarded"

    key = models.ForeignKey(IngestKey, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=20, default="http")
    received_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(default=timezone.now, help_text="Last handed to a worker.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    events = PlainJSONField(help_text="Normalized events (see ingest.events.normalize).")
    event_count = models.PositiveIntegerField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    dead_letter_count = models.PositiveIntegerField(
        default=0, help_text="Events of this batch the worker could not write (see dead letters)."
    )
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "inbox batches"
        indexes = [
            # The sweep and the health page look only at unfinished batches.
            models.Index(
                fields=["received_at"],
                name="inbox_pending_received",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["status", "processed_at"], name="inbox_status_processed"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.event_count} events, {self.status})"


class DeadLetter(models.Model):
    """An accepted event the worker could not write, kept with its error. Its id was
    released when it was set aside, so a corrected resend is counted; the rest of its batch
    was counted. :func:`ingest.services.requeue_dead_letters` tries it again."""

    batch = models.ForeignKey(InboxBatch, on_delete=models.CASCADE, related_name="dead_letters")
    event_id = models.CharField(max_length=200, help_text="As sent (escaped where not printable).")
    event = models.TextField(help_text="The normalized event as ASCII JSON: storable whatever it holds.")
    error = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"dead letter {self.event_id} (batch {self.batch_id})"


class SeenEvent(models.Model):
    """Every accepted event id, for exactly-once counting across batches and retries.

    Kept for the raw-event retention window (pruned with the raw partitions).
    """

    id = models.CharField(primary_key=True, max_length=200)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Ids arrive in time order: a BRIN index finds old ones for pruning at a fraction
            # of a btree's cost on every insert.
            BrinIndex(fields=["seen_at"], name="seen_event_seen_at_brin"),
        ]


class RawEvent(models.Model):
    """One usage event as counted. The table is partitioned by day on ``created_at``
    (see migration 0002 and :mod:`ingest.partitions`); Django does not manage it."""

    pk = models.CompositePrimaryKey("created_at", "id")
    id = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    batch_id = models.BigIntegerField(null=True)
    model_id = models.BigIntegerField()
    variant = models.CharField(max_length=16)
    provider_id = models.BigIntegerField()
    app_id = models.BigIntegerField()
    category_id = models.BigIntegerField()
    origin = models.CharField(max_length=500)
    cost = models.DecimalField(max_digits=24, decimal_places=10)
    cost_derived = models.BooleanField(
        default=False, help_text="No cost reported: priced from the model's list prices."
    )
    latency_ms = models.IntegerField(null=True)
    generation_ms = models.IntegerField(null=True)
    cancelled = models.BooleanField()
    streamed = models.BooleanField(null=True)
    finish_reason = models.CharField(max_length=50)
    is_byok = models.BooleanField()
    tool_calls = models.IntegerField(default=0)
    tags = models.TextField(default="", help_text="Ranked tags: key=value texts separated by chr(31).")
    session_id = models.CharField(max_length=200, default="")
    harness = models.CharField(max_length=64, default="")
    is_test = models.BooleanField(
        default=False, help_text="Sent with a test key: kept, not counted in the rollups."
    )

    class Meta:
        managed = False
        db_table = "ingest_rawevent"


for _count in schema.TOKENS:  # token counts: one column each (added by hand: see 0002)
    RawEvent.add_to_class(_count.column, models.BigIntegerField(default=0))
for _kind, _ in schema.TOOL_ERROR_KINDS:  # failed tool calls by kind (added by hand: see 0011)
    RawEvent.add_to_class(f"tool_errors_{_kind}", models.IntegerField(default=0))


class MaintenanceJob(models.Model):
    """A rollup rebuild or verification started from the admin, run by a Celery worker,
    with its progress and outcome kept for the record."""

    class Kind(models.TextChoices):
        REBUILD = "rebuild"
        VERIFY = "verify"
        RECOST = "recost", "recompute derived costs"
        TESTKEY = "testkey", "apply a key's test flag to its events"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    since = models.DateField()
    until = models.DateField()
    target = models.CharField(
        max_length=200,
        blank=True,
        help_text="Model slug, for cost recomputation; key name, for a test flag.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    result = models.TextField(blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.since}..{self.until} ({self.status})"

    @admin.display(description="done (%)")
    def percent(self) -> int:
        return int(self.progress_done * 100 / self.progress_total) if self.progress_total else 0

    @property
    def progress_unit(self) -> str:
        """What its progress counts: rollup tables checked (a verification), else days."""
        return "tables" if self.kind == self.Kind.VERIFY else "days"


class SourceTally(models.Model):
    """How many items each way in (events, OTLP spans, LiteLLM payloads) brought per hour, by
    outcome and reason: what the ingest health page shows per source. One upsert per request."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted"
        DUPLICATE = "duplicate"
        REJECTED = "rejected"  # items of a request that was answered
        REFUSED = "refused"  # whole requests answered with an error (reason: the error code)

    hour = models.DateTimeField()
    source = models.CharField(max_length=20)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=120, blank=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "source", "outcome", "reason"], name="source_tally_key")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.outcome} {self.reason} at {self.hour:%Y-%m-%d %H}: {self.count}"


# --- Usage rollups ---------------------------------------------------------------------------
# Written by ingest.rollups.write, rebuilt and checked by ingest.rollups.maintain, read through
# ingest.rollups.read. The tables keep the names they were created with (rankings_usage*).


class UsageRollup(UsageMeasures):
    """A row of the full cube: one per bucket and key of :data:`ingest.schema.CUBE`."""

    class Meta:
        abstract = True


# The cubes' (model, bucket) and (app, bucket) indexes lead with these columns.
_CUBE_LED = {"model", "app"}
for _name in schema.CUBE:
    UsageRollup.add_to_class(_name, dimension_field(_name, led=_name in _CUBE_LED))


class UsageQuarterHour(UsageRollup):
    """Usage per quarter-hour (UTC instants): every zone's days, weeks and months are whole
    quarter-hours, so any zone is answered exactly from it. The primary key leads with the
    bucket, so time-range scans use it; the two secondary indexes serve the per-model and
    per-app pages."""

    pk = models.CompositePrimaryKey("bucket", *schema.CUBE)
    bucket = models.DateTimeField()
    # Read for the edges of windows only (under a day each, ingest.rollups.read.cover): the
    # primary key's bucket range serves a provider or category filter.
    provider = dimension_field("provider", led=True)
    category = dimension_field("category", led=True)

    class Meta:
        db_table = "rankings_usagequarterhour"
        indexes = bucket_indexes("quarter", "model", "app")


class Calendar(models.Model):
    """One row: the zone the date rollups are bucketed in (``ingest.rollups.zones``), and since
    when the narrow rollups are whole days of it (their older rows could not be rebuilt)."""

    zone = models.CharField(max_length=64, default="UTC")
    changed_at = models.DateTimeField(null=True, blank=True)
    narrow_from = models.DateField(
        null=True, blank=True, help_text="The first day the narrow rollups hold whole in this zone."
    )
    narrow_before_zone = models.CharField(
        max_length=64, blank=True, default="", help_text="The zone of the narrow rows before narrow_from."
    )


class UsageDaily(UsageRollup):
    """Usage per day in the calendar's zone; same key and indexes as :class:`UsageQuarterHour`."""

    pk = models.CompositePrimaryKey("bucket", *schema.CUBE)
    bucket = models.DateField()

    class Meta:
        db_table = "rankings_usagedaily"
        indexes = bucket_indexes("daily", "model", "app")


class UsageModelDaily(UsageMeasures, ModelDayKey):
    """Usage per UTC day and per (model, variant, category): the full cube without app and
    provider. Unfiltered model, author, category and variant reads (the home page's charts and
    leaderboards) scan this much smaller table; see ingest.rollups.read."""

    pk = models.CompositePrimaryKey("bucket", "model", "variant", "category")
    variant = dimension_field("variant")
    category = dimension_field("category", led=True)

    class Meta:
        db_table = "rankings_usagemodeldaily"
        indexes = bucket_indexes("modeldaily", "model", "category")


class UsageModelTotal(UsageMeasures, ModelDayKey):
    """Usage per UTC day and per model: the smallest rollup, for unfiltered model and author
    rankings and series (a year is ~365 x models rows)."""

    pk = models.CompositePrimaryKey("bucket", "model")

    class Meta:
        db_table = "rankings_usagemodeltotal"
        indexes = bucket_indexes("modeltotal", "model")


class UsageAppDaily(UsageMeasures, AppDayKey):
    """Usage per UTC day and per app: app rankings and trending read this, not the cube."""

    pk = models.CompositePrimaryKey("bucket", "app")

    class Meta:
        db_table = "rankings_usageappdaily"
        indexes = bucket_indexes("appdaily", "app")


class UsageCategoryDaily(UsageMeasures, DayKey):
    """Usage per UTC day and per category: a dozen rows a day, for reads grouped or filtered by
    category alone (the growth report's 90 days of category trends, category rankings), which
    otherwise visit every page of the per-model-variant-category table for their days."""

    pk = models.CompositePrimaryKey("bucket", "category")
    category = dimension_field("category", led=True)  # read with a bucket range: the primary key


class UsageModelWeekly(UsageMeasures, DayKey):
    """Usage per ISO week (bucket = its Monday) and per model: the year-long weekly
    top-models and author-share charts read ~53 x models rows."""

    pk = models.CompositePrimaryKey("bucket", "model")
    model = dimension_field("model")

    class Meta:
        db_table = "rankings_usagemodelweekly"


class UsageCategoryWeekly(UsageMeasures, DayKey):
    """Usage per ISO week, category and model: a category's weekly chart. The key leads
    with the category, the only filter its reads use."""

    pk = models.CompositePrimaryKey("category", "bucket", "model")
    model = dimension_field("model")
    category = dimension_field("category", led=True)

    class Meta:
        db_table = "rankings_usagecategoryweekly"

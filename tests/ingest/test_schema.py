"""The declared schema (ingest.schema) and what is derived from it stay in step."""

from __future__ import annotations

import math
import time

import pytest
from django.utils import timezone

from ingest import schema, values
from ingest.events import validate_batch
from rankings.models import Category
from tests.factories import EventFactory


@pytest.mark.django_db
def test_a_category_added_in_the_catalog_is_recognised_within_the_ttl(monkeypatch):
    monkeypatch.setattr(values, "KNOWN_CATEGORIES_TTL", 0.5)
    monkeypatch.setattr(values, "_known_categories", (-math.inf, frozenset()))

    def category_of(categories: str) -> str:
        return validate_batch([EventFactory(categories=categories)], timezone.now()).events[0]["category"]

    assert category_of("poetry, roleplay") == "roleplay"
    Category.objects.create(slug="poetry", name="Poetry")
    assert category_of("poetry, roleplay") == "roleplay"  # read at most every TTL seconds
    time.sleep(0.6)
    assert category_of("poetry, roleplay") == "poetry"
    Category.objects.filter(slug="poetry").delete()
    time.sleep(0.6)
    assert category_of("poetry") == "other"


def test_every_metric_sums_declared_measures():
    columns = {m.column for m in schema.MEASURES}
    for metric in schema.METRICS:
        assert set(metric.columns) <= columns, metric.name


def test_every_page_breakdown_and_cube_key_names_a_dimension():
    for dimension in schema.DIMENSIONS:
        for _, entity in dimension.page:
            assert entity in schema.DIMENSION
    assert set(schema.CUBE) == {d.name for d in schema.STORED}


def test_each_grain_is_keyed_as_its_model():
    """Grains list their key in write order; their models declare the primary key: the two
    name the same columns, and every rollup model has every measure of its grain (the cube
    and its narrower tables every measure of the schema)."""
    from ingest.rollups.grains import GRAINS, NARROW

    for grain in GRAINS:
        key = {field.attname for field in grain.model._meta.pk_fields}
        assert key == set(grain.columns), grain.table
        fields = {field.attname for field in grain.model._meta.concrete_fields}
        assert set(grain.measure_columns) <= fields, grain.table
        if grain not in NARROW:
            assert {m.column for m in schema.MEASURES} <= fields, grain.table


def test_raw_events_have_every_raw_column():
    from ingest.models import RawEvent

    fields = {field.attname for field in RawEvent._meta.concrete_fields}
    assert set(schema.RAW_COLUMNS) <= fields


@pytest.mark.django_db
def test_the_accept_path_writes_no_compression_and_one_btree_per_claimed_id():
    """Per accepted event the accept path pays for the inbox column's storage and the dedup
    registry's indexes: a batch is stored uncompressed, an id in its primary key (and the
    BRIN for pruning) only, not in a LIKE twin (migration 0021)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'ingest_inboxbatch'::regclass AND attname = 'events'"
        )
        assert cursor.fetchone() == ("e",)  # EXTERNAL: out of line, never compressed
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'ingest_seenevent'")
        indexes = sorted(row[0].split(" USING ")[1] for row in cursor.fetchall())
    assert indexes == ["brin (seen_at)", "btree (id)"]


@pytest.mark.django_db
def test_an_accepted_batch_travels_as_a_parameter_not_in_the_statement_text():
    """Quoted into the statement (Django's client-side binding), a batch's JSON was escaped
    in Python and scanned as a literal by PostgreSQL: ~1.5 µs per event."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ingest.models import InboxBatch
    from ingest.services import accept_events

    events = EventFactory.build_batch(3, app_name="Marker App 7f3a")
    with CaptureQueriesContext(connection) as queries:
        batch_id = accept_events(events, None).batch_id
    assert not any("Marker App 7f3a" in q["sql"] for q in queries.captured_queries)
    batch = InboxBatch.objects.get(pk=batch_id)
    assert [e["app_name"] for e in batch.events] == ["Marker App 7f3a"] * 3
    assert (batch.status, batch.event_count, batch.attempts, batch.source) == ("pending", 3, 0, "http")


@pytest.mark.django_db
def test_the_narrow_rollups_leave_room_on_their_pages_for_hot_updates():
    """Their rows are updated batch after batch; a full page sends the update to another page
    and into every index (migration 0019)."""
    from django.db import connection

    from ingest.rollups.grains import NARROW

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [[g.table for g in NARROW]]
        )
        options = dict(cursor.fetchall())
    assert options == {g.table: ["fillfactor=70"] for g in NARROW}

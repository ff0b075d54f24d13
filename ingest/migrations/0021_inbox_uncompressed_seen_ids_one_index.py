"""CPU per accepted event (issue 13: the HTTP + Celery rate within 5 % of e8dbd7d).

The inbox's ``events`` column is stored out of line uncompressed (``STORAGE EXTERNAL``):
PostgreSQL's pglz compression of a batch's JSON cost 3 µs of the accept path's ~20 µs per
event (5.1 vs 2.0 µs per event to insert a 5,000-event batch), and the worker read it back
decompressed. A batch takes about 5× the disk (~0.4 → ~2 KB per event, until the retention
window prunes counted batches); the embedded server has no lz4 (docs/operations.md).
Applies to batches written from now on.

The dedup registry's id keeps its primary key only: Django's ``varchar_pattern_ops`` twin of
it (for ``LIKE 'prefix%'``, which nothing runs on event ids) was a second btree insert per
claimed id (~0.4 µs per event)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("ingest", "0020_session_key_hashed"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE ingest_inboxbatch ALTER COLUMN events SET STORAGE EXTERNAL",
            "ALTER TABLE ingest_inboxbatch ALTER COLUMN events SET STORAGE EXTENDED",
        ),
        migrations.RunSQL(
            "DROP INDEX IF EXISTS ingest_seenevent_id_16eb09cf_like",
            "CREATE INDEX IF NOT EXISTS ingest_seenevent_id_16eb09cf_like "
            "ON ingest_seenevent (id varchar_pattern_ops)",
        ),
    ]

"""Sessions keyed by a 64-bit hash of their id (``hashtextextended(session_id, 0)``, as the
write statement computes it) instead of the id's text: the session table is the narrow
rollup with the most rows and updates, and an eight-byte key is cheaper to group, sort and
find in its primary key. No read shows the id. The rows there are converted in place (two
sessions of one app, harness, model and day with the same hash would make the new primary
key fail loudly; at 64 bits that is not expected). Not reversible: the ids are not kept."""

from django.db import migrations, models

_CONVERT = [
    "ALTER TABLE ingest_usagesession ADD COLUMN session_key bigint",
    "UPDATE ingest_usagesession SET session_key = hashtextextended(session_id, 0)",
    "ALTER TABLE ingest_usagesession ALTER COLUMN session_key SET NOT NULL",
    "ALTER TABLE ingest_usagesession DROP CONSTRAINT ingest_usagesession_pkey",
    "ALTER TABLE ingest_usagesession DROP COLUMN session_id",
    "ALTER TABLE ingest_usagesession ADD CONSTRAINT ingest_usagesession_pkey "
    "PRIMARY KEY (bucket, app_id, harness, session_key, model_id)",
]


class Migration(migrations.Migration):

    dependencies = [
        ("ingest", "0019_narrow_fillfactor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(_CONVERT)],
            state_operations=[
                migrations.RemoveField(model_name="usagesession", name="session_id"),
                migrations.AddField(
                    model_name="usagesession",
                    name="session_key",
                    field=models.BigIntegerField(default=None),
                    preserve_default=False,
                ),
                migrations.AlterField(
                    model_name="usagesession",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "app",
                        "harness",
                        "session_key",
                        "model",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
            ],
        ),
    ]

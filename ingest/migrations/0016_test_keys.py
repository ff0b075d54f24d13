"""Test keys: an ingest key can be marked as a test key, and raw events keep whether they came
through one (the rollups leave those out). Adding a column with a constant default rewrites
no table (PostgreSQL 11+)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0015_calendar_narrow_from"),
    ]

    operations = [
        # The partitioned raw table is managed by hand: the column reaches every partition.
        migrations.RunSQL(
            "ALTER TABLE ingest_rawevent ADD COLUMN is_test boolean NOT NULL DEFAULT false",
            "ALTER TABLE ingest_rawevent DROP COLUMN is_test",
        ),
        migrations.AddField(
            model_name="ingestkey",
            name="is_test",
            field=models.BooleanField(
                default=False,
                help_text="Its events are accepted and kept, but never counted in any public number "
                "(rankings, pages, API, exports); see ingest.services.set_test_key.",
                verbose_name="test key",
            ),
        ),
        migrations.AlterField(
            model_name="maintenancejob",
            name="kind",
            field=models.CharField(
                choices=[
                    ("rebuild", "Rebuild"),
                    ("verify", "Verify"),
                    ("recost", "recompute derived costs"),
                    ("testkey", "apply a key's test flag to its events"),
                ],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="maintenancejob",
            name="target",
            field=models.CharField(
                blank=True,
                help_text="Model slug, for cost recomputation; key name, for a test flag.",
                max_length=200,
            ),
        ),
    ]

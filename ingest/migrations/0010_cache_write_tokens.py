"""Prompt-cache writes (``native_tokens_cache_write``): a raw-event column and a measure of
every rollup. Existing rows count 0; adding a column with a constant default rewrites no
table (PostgreSQL 11+)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0009_rollups_from_rankings"),
    ]

    operations = [
        # The partitioned raw table is managed by hand: the column reaches every partition.
        migrations.RunSQL(
            "ALTER TABLE ingest_rawevent ADD COLUMN cache_write_tokens bigint NOT NULL DEFAULT 0",
            "ALTER TABLE ingest_rawevent DROP COLUMN cache_write_tokens",
        ),
        migrations.AddField(
            model_name="usageappdaily",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usagecategoryweekly",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usagedaily",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usagehourly",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usagemodeldaily",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usagemodeltotal",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="usagemodelweekly",
            name="cache_write_tokens",
            field=models.BigIntegerField(default=0),
        ),
    ]

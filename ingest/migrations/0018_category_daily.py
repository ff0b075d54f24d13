"""Usage per day and category (``ingest.rollups.grains.CATEGORY_DAILY``): a dozen rows a day
for the reads by category alone. Filled from the per-model-variant-category daily table (the
same measures, every column of this key); that table is locked against writes meanwhile.
Workers still running the code before this table existed would not write it: deploy with
them stopped, or run ``verify_rollups``."""

import django.db.models.deletion
from django.db import migrations, models

_MEASURES = (
    "requests, cost, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cache_write_tokens, "
    "latency_ms_sum, latency_count, generation_ms_sum, generation_count, generation_completion_tokens, cancelled"
)
_FILL = (
    "LOCK TABLE rankings_usagemodeldaily IN SHARE MODE; "
    f"INSERT INTO ingest_usagecategorydaily (bucket, category_id, {_MEASURES}) "
    "SELECT bucket, category_id, "
    + ", ".join(f"sum({m})" for m in _MEASURES.split(", "))
    + " FROM rankings_usagemodeldaily GROUP BY 1, 2 ORDER BY 1, 2"
)


class Migration(migrations.Migration):

    dependencies = [
        ('ingest', '0017_rollup_indexes_served_by_bucket'),
        ('rankings', '0009_tag_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='UsageCategoryDaily',
            fields=[
                ('requests', models.BigIntegerField(default=0)),
                ('cost', models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ('prompt_tokens', models.BigIntegerField(default=0)),
                ('completion_tokens', models.BigIntegerField(default=0)),
                ('reasoning_tokens', models.BigIntegerField(default=0)),
                ('cached_tokens', models.BigIntegerField(default=0)),
                ('cache_write_tokens', models.BigIntegerField(default=0)),
                ('latency_ms_sum', models.BigIntegerField(default=0)),
                ('latency_count', models.BigIntegerField(default=0)),
                ('generation_ms_sum', models.BigIntegerField(default=0)),
                ('generation_count', models.BigIntegerField(default=0)),
                ('generation_completion_tokens', models.BigIntegerField(default=0)),
                ('cancelled', models.BigIntegerField(default=0)),
                ('bucket', models.DateField()),
                # Its only index: reads bound the bucket (a range of days), which leads it.
                ('pk', models.CompositePrimaryKey('bucket', 'category', blank=True, editable=False, primary_key=True, serialize=False)),
                ('category', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, to='rankings.category')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.RunSQL(_FILL, migrations.RunSQL.noop),
    ]

"""The usage rollups, now ingest's (it writes, rebuilds and checks them; rankings reads them).

State only, after ``rankings.0008_rollups_owned_by_ingest``: the tables keep their names,
rows and indexes. Their content types (and so any permission on them) move along.
"""

import django.db.models.deletion
from django.db import migrations, models

ROLLUPS = (
    "usagehourly",
    "usagedaily",
    "usagemodeldaily",
    "usagemodeltotal",
    "usageappdaily",
    "usagemodelweekly",
    "usagecategoryweekly",
)


def _move_content_types(source: str, target: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        ContentType.objects.filter(app_label=target, model__in=ROLLUPS).delete()  # a leftover would clash
        ContentType.objects.filter(app_label=source, model__in=ROLLUPS).update(app_label=target)

    return move


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0008_source_tally"),
        ("rankings", "0008_rollups_owned_by_ingest"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(
                    _move_content_types("rankings", "ingest"), _move_content_types("ingest", "rankings")
                )
            ],
            state_operations=[
                migrations.CreateModel(
                    name="UsageCategoryWeekly",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "category",
                                "bucket",
                                "model",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("bucket", models.DateField()),
                        (
                            "category",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.category",
                            ),
                        ),
                        (
                            "model",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.llmmodel",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usagecategoryweekly",
                    },
                ),
                migrations.CreateModel(
                    name="UsageModelWeekly",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "bucket",
                                "model",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("bucket", models.DateField()),
                        (
                            "model",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.llmmodel",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usagemodelweekly",
                    },
                ),
                migrations.CreateModel(
                    name="UsageAppDaily",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "bucket", "app", blank=True, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("bucket", models.DateField()),
                        (
                            "app",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.app",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usageappdaily",
                        "indexes": [models.Index(fields=["app", "bucket"], name="appdaily_app_bucket")],
                    },
                ),
                migrations.CreateModel(
                    name="UsageDaily",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        ("variant", models.CharField(blank=True, default="", max_length=16)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "bucket",
                                "model",
                                "variant",
                                "provider",
                                "app",
                                "category",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("bucket", models.DateField()),
                        (
                            "app",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.app",
                            ),
                        ),
                        (
                            "category",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.category",
                            ),
                        ),
                        (
                            "model",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.llmmodel",
                            ),
                        ),
                        (
                            "provider",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.provider",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usagedaily",
                        "indexes": [
                            models.Index(fields=["model", "bucket"], name="daily_model_bucket"),
                            models.Index(fields=["app", "bucket"], name="daily_app_bucket"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="UsageHourly",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        ("variant", models.CharField(blank=True, default="", max_length=16)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "bucket",
                                "model",
                                "variant",
                                "provider",
                                "app",
                                "category",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("bucket", models.DateTimeField()),
                        (
                            "app",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.app",
                            ),
                        ),
                        (
                            "category",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.category",
                            ),
                        ),
                        (
                            "model",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.llmmodel",
                            ),
                        ),
                        (
                            "provider",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.provider",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usagehourly",
                        "indexes": [
                            models.Index(fields=["model", "bucket"], name="hourly_model_bucket"),
                            models.Index(fields=["app", "bucket"], name="hourly_app_bucket"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="UsageModelDaily",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "bucket",
                                "model",
                                "variant",
                                "category",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("bucket", models.DateField()),
                        ("variant", models.CharField(blank=True, default="", max_length=16)),
                        (
                            "category",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.category",
                            ),
                        ),
                        (
                            "model",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.llmmodel",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usagemodeldaily",
                        "indexes": [
                            models.Index(fields=["model", "bucket"], name="modeldaily_model_bucket"),
                            models.Index(fields=["category", "bucket"], name="modeldaily_category_bucket"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="UsageModelTotal",
                    fields=[
                        ("requests", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cached_tokens", models.BigIntegerField(default=0)),
                        ("latency_ms_sum", models.BigIntegerField(default=0)),
                        ("latency_count", models.BigIntegerField(default=0)),
                        ("generation_ms_sum", models.BigIntegerField(default=0)),
                        ("generation_count", models.BigIntegerField(default=0)),
                        ("generation_completion_tokens", models.BigIntegerField(default=0)),
                        ("cancelled", models.BigIntegerField(default=0)),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "bucket",
                                "model",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("bucket", models.DateField()),
                        (
                            "model",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                to="rankings.llmmodel",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "rankings_usagemodeltotal",
                        "indexes": [models.Index(fields=["model", "bucket"], name="modeltotal_model_bucket")],
                    },
                ),
            ],
        )
    ]

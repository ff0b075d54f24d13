"""The narrow rollups of issue 16 (tool calls, context length, tags, sessions) and the raw-event
columns they are rebuilt from. Existing raw rows get the defaults (no tool calls, no tags, no
session); adding columns with constant defaults rewrites no table (PostgreSQL 11+)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0010_cache_write_tokens"),
        ("rankings", "0009_tag_keys"),
    ]

    operations = [
        # The partitioned raw table is managed by hand: the columns reach every partition.
        migrations.RunSQL(
            "ALTER TABLE ingest_rawevent ADD COLUMN tool_calls integer NOT NULL DEFAULT 0, "
            "ADD COLUMN tool_errors_invalid_json integer NOT NULL DEFAULT 0, "
            "ADD COLUMN tool_errors_unknown_tool integer NOT NULL DEFAULT 0, "
            "ADD COLUMN tool_errors_schema_mismatch integer NOT NULL DEFAULT 0, "
            "ADD COLUMN tool_errors_other integer NOT NULL DEFAULT 0, "
            "ADD COLUMN tags text NOT NULL DEFAULT '', "
            "ADD COLUMN session_id varchar(200) NOT NULL DEFAULT '', "
            "ADD COLUMN harness varchar(64) NOT NULL DEFAULT ''",
            "ALTER TABLE ingest_rawevent DROP COLUMN tool_calls, DROP COLUMN tool_errors_invalid_json, "
            "DROP COLUMN tool_errors_unknown_tool, DROP COLUMN tool_errors_schema_mismatch, "
            "DROP COLUMN tool_errors_other, DROP COLUMN tags, DROP COLUMN session_id, DROP COLUMN harness",
        ),
        migrations.CreateModel(
            name="UsageContextTotal",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket", "context", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("bucket", models.DateField()),
                ("context", models.CharField(blank=True, default="", max_length=8)),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="UsageTagTotal",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket", "tag", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("bucket", models.DateField()),
                (
                    "tag",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="rankings.tagvalue",
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="UsageContextDaily",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "model",
                        "context",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("bucket", models.DateField()),
                ("context", models.CharField(blank=True, default="", max_length=8)),
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
                "indexes": [models.Index(fields=["model", "bucket"], name="contextdaily_model_bucket")],
            },
        ),
        migrations.CreateModel(
            name="UsageSession",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("tool_calls", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "app",
                        "harness",
                        "session_id",
                        "model",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("bucket", models.DateField()),
                ("harness", models.CharField(blank=True, default="", max_length=64)),
                ("session_id", models.CharField(blank=True, default="", max_length=200)),
                (
                    "app",
                    models.ForeignKey(
                        db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, to="rankings.app"
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
                "indexes": [models.Index(fields=["app", "bucket"], name="session_app_bucket")],
            },
        ),
        migrations.CreateModel(
            name="UsageTagAppDaily",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket", "app", "tag", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("bucket", models.DateField()),
                (
                    "app",
                    models.ForeignKey(
                        db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, to="rankings.app"
                    ),
                ),
                (
                    "tag",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="rankings.tagvalue",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["app", "bucket"], name="tagappdaily_app_bucket")],
            },
        ),
        migrations.CreateModel(
            name="UsageTagDaily",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "tag",
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
                (
                    "tag",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="rankings.tagvalue",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["model", "bucket"], name="tagdaily_model_bucket")],
            },
        ),
        migrations.CreateModel(
            name="UsageToolDaily",
            fields=[
                ("requests", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("prompt_tokens", models.BigIntegerField(default=0)),
                ("completion_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                ("tool_calls", models.BigIntegerField(default=0)),
                ("tool_errors_invalid_json", models.BigIntegerField(default=0)),
                ("tool_errors_unknown_tool", models.BigIntegerField(default=0)),
                ("tool_errors_schema_mismatch", models.BigIntegerField(default=0)),
                ("tool_errors_other", models.BigIntegerField(default=0)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "model",
                        "provider",
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
                "indexes": [models.Index(fields=["model", "bucket"], name="tooldaily_model_bucket")],
            },
        ),
    ]

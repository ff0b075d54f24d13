"""Ranked tag keys and their values (issue 16): programming_language, language and task are
ranked from the start, each with its "other" value."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def default_keys(apps, schema_editor):
    from rankings.services import grant_staff_roles, load_tag_keys

    load_tag_keys(apps)
    grant_staff_roles(apps, "rankings", ("tagkey", "tagvalue"))


class Migration(migrations.Migration):
    dependencies = [
        ("rankings", "0008_rollups_owned_by_ingest"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="TagKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        help_text="As sent in events' tags (compared lowercased).",
                        max_length=64,
                        unique=True,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[a-z0-9_.-]{1,64}$", "Lowercase letters, digits, _ . - (at most 64)."
                            )
                        ],
                    ),
                ),
                (
                    "name",
                    models.CharField(help_text="Shown on pages, e.g. Programming language.", max_length=100),
                ),
                (
                    "ranked",
                    models.BooleanField(
                        default=True, help_text="Counted and shown; unranked keys are ignored."
                    ),
                ),
                (
                    "max_values",
                    models.PositiveSmallIntegerField(
                        default=50,
                        help_text='Distinct values kept (first seen first); the rest count as "other".',
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(1000),
                        ],
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=100)),
            ],
            options={
                "ordering": ["position", "key"],
            },
        ),
        migrations.CreateModel(
            name="TagValue",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.CharField(max_length=100)),
                ("tag", models.CharField(max_length=200, unique=True)),
                (
                    "key",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="rankings.tagkey",
                    ),
                ),
            ],
            options={
                "ordering": ["key", "value"],
                "constraints": [models.UniqueConstraint(fields=("key", "value"), name="tag_value_key_value")],
            },
        ),
        migrations.RunPython(default_keys, migrations.RunPython.noop),
    ]

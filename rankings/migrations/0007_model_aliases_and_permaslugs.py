"""Model aliases (dated permaslugs, merged models' slugs) and each model's permaslug; apps may
be known by their title alone (imported exports carry no URL)."""

import django.db.models.deletion
from django.db import migrations, models


def load_permaslugs(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from rankings.services import _load_permaslugs

    _load_permaslugs(apps, apps.get_model("rankings", "LLMModel"))
    # The staff roles (0003) cover the models that existed then: give them the new one.
    config = apps.get_app_config("rankings")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias_permissions = Permission.objects.filter(
        content_type__app_label="rankings", content_type__model="modelalias"
    )
    for group in Group.objects.filter(name="operator"):
        group.permissions.add(*alias_permissions)
    for group in Group.objects.filter(name="analyst"):
        group.permissions.add(*alias_permissions.filter(codename__startswith="view_"))


class Migration(migrations.Migration):
    dependencies = [
        ("rankings", "0006_web_urls_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="llmmodel",
            name="permaslug",
            field=models.CharField(
                blank=True,
                help_text="OpenRouter's dated permaslug, e.g. openai/gpt-4o-mini-2024-07-18; the datasets "
                "list it (the slug when blank). Set from the first dated alias seen.",
                max_length=200,
            ),
        ),
        migrations.AlterField(
            model_name="app",
            name="origin",
            field=models.CharField(
                help_text="Canonical origin URL (or title:<name> for an app known only by its title in "
                "imported exports); other origins are aliases.",
                max_length=500,
                unique=True,
            ),
        ),
        migrations.CreateModel(
            name="ModelAlias",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slug", models.CharField(max_length=200, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="aliases",
                        to="rankings.llmmodel",
                    ),
                ),
            ],
            options={
                "verbose_name": "model alias",
                "verbose_name_plural": "model aliases",
                "ordering": ["slug"],
            },
        ),
        migrations.RunPython(load_permaslugs, migrations.RunPython.noop),
    ]

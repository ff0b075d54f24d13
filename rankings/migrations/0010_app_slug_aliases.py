"""Old slugs of merged apps: their pages, API details, embeds and badges redirect to the app
they were merged into."""

import django.db.models.deletion
from django.db import migrations, models


def grant_roles(apps, schema_editor):
    from rankings.services import grant_staff_roles

    grant_staff_roles(apps, "rankings", ("appslugalias",))


class Migration(migrations.Migration):
    dependencies = [
        ("rankings", "0009_tag_keys"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="AppSlugAlias",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(max_length=200, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "app",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="old_slugs", to="rankings.app"
                    ),
                ),
            ],
            options={
                "verbose_name": "app's old slug",
                "verbose_name_plural": "apps' old slugs",
                "ordering": ["slug"],
            },
        ),
        migrations.RunPython(grant_roles, migrations.RunPython.noop),
    ]

"""Staff roles: "analyst" may view everything in the backoffice, "operator" may also change it."""

from django.db import migrations

APPS = ("rankings", "ingest")


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after all migrations ran; make them now.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    analyst, _ = Group.objects.get_or_create(name="analyst")
    analyst.permissions.set(ours.filter(codename__startswith="view_"))
    operator, _ = Group.objects.get_or_create(name="operator")
    operator.permissions.set(ours)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["analyst", "operator"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rankings", "0002_starting_catalog"),
        ("ingest", "0003_maintenance_job"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, drop_roles)]

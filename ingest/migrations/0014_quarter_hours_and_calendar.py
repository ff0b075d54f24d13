"""Quarter-hour cube instead of the hourly one, and the calendar (the zone the date rollups are
built in: UTC, as every date rollup written so far).

The hourly rows become quarter-hour rows as they are (an hour's row is the quarter-hour
starting it: totals unchanged); the hours whose raw events are still kept are then re-split
into their quarter-hours from raw events, the measures taken from ``ingest.schema`` as it is
when the migration runs."""

from django.db import migrations, models
from psycopg import sql


def split_kept_hours(apps, schema_editor):
    from ingest import schema  # noqa: PLC0415 (the schema as it is now, not a hand list)

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(created_at) FROM ingest_rawevent")
        (first,) = cursor.fetchone()
        if first is None:
            return
        # Hours from the first whole hour of raw events on (the one before may be partly purged).
        cursor.execute("SELECT date_trunc('hour', %s::timestamptz) + interval '1 hour'", [first])
        (start,) = cursor.fetchone()
        keys = [schema.DIMENSION[name].column for name in schema.CUBE]
        measures = [m.column for m in schema.MEASURES]
        cursor.execute("DELETE FROM rankings_usagequarterhour WHERE bucket >= %s", [start])
        cursor.execute(
            sql.SQL(
                "INSERT INTO rankings_usagequarterhour (bucket, {keys}, {measures}) "
                "SELECT date_bin('15 minutes', created_at, TIMESTAMPTZ '2000-01-01 00:00+00'), {selects}, "
                "{aggregates} FROM ingest_rawevent WHERE created_at >= %s GROUP BY {positions}"
            ).format(
                keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
                measures=sql.SQL(", ").join(map(sql.Identifier, measures)),
                selects=sql.SQL(", ").join(sql.SQL(schema.DIMENSION[name].select) for name in schema.CUBE),
                aggregates=sql.SQL(", ").join(sql.SQL(m.aggregate) for m in schema.MEASURES),
                positions=sql.SQL(", ".join(str(n) for n in range(1, len(keys) + 2))),
            ),
            [start],
        )


class Migration(migrations.Migration):
    dependencies = [("ingest", "0013_narrow_indexes_led")]

    operations = [
        migrations.RenameModel("UsageHourly", "UsageQuarterHour"),
        migrations.AlterModelTable("UsageQuarterHour", "rankings_usagequarterhour"),
        migrations.RenameIndex(
            "usagequarterhour", new_name="quarter_model_bucket", old_name="hourly_model_bucket"
        ),
        migrations.RenameIndex(
            "usagequarterhour", new_name="quarter_app_bucket", old_name="hourly_app_bucket"
        ),
        migrations.CreateModel(
            name="Calendar",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("zone", models.CharField(default="UTC", max_length=64)),
                ("changed_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RunSQL("INSERT INTO ingest_calendar (id, zone) VALUES (1, 'UTC')", migrations.RunSQL.noop),
        migrations.RunPython(split_kept_hours, migrations.RunPython.noop),
    ]

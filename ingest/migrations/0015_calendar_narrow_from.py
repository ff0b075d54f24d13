"""The calendar records since when the narrow rollups are whole days of its zone, and the zone of
their older rows (``change_time_zone`` cannot rebuild rows whose raw events are gone)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ingest", "0014_quarter_hours_and_calendar")]

    operations = [
        migrations.AddField(
            model_name="calendar",
            name="narrow_from",
            field=models.DateField(
                blank=True, null=True, help_text="The first day the narrow rollups hold whole in this zone."
            ),
        ),
        migrations.AddField(
            model_name="calendar",
            name="narrow_before_zone",
            field=models.CharField(
                blank=True, default="", max_length=64, help_text="The zone of the narrow rows before narrow_from."
            ),
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ingest", "0004_seen_brin")]
    operations = [
        # The partitioned raw table is managed by hand: the column reaches every partition.
        migrations.RunSQL(
            "ALTER TABLE ingest_rawevent ADD COLUMN cost_derived boolean NOT NULL DEFAULT false",
            "ALTER TABLE ingest_rawevent DROP COLUMN cost_derived",
        ),
        migrations.AddField(
            model_name="maintenancejob",
            name="target",
            field=models.CharField(
                blank=True, help_text="Model slug, for cost recomputation.", max_length=200
            ),
        ),
        migrations.AlterField(
            model_name="maintenancejob",
            name="kind",
            field=models.CharField(
                choices=[("rebuild", "Rebuild"), ("verify", "Verify"), ("recost", "recompute derived costs")],
                max_length=10,
            ),
        ),
    ]

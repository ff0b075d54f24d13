"""The usage rollup models move to the ingest app (which writes, rebuilds and checks them).

State only: the tables, their rows and indexes stay as they are, under their names
(rankings_usage*); ``ingest.0009_rollups_from_rankings`` declares the same tables there.
"""

from django.db import migrations

ROLLUPS = (
    "UsageHourly",
    "UsageDaily",
    "UsageModelDaily",
    "UsageModelTotal",
    "UsageAppDaily",
    "UsageModelWeekly",
    "UsageCategoryWeekly",
)


class Migration(migrations.Migration):
    dependencies = [("rankings", "0007_model_aliases_and_permaslugs")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name) for name in ROLLUPS],
        )
    ]

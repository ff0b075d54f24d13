"""The narrow rollups keep 30 % of each heap page free (fillfactor 70): their rows are
upserted over and over as a day's events arrive in batch after batch (above all the
sessions: one row per session, day and model, whose turns come in many batches), and an
update that finds room on its row's page is a HOT update, which adds no index entry. With
full pages about half of the session rows' updates went to another page and inserted into
both its indexes (docs/decisions.md, "Narrow rollups leave room for their updates").
Applies to pages written from now on; existing rows move as they are updated."""

from django.db import migrations

TABLES = (
    "ingest_usagetooldaily",
    "ingest_usagecontextdaily",
    "ingest_usagecontexttotal",
    "ingest_usagetagdaily",
    "ingest_usagetagtotal",
    "ingest_usagetagappdaily",
    "ingest_usagesession",
)
FILLFACTOR = 70


class Migration(migrations.Migration):

    dependencies = [
        ("ingest", "0018_category_daily"),
    ]

    operations = [
        migrations.RunSQL(
            [f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})" for table in TABLES],
            [f"ALTER TABLE {table} RESET (fillfactor)" for table in TABLES],
        ),
    ]

import orjson
from django.apps import AppConfig
from psycopg.types.json import set_json_loads


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingest"

    def ready(self) -> None:
        # psycopg parses ``json`` columns (the inbox batches, read back whole by workers)
        # with orjson. Django's connections read ``jsonb`` as text and parse it themselves,
        # so this changes nothing for JSONField columns.
        set_json_loads(orjson.loads)

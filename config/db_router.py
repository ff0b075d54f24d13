"""Send reads to the replica (``DATABASE_REPLICA_URL``) and every write to the primary."""

from __future__ import annotations

from django.db import models


class ReplicaRouter:
    def db_for_read(self, model: type[models.Model], **hints: object) -> str:
        # Ingest bookkeeping must read its own writes; the catalog and the usage rollups
        # (``replica_reads``) are read by pages, which tolerate replica lag.
        if model._meta.app_label == "ingest" and not getattr(model, "replica_reads", False):
            return "default"
        return "replica"

    def db_for_write(self, model: type[models.Model], **hints: object) -> str:
        return "default"

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: object) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return db == "default"

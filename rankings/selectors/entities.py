"""The catalog entries behind ranked keys, and the entries anyone may see."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet

from ingest import schema

# Catalog model of each catalog dimension.
ENTITY_MODEL: dict[str, type[Model]] = {
    d.name: apps.get_model(d.catalog) for d in schema.DIMENSIONS if d.catalog
}


def entries(dimension: schema.Dimension) -> QuerySet:
    """The entries of a catalog dimension anyone may see (a private app is as unknown as a
    missing one)."""
    queryset = ENTITY_MODEL[dimension.name]._default_manager.all()
    if dimension.public_field:
        queryset = queryset.filter(**{dimension.public_field: True})
    return queryset


def attach_entities(entity: str, rows: Iterable[Any]) -> None:
    """Set each row's ``entity`` to the catalog entry of its ``key`` (a variant is its own)."""
    rows = list(rows)
    if entity == "variant":
        for row in rows:
            row.entity = row.key
        return
    model = ENTITY_MODEL[entity]
    queryset = model.objects.filter(pk__in=[r.key for r in rows])
    if entity == "model":
        queryset = queryset.select_related("author")
    found = {obj.pk: obj for obj in queryset}
    for row in rows:
        row.entity = found.get(row.key)

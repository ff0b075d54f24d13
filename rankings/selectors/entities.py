"""The catalog entries behind ranked keys, and the entries anyone may see."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet

from ingest import schema

# Catalog model of each catalog dimension (a tag's value too).
ENTITY_MODEL: dict[str, type[Model]] = {
    d.name: apps.get_model(d.catalog) for d in (*schema.DIMENSIONS, *schema.NARROW_DIMENSIONS) if d.catalog
}


def entries(dimension: schema.Dimension) -> QuerySet:
    """The entries of a catalog dimension anyone may see (a private app is as unknown as a
    missing one)."""
    queryset = ENTITY_MODEL[dimension.name]._default_manager.all()
    if dimension.public_field:
        queryset = queryset.filter(**{dimension.public_field: True})
    return queryset


def entities_of(entity: str, keys: Iterable[Any]) -> dict[Any, Any]:
    """The catalog entries of ``keys`` by key (a variant is its own)."""
    keys = set(keys)
    if entity == "variant":
        return {k: k for k in keys}
    queryset = ENTITY_MODEL[entity].objects.filter(pk__in=keys)
    if entity in ("model", "tag"):
        queryset = queryset.select_related("author" if entity == "model" else "key")
    return {obj.pk: obj for obj in queryset}


def attach_entities(entity: str, rows: Iterable[Any]) -> None:
    """Set each row's ``entity`` to the catalog entry of its ``key`` (a variant is its own)."""
    rows = list(rows)
    found = entities_of(entity, (r.key for r in rows))
    for row in rows:
        row.entity = found.get(row.key)

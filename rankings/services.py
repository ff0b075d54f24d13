"""Writes to the catalog that are not ingest's (ingest writes live in :mod:`ingest`)."""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps as django_apps
from django.apps.registry import Apps

from rankings import catalog


def load_catalog(apps: Apps = django_apps) -> None:
    """Create or refresh the starting catalog. Idempotent; also used by a data migration,
    which passes its historical ``apps``."""
    Author = apps.get_model("rankings", "Author")
    Provider = apps.get_model("rankings", "Provider")
    Category = apps.get_model("rankings", "Category")
    LLMModel = apps.get_model("rankings", "LLMModel")
    App = apps.get_model("rankings", "App")
    AppOrigin = apps.get_model("rankings", "AppOrigin")

    authors = {}
    for slug, name in catalog.AUTHORS:
        authors[slug], _ = Author.objects.update_or_create(slug=slug, defaults={"name": name})
    for slug, name in catalog.PROVIDERS:
        Provider.objects.update_or_create(slug=slug, defaults={"name": name})
    for position, (slug, name) in enumerate(catalog.CATEGORIES):
        Category.objects.update_or_create(slug=slug, defaults={"name": name, "position": position})
    for slug, name, context, prompt, completion, reasoning, released in catalog.MODELS:
        LLMModel.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "author": authors[slug.split("/")[0]],
                "context_length": context,
                "prompt_price": Decimal(str(prompt)),
                "completion_price": Decimal(str(completion)),
                "supports_reasoning": reasoning,
                "release_date": released,
            },
        )
    unattributed, _ = App.objects.get_or_create(
        slug="unattributed",
        defaults={"name": "(unattributed)", "origin": "", "description": "Requests sent without an app URL."},
    )
    AppOrigin.objects.get_or_create(origin="", defaults={"app": unattributed})

"""Writes to the catalog that are not ingest's (ingest writes live in :mod:`ingest`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from django.apps import apps as django_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import transaction

from ingest import schema
from ingest.rollups import maintain
from rankings import catalog, selectors
from rankings.cache import bump_generation, new_generation
from rankings.models import App, AppOrigin, AppSlugAlias, Category, LLMModel, ModelAlias

log = logging.getLogger(__name__)


def grant_staff_roles(apps: Apps, app_label: str, models: tuple[str, ...]) -> None:
    """Give the staff roles of rankings 0003 (which cover the models that existed then) the
    permissions of ``models`` added later: analysts view them, operators change them. For
    data migrations."""
    config = apps.get_app_config(app_label)
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label=app_label, content_type__model__in=models
    )
    for group in apps.get_model("auth", "Group").objects.filter(name="analyst"):
        group.permissions.add(*permissions.filter(codename__startswith="view_"))
    for group in apps.get_model("auth", "Group").objects.filter(name="operator"):
        group.permissions.add(*permissions)


def load_tag_keys(apps: Apps = django_apps) -> None:
    """Create the tag keys ranked from the start, each with its "other" value, unless they
    exist (an operator's changes stay); also used by a data migration."""
    TagKey = apps.get_model("rankings", "TagKey")
    TagValue = apps.get_model("rankings", "TagValue")
    for position, (key, name) in enumerate(catalog.TAG_KEYS, start=1):
        tag_key, _ = TagKey.objects.get_or_create(key=key, defaults={"name": name, "position": position})
        TagValue.objects.get_or_create(key=tag_key, value="other", defaults={"tag": f"{key}=other"})


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
    _load_permaslugs(apps, LLMModel)
    unattributed, _ = App.objects.get_or_create(
        slug="unattributed",
        defaults={"name": "(unattributed)", "origin": "", "description": "Requests sent without an app URL."},
    )
    AppOrigin.objects.get_or_create(origin="", defaults={"app": unattributed})


def _load_permaslugs(apps: Apps, LLMModel) -> None:
    """Record the starting models' permaslugs (and each as an alias). The starting-catalog data
    migration runs before aliases existed; it skips this step and migration 0007 does it."""
    try:
        ModelAlias = apps.get_model("rankings", "ModelAlias")
    except LookupError:
        return
    for slug, permaslug in catalog.PERMASLUGS.items():
        model = LLMModel.objects.get(slug=slug)
        if not model.permaslug:
            LLMModel.objects.filter(pk=model.pk).update(permaslug=permaslug)
        ModelAlias.objects.get_or_create(slug=permaslug, defaults={"model": model})


def merge_survivor(apps: Sequence[App]) -> App:
    """The app a likely-alias group (``apps``, first seen first) merges into: a public one over
    a private one (a public app's usage would otherwise vanish from public pages), then the one
    with the most tokens ever, then the first seen. One totals read per app (few: one title's),
    each through the rollups' app index."""
    everything = selectors.period_window("all")
    tokens = {app.pk: selectors.totals(everything, selectors.Filters(app=app.pk)).tokens for app in apps}
    return min(apps, key=lambda app: (not app.is_public, -tokens[app.pk]))  # min keeps the first of ties


def merge_apps(target: App, others: Iterable[App]) -> int:
    """Merge ``others`` into ``target``: their origins become its aliases, their slugs (and
    the old slugs they had themselves) redirect to its pages, and their history moves to it
    in the rollups and raw events; totals are checked unchanged. Returns apps merged."""

    def carry_over(sources: list[App], source_ids: list[int]) -> None:
        AppOrigin.objects.filter(app_id__in=source_ids).update(app=target)
        AppSlugAlias.objects.filter(app_id__in=source_ids).update(app=target)
        target.categories.add(*Category.objects.filter(apps__in=source_ids))

    return _merge("app", target, others, carry_over)


def keep_old_slugs(kind: str, entry: App | LLMModel, slugs: Iterable[str]) -> None:
    """Record ``slugs`` (of entries merged into ``entry``, or its own before a rename) as old
    slugs of ``entry``, in its dimension's ``old_slugs`` (an app's AppSlugAlias, a model's
    ModelAlias, under which events count for it too): their URLs redirect to its. One recorded
    for another entry moves to this one; its own slug is nobody's old slug any more."""
    relation = getattr(entry, schema.DIMENSION[kind].old_slugs)
    Alias, owner = relation.model, {relation.field.name: entry}
    slugs = [slug for slug in slugs if slug != entry.slug]
    with transaction.atomic():
        Alias.objects.filter(slug=entry.slug).delete()
        Alias.objects.filter(slug__in=slugs).update(**owner)
        Alias.objects.bulk_create([Alias(slug=slug, **owner) for slug in slugs], ignore_conflicts=True)


def set_apps_public(apps: Iterable[App], public: bool) -> int:
    """Make ``apps`` public or private; returns how many changed. Every route (admin form,
    list and actions, ``manage.py app_privacy``) comes here, so the change shows on the very
    next page or API answer: a new cache generation starts right after the commit (not at
    the next scheduled refresh), and any view after that computes from the committed rows."""
    with transaction.atomic():
        changed = (
            App.objects.filter(pk__in=[app.pk for app in apps]).exclude(is_public=public).update(is_public=public)
        )
        transaction.on_commit(_new_generation_now)
    return changed


def _new_generation_now() -> None:
    try:
        new_generation()
    except Exception:
        # Pages are computed uncached while the cache is down; sections stored before the
        # outage could show the old visibility until they expire (SECTION_TTL) once it is back.
        log.error("cache unavailable: an app privacy change could not flush cached pages", exc_info=True)


def merge_models(target: LLMModel, others: Iterable[LLMModel]) -> int:
    """Merge ``others`` into ``target`` (e.g. a dated permaslug that arrived as a model of its
    own): their slugs and aliases become its aliases, so later events under those slugs count
    for it and their URLs redirect to its, and their history moves to it in the rollups and raw
    events; totals are checked unchanged. Returns models merged."""

    def carry_over(sources: list[LLMModel], source_ids: list[int]) -> None:
        ModelAlias.objects.filter(model_id__in=source_ids).update(model=target)
        if not target.permaslug:
            target.permaslug = next((m.permaslug for m in sources if m.permaslug), "")
            target.save(update_fields=["permaslug"])

    return _merge("model", target, others, carry_over)


def _merge[E: (App, LLMModel)](
    kind: str, target: E, others: Iterable[E], carry_over: Callable[[list[E], list[int]], None]
) -> int:
    """Merge ``others`` into ``target`` along the catalog dimension ``kind``, in one
    transaction: their usage moves to it (checked unchanged), ``carry_over`` moves what the
    entries of that kind own, their slugs become its old slugs, and they are deleted. Returns
    entries merged."""
    sources = [entry for entry in others if entry.pk != target.pk]
    if not sources:
        return 0
    source_ids = [entry.pk for entry in sources]
    with transaction.atomic():
        maintain.reassign(kind, source_ids, target.pk)
        carry_over(sources, source_ids)
        keep_old_slugs(kind, target, [entry.slug for entry in sources])
        type(target).objects.filter(pk__in=source_ids).delete()
        transaction.on_commit(bump_generation)
    return len(source_ids)

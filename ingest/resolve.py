"""Map the names in normalized events to catalog ids, creating what is seen for the first time.

New authors, models, providers and apps are created flagged ``needs_review``. Creation uses
``INSERT ... ON CONFLICT DO NOTHING`` so concurrent workers on several hosts agree on one row.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ingest.events import slugify
from rankings.models import App, AppOrigin, Author, Category, LLMModel, Provider


@dataclass
class CatalogIds:
    models: dict[str, int] = field(default_factory=dict)
    providers: dict[str, int] = field(default_factory=dict)
    apps: dict[str, int] = field(default_factory=dict)  # origin -> app id ("" is the unattributed app)
    categories: dict[str, int] = field(default_factory=dict)

    def update(self, other: CatalogIds) -> None:
        for name in ("models", "providers", "apps", "categories"):
            getattr(self, name).update(getattr(other, name))


def _ensure(model, rows: dict[str, dict[str, Any]]) -> dict[str, int]:
    """slug -> id for ``rows`` (slug -> field values for a new row)."""
    found = dict(model.objects.filter(slug__in=rows).values_list("slug", "id"))
    missing = [
        model(slug=slug, needs_review=True, **fields) for slug, fields in rows.items() if slug not in found
    ]
    if missing:
        model.objects.bulk_create(missing, ignore_conflicts=True)
        found = dict(model.objects.filter(slug__in=rows).values_list("slug", "id"))
    return found


def _ensure_models(slugs: Iterable[str]) -> dict[str, int]:
    """slug -> id for models, creating their authors (from the slug prefix) when new."""
    slugs = set(slugs)
    authors = _ensure(Author, {s.split("/")[0]: {"name": s.split("/")[0]} for s in slugs})
    return _ensure(
        LLMModel, {s: {"name": s.split("/")[1], "author_id": authors[s.split("/")[0]]} for s in slugs}
    )


def _app_slug(origin: str) -> str:
    host = origin.split("://", 1)[-1]
    return slugify(host.removeprefix("www."))[:80]


def _ensure_apps(names_by_origin: dict[str, str]) -> dict[str, int]:
    found = dict(AppOrigin.objects.filter(origin__in=names_by_origin).values_list("origin", "app_id"))
    for origin in sorted(names_by_origin.keys() - found.keys()):
        found[origin] = _create_app(origin, names_by_origin[origin])
    return found


def _slug_candidates(origin: str) -> Iterator[str]:
    """The host's slug, then the host's slug with a hash of the whole origin (two paths of
    one host, or hosts that slugify alike), then that with a counter: never runs out."""
    base = _app_slug(origin) if origin else App.UNATTRIBUTED_SLUG
    yield base
    hashed = f"{base[:60]}-{hashlib.sha256(origin.encode()).hexdigest()[:8]}"
    yield hashed
    for n in itertools.count(2):
        yield f"{hashed}-{n}"


def _public_url(origin: str) -> str:
    """The origin as the app's link when it is a URL the admin form would also accept (an
    origin such as https://my_app.local identifies an app but is no valid link): otherwise
    no link, so an operator can still save the app's page."""
    try:
        App._meta.get_field("url").run_validators(origin)
    except ValidationError:
        return ""
    return origin


def _create_app(origin: str, name: str) -> int:
    """Create an app for a new origin; a concurrent creator's row wins if it came first."""
    max_name = App._meta.get_field("name").max_length
    title = (name or origin.split("://", 1)[-1])[:max_name] if origin else "(unattributed)"
    candidates = _slug_candidates(origin)
    while True:
        slug = next(candidates)
        try:
            with transaction.atomic():
                app = App.objects.create(
                    slug=slug, name=title, origin=origin, url=_public_url(origin), needs_review=True
                )
                AppOrigin.objects.create(origin=origin, app=app)
                return app.id
        except IntegrityError:
            existing = AppOrigin.objects.filter(origin=origin).values_list("app_id", flat=True).first()
            if existing is not None:
                return existing
            if not App.objects.filter(slug=slug).exists():
                raise  # not a slug collision: the caller isolates the event that caused it


def resolve(events: list[dict[str, Any]]) -> CatalogIds:
    """Ids for every model, provider, app and category named in ``events``."""
    providers = {e["provider"]: {"name": e["provider_name"] or e["provider"]} for e in events}
    origins: dict[str, str] = {}
    for e in events:
        if e["origin"] not in origins or not origins[e["origin"]]:
            origins[e["origin"]] = e["app_name"]
    return CatalogIds(
        models=_ensure_models({e["model"] for e in events}),
        providers=_ensure(Provider, providers),
        apps=_ensure_apps(origins),
        categories=_ensure(Category, {e["category"]: {"name": e["category"].title()} for e in events}),
    )

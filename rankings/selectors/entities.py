"""The catalog entries behind ranked keys, and the entries anyone may see."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from ingest import schema
from rankings.cache import cached
from rankings.models import TITLE_KEY

# A new namesake (or a merge) shows in lists within this many seconds.
SHARED_TITLES_TTL = 60
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


class SlugMoved(Exception):
    """A catalog entry asked for by another slug of it (``Dimension.old_slugs``: one it had
    before it was merged into another, a model's dated permaslug): ``new`` is the entry's slug;
    ``param`` the query parameter that named it (None: the URL's path).
    ``rankings.errors.SlugMovedMiddleware`` answers it with a permanent redirect."""

    def __init__(self, old: str, new: str, param: str | None = None):
        super().__init__(f"{old!r} is now {new!r}")
        self.old, self.new, self.param = old, new, param


def current_slug(dimension: schema.Dimension, slug: str) -> str | None:
    """The slug of the entry that ``slug`` is another slug of (``Dimension.old_slugs``: an app
    or model merged into another, a model's dated permaslug), if anyone may see that entry;
    None otherwise (a private survivor is as unknown as a missing app, so an old slug never
    tells it exists). Slugs are written in lower case (ingest lowers model ids and origins),
    so one with capitals, typed or pasted, is another slug of its lower-case entry."""
    if slug != (lower := slug.lower()):
        # One row through the unique index on the slug.
        if found := entries(dimension).filter(slug=lower).values_list("slug", flat=True).first():
            return found
        slug = lower
    if dimension.old_slugs is None:
        return None
    # One row through the unique index on the old slug (rankings_appslugalias.slug,
    # rankings_modelalias.slug).
    lookup = {f"{dimension.old_slugs}__slug": slug}
    return entries(dimension).filter(**lookup).values_list("slug", flat=True).first()


def entry(kind: str, slug: str) -> Any:
    """The catalog entry of a page, embed, badge or API detail (a dimension of
    ``ingest.schema``): Http404 for an unknown slug and for a private app; SlugMoved for
    another slug of a public entry (a merged app's or model's, a dated permaslug)."""
    dimension = schema.DIMENSION[kind]
    queryset = entries(dimension)
    if dimension.related:
        queryset = queryset.select_related(*dimension.related)
    found = queryset.filter(slug=slug).first()
    if found is not None:
        return found
    if moved := current_slug(dimension, slug):
        raise SlugMoved(slug, moved)
    raise Http404(f"No {dimension.name} with this slug.")  # the same words for a private app


def entities_of(entity: str, keys: Iterable[Any]) -> dict[Any, Any]:
    """The catalog entries of ``keys`` by key (a variant is its own)."""
    keys = set(keys)
    if entity == "variant":
        return {k: k for k in keys}
    queryset = ENTITY_MODEL[entity].objects.filter(pk__in=keys)
    if entity in ("model", "tag"):
        queryset = queryset.select_related("author" if entity == "model" else "key")
    found = {obj.pk: obj for obj in queryset}
    if entity == "app":
        tell_apart(found.values())
    return found


def tell_apart(listed: Iterable[Any]) -> None:
    """Apps whose title another app has too (one product seen under two origins, until staff
    merge them, or a look-alike) are named with their host wherever they are listed, on any
    page of any list: two rows or chart lines of one name would read as one app counted
    twice. Which apps share a title (read through the apps' title index, :func:`shared_titles`)
    is read again at most every ``SHARED_TITLES_TTL`` seconds, not per rollup generation:
    uncached pages would read it each time."""
    namesakes = cached(
        "apps:namesakes",
        lambda: frozenset(_titled_apps().filter(title_key__in=shared_titles()).values_list("pk", flat=True)),
        ttl=SHARED_TITLES_TTL,
    )
    for app in listed:
        if app.pk in namesakes:
            host = urlsplit(app.origin).hostname
            app.name = f"{app.name} ({_ascii_host(host) if host else 'no URL'})"  # no URL: known by title


def _ascii_host(host: str) -> str:
    """A host as DNS spells it (punycode): a look-alike letter from another script cannot
    pass for the real host beside it."""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDNA name: its letters escaped
        return host.encode("ascii", "backslashreplace").decode("ascii")


def attach_entities(entity: str, rows: Iterable[Any]) -> None:
    """Set each row's ``entity`` to the catalog entry of its ``key`` (a variant is its own)."""
    rows = list(rows)
    found = entities_of(entity, (r.key for r in rows))
    for row in rows:
        row.entity = found.get(row.key)


def _titled_apps() -> QuerySet:
    """Apps known by an origin (the unattributed app has none) with their ``title_key``."""
    return ENTITY_MODEL["app"].objects.exclude(origin="").annotate(title_key=TITLE_KEY)


def shared_titles() -> QuerySet:
    """The title keys two or more apps have: most likely one product seen under several
    origins (a site and its app subdomain), to be merged by staff. One grouped scan."""
    return _titled_apps().values("title_key").annotate(n=Count("pk")).filter(n__gt=1).values("title_key")


def with_same_title(apps_: QuerySet) -> QuerySet:
    """``apps_`` with ``title_key`` and ``same_title``: how many apps have that title (one
    probe of the apps per listed row)."""
    count = _titled_apps().filter(title_key=OuterRef("title_key")).values("title_key").annotate(n=Count("pk"))
    return apps_.annotate(title_key=TITLE_KEY).annotate(
        same_title=Coalesce(Subquery(count.values("n"), output_field=IntegerField()), 0)
    )


def apps_titled(title_key: str) -> list:
    """The apps with this title key, first seen first."""
    return list(_titled_apps().filter(title_key=title_key).order_by("created_at", "pk"))

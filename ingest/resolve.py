"""Map the names in normalized events to catalog ids, creating what is seen for the first time.

New authors, models, providers and apps are created flagged ``needs_review``. Creation uses
``INSERT ... ON CONFLICT DO NOTHING`` so concurrent workers on several hosts agree on one row.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ingest import schema, values
from ingest.events import TITLE_IDENTITY_PREFIX, slugify
from ingest.extras import join_tags, split_tags
from rankings import models as catalog

# A dated permaslug: the model's name, then its snapshot date (2024-07-18 or 20250522).
_DATED = re.compile(r"^(?P<base>.+/.+?)-(?:20\d\d-[01]\d-[0-3]\d|20\d\d[01]\d[0-3]\d)$")


@dataclass
class CatalogIds:
    """Per stored catalog dimension (``ingest.schema``), its event value -> catalog id (the
    app's value is its origin; "" is the unattributed app)."""

    found: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, dimension: str) -> dict[str, int]:
        return self.found.setdefault(dimension, {})

    def update(self, other: CatalogIds) -> None:
        for dimension, ids in other.found.items():
            self.of(dimension).update(ids)


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


def _known_models(slugs: set[str]) -> dict[str, int]:
    """slug -> id for the slugs that are models or aliases of one."""
    found = dict(catalog.LLMModel.objects.filter(slug__in=slugs).values_list("slug", "id"))
    found.update(
        catalog.ModelAlias.objects.filter(slug__in=slugs - found.keys()).values_list("slug", "model_id")
    )
    return found


def canonical_slug(slug: str) -> str:
    """The undated model a dated permaslug stands for (``openai/gpt-4o-mini-2024-07-18`` ->
    ``openai/gpt-4o-mini``); other slugs are their own. Four-digit suffixes such as
    ``deepseek-r1-0528`` are model names, not dates."""
    match = _DATED.match(slug)
    return match["base"] if match else slug


def _ensure_models(slugs: Iterable[str]) -> dict[str, int]:
    """slug -> id for models, creating their authors (from the slug prefix) when new. A slug
    that is an alias counts as its model; an unknown dated permaslug counts as its undated
    model (created if new), recorded as an alias and, first, as that model's permaslug."""
    slugs = set(slugs)
    found = _known_models(slugs)
    unknown = slugs - found.keys()
    if not unknown:
        return found
    dated = {s: canonical_slug(s) for s in unknown if canonical_slug(s) != s}
    bases = set(dated.values())
    new = (unknown - dated.keys()) | (bases - _known_models(bases).keys())
    if new:
        authors = _ensure(catalog.Author, {s.split("/")[0]: {"name": s.split("/")[0]} for s in new})
        _ensure(
            catalog.LLMModel,
            {s: {"name": s.split("/")[1], "author_id": authors[s.split("/")[0]]} for s in new},
        )
    if dated:
        canonical = _known_models(bases)
        catalog.ModelAlias.objects.bulk_create(
            [catalog.ModelAlias(slug=s, model_id=canonical[base]) for s, base in sorted(dated.items())],
            ignore_conflicts=True,
        )
        for s, base in sorted(dated.items()):
            catalog.LLMModel.objects.filter(pk=canonical[base], permaslug="").update(permaslug=s)
    return _known_models(slugs)


def _app_slug(origin: str) -> str:
    host = origin.split("://", 1)[-1]
    return slugify(host.removeprefix("www."))[:80]


def _ensure_apps(names_by_origin: dict[str, str]) -> dict[str, int]:
    found = dict(catalog.AppOrigin.objects.filter(origin__in=names_by_origin).values_list("origin", "app_id"))
    for origin in sorted(names_by_origin.keys() - found.keys()):
        if origin.startswith(TITLE_IDENTITY_PREFIX):
            found[origin] = _title_app(origin, names_by_origin[origin])
        else:
            found[origin] = _create_app(origin, names_by_origin[origin])
    return found


def _title_app(identity: str, name: str) -> int:
    """The app of an export row known only by its title: the one app of that title that has a
    URL, when there is exactly one (the title becomes its alias), else an app of its own."""
    same_title = list(
        catalog.App.objects.filter(name__iexact=" ".join(name.split()), origin__contains="://").values_list(
            "pk", flat=True
        )[:2]
    )
    if len(same_title) != 1:
        return _create_app(identity, name)
    catalog.AppOrigin.objects.bulk_create(
        [catalog.AppOrigin(origin=identity, app_id=same_title[0])], ignore_conflicts=True
    )
    return catalog.AppOrigin.objects.get(origin=identity).app_id


def _slug_candidates(base: str, identity: str) -> Iterator[str]:
    """``base``, then ``base`` with a hash of the app's identity (two paths of one host, or
    hosts and titles that slugify alike), then that with a counter: never runs out."""
    yield base
    hashed = f"{base[:60]}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"
    yield hashed
    for n in itertools.count(2):
        yield f"{hashed}-{n}"


def _public_url(origin: str) -> str:
    """The origin as the app's link when it is a URL the admin form would also accept (an
    origin such as https://my_app.local identifies an app but is no valid link, nor is a title
    identity): otherwise no link, so an operator can still save the app's page."""
    try:
        catalog.App._meta.get_field("url").run_validators(origin)
    except ValidationError:
        return ""
    return origin


# Apps seen for the first time in a test key's events are created private: staging traffic
# names no app on a public page, list or search (an operator can publish it in the admin).
_NEW_APPS_PRIVATE: ContextVar[bool] = ContextVar("new_apps_private", default=False)


@contextmanager
def new_apps_private(private: bool) -> Iterator[None]:
    """Within it, apps created for new origins are private when ``private``."""
    token = _NEW_APPS_PRIVATE.set(private)
    try:
        yield
    finally:
        _NEW_APPS_PRIVATE.reset(token)


def _create_app(origin: str, name: str) -> int:
    """Create an app for a new origin (or title identity); a concurrent creator's row wins if
    it came first."""
    titled = origin.startswith(TITLE_IDENTITY_PREFIX)
    base = (slugify(name)[:80] if titled else _app_slug(origin)) if origin else catalog.App.UNATTRIBUTED_SLUG
    max_name = catalog.App._meta.get_field("name").max_length
    name = name if values.visible(name) else ""  # nothing to see: the app is shown by its host
    title = (name or origin.split("://", 1)[-1])[:max_name] if origin else "(unattributed)"
    candidates = _slug_candidates(base, origin)
    while True:
        slug = next(candidates)
        if catalog.AppSlugAlias.objects.filter(slug=slug).exists():
            continue  # an old slug of a merged app keeps redirecting to the app it was merged into
        try:
            with transaction.atomic():
                app = catalog.App.objects.create(
                    slug=slug,
                    name=title,
                    origin=origin,
                    url=_public_url(origin),
                    needs_review=True,
                    is_public=not _NEW_APPS_PRIVATE.get(),
                )
                catalog.AppOrigin.objects.create(origin=origin, app=app)
                return app.id
        except IntegrityError:
            existing = (
                catalog.AppOrigin.objects.filter(origin=origin).values_list("app_id", flat=True).first()
            )
            if existing is not None:
                return existing
            if not catalog.App.objects.filter(slug=slug).exists():
                raise  # not a slug collision: the caller isolates the event that caused it


def _models(events: list[dict[str, Any]]) -> dict[str, int]:
    return _ensure_models({e["model"] for e in events})


def _providers(events: list[dict[str, Any]]) -> dict[str, int]:
    names = {e["provider"]: e["provider_name"] for e in events}  # a few distinct ones
    return _ensure(
        catalog.Provider,
        {slug: {"name": name if values.visible(name) else slug} for slug, name in names.items()},
    )


def _apps(events: list[dict[str, Any]]) -> dict[str, int]:
    origins: dict[str, str] = {}
    for e in events:
        if e["origin"] not in origins or not origins[e["origin"]]:
            origins[e["origin"]] = e["app_name"]
    return _ensure_apps(origins)


def _categories(events: list[dict[str, Any]]) -> dict[str, int]:
    categories = {e["category"] for e in events}  # a few distinct ones
    return _ensure(catalog.Category, {slug: {"name": slug.title()} for slug in categories})


# How each stored catalog dimension of ``ingest.schema`` finds (or creates) its entries.
RESOLVERS = {"model": _models, "provider": _providers, "app": _apps, "category": _categories}


def _admit(key: catalog.TagKey, seen: Counter[str]) -> None:
    """Catalog entries for the new values of ``key`` (``key=value`` texts, with how often
    each is seen), the most frequent first, while the key has room; and its "other" entry.
    The key's row is locked meanwhile, so concurrent workers never admit past its limit."""
    catalog.TagKey.objects.select_for_update().filter(pk=key.pk).first()
    admitted = catalog.TagValue.objects.filter(key=key).exclude(value=catalog.TagValue.OTHER).count()
    room = max(0, key.max_values - admitted)
    chosen = [tag for tag, _ in sorted(seen.items(), key=lambda item: (-item[1], item[0]))][:room]
    other = f"{key.key}={catalog.TagValue.OTHER}"
    catalog.TagValue.objects.bulk_create(
        [catalog.TagValue(key=key, value=tag.split("=", 1)[1], tag=tag) for tag in sorted({*chosen, other})],
        ignore_conflicts=True,
    )


def fold_tags(events: list[dict[str, Any]]) -> None:
    """Rewrite each event's tags to the values kept: a value seen for the first time is kept
    while its key has room (:func:`_admit`), else it becomes ``key=other``; tags of a key
    deleted meanwhile are dropped. Idempotent (a folded event folds to itself)."""
    combinations = Counter(e["tags"] for e in events if e.get("tags"))  # few distinct ones
    if not combinations:
        return
    seen: Counter[str] = Counter()
    for combination, n in combinations.items():
        for tag in split_tags(combination):
            seen[tag] += n
    known = set(catalog.TagValue.objects.filter(tag__in=seen).values_list("tag", flat=True))
    new: dict[str, Counter[str]] = {}
    for tag in seen.keys() - known:
        new.setdefault(tag.split("=", 1)[0], Counter())[tag] = seen[tag]
    if new:
        with transaction.atomic():
            for key in catalog.TagKey.objects.filter(key__in=new).order_by("key"):  # one order: no deadlocks
                _admit(key, new[key.key])
        others = {f"{key}={catalog.TagValue.OTHER}" for key in new}
        known = set(
            catalog.TagValue.objects.filter(tag__in=seen.keys() | others).values_list("tag", flat=True)
        )
    if seen.keys() <= known:
        return  # every value already kept: nothing to fold
    folded = {}
    for combination in combinations:
        tags = (
            t if t in known else f"{t.split('=', 1)[0]}={catalog.TagValue.OTHER}"
            for t in split_tags(combination)
        )
        folded[combination] = join_tags(sorted({t for t in tags if t in known}))
    for e in events:
        if e.get("tags"):
            e["tags"] = folded[e["tags"]]


def resolve(events: list[dict[str, Any]]) -> CatalogIds:
    """Ids for every catalog entry named in ``events``, per stored dimension; their tags
    folded to the values kept (:func:`fold_tags`)."""
    fold_tags(events)
    return CatalogIds({d.name: RESOLVERS[d.name](events) for d in schema.STORED if d.catalog})

"""Index pages and list API: what each index can be searched, filtered and sorted by, and
applying a query to the entries of :mod:`rankings.listings`. Pages read their query
leniently (a bad value falls back to its default); the API reads it strictly (a 400 naming
the parameter), from the same definitions."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from ingest.rollups import zones
from rankings import listings
from rankings.models import Author, Category, Provider
from rankings.page_state import Switches
from rankings.views import METRIC_LABELS, PERIOD_LABELS

PERIODS = PERIOD_LABELS
METRICS = METRIC_LABELS
PAGE_SIZE = 50
MAX_QUERY = 100


class InvalidParam(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= 1_000_000:
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Field:
    """One filter: a ``select`` of options, a ``number`` or a ``checkbox``. ``test`` keeps
    an entry; a field without one scopes the data itself (the apps' category)."""

    name: str
    label: str
    widget: str
    parse: Callable[[str], Any]
    test: Callable[[dict[str, Any], Any], bool] | None = None
    options: Callable[[], list[tuple[str, str]]] | None = None
    help: str = ""


def _slug_of(model) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        value = value[:200].lower()  # slugs are lower case: "Anthropic" names the same author
        pk = model.objects.filter(slug=value).values_list("pk", flat=True).first()
        if pk is None:
            raise ValueError(value)
        return pk if model is Category else value

    return parse


def _options(model, **filters) -> Callable[[], list[tuple[str, str]]]:
    return lambda: list(model.objects.filter(**filters).distinct().values_list("slug", "name"))


def _checkbox(value: str) -> bool:
    if value not in ("1", "on", "true"):
        raise ValueError(value)
    return True


CONTEXT_OPTIONS = [
    ("8000", "8K+"),
    ("32000", "32K+"),
    ("128000", "128K+"),
    ("200000", "200K+"),
    ("1000000", "1M+"),
]


def _context(value: str) -> int:
    if value not in dict(CONTEXT_OPTIONS):
        raise ValueError(value)
    return int(value)


@dataclass(frozen=True)
class Sort:
    label: str
    key: Callable[[dict[str, Any]], Any]
    descending: bool = True


def _none_last(key: Callable[[dict[str, Any]], Any], descending: bool) -> Callable[[dict[str, Any]], Any]:
    def sort_key(row: dict[str, Any]) -> tuple:
        value = key(row)
        if value is None:
            return (1, 0)
        if isinstance(value, (int, float)):
            return (0, -value if descending else value)
        return (0, value)

    return sort_key


USAGE = Sort("Most used", lambda r: r["value"])
GROWTH = Sort("Fastest growing", lambda r: r["change"])
NAME = Sort("Name", lambda r: r["name"].casefold(), descending=False)
NEWEST = Sort("Newest", lambda r: r["first_seen"].toordinal() if r["first_seen"] else None)


@dataclass(frozen=True)
class Spec:
    kind: str
    plural: str
    title: str
    intro: str
    sorts: dict[str, Sort]
    fields: tuple[Field, ...] = ()

    @property
    def url_name(self) -> str:
        return f"rankings:{self.plural}"


SPECS = {
    "model": Spec(
        "model",
        "models",
        "Models",
        "Every model, with who makes and serves it, its prices and how much it is used.",
        {
            "usage": USAGE,
            "growth": GROWTH,
            "newest": NEWEST,
            "price": Sort("Lowest price", lambda r: r["prompt_price"], descending=False),
            "context": Sort("Longest context", lambda r: r["context"]),
            "name": NAME,
        },
        (
            Field(
                "author",
                "Author",
                "select",
                _slug_of(Author),
                lambda r, v: r["author_slug"] == v,
                _options(Author, models__isnull=False),
            ),
            Field(
                "provider",
                "Provider",
                "select",
                _slug_of(Provider),
                lambda r, v: any(slug == v for slug, _ in r["providers"]),
                _options(Provider),
                "Served in the last 30 days",
            ),
            Field(
                "context",
                "Context",
                "select",
                _context,
                lambda r, v: (r["context"] or 0) >= v,
                lambda: CONTEXT_OPTIONS,
            ),
            Field(
                "price_min",
                "Prompt $/M from",
                "number",
                _number,
                lambda r, v: r["prompt_price"] is not None and r["prompt_price"] >= v,
            ),
            Field(
                "price_max",
                "to",
                "number",
                _number,
                lambda r, v: r["prompt_price"] is not None and r["prompt_price"] <= v,
            ),
            Field("reasoning", "Reasoning", "checkbox", _checkbox, lambda r, v: r["reasoning"]),
        ),
    ),
    "app": Spec(
        "app",
        "apps",
        "Apps",
        "Every public app that sends usage through the gateway.",
        {"usage": USAGE, "growth": GROWTH, "newest": NEWEST, "name": NAME},
        (
            Field(
                "category",
                "Category",
                "select",
                _slug_of(Category),
                None,
                _options(Category),
                "Apps used in this category, measured in it",
            ),
        ),
    ),
    "author": Spec(
        "author",
        "authors",
        "Authors",
        "Every lab whose models are ranked.",
        {
            "usage": USAGE,
            "growth": GROWTH,
            "models": Sort("Most models", lambda r: r["models"]),
            "name": NAME,
        },
    ),
    "provider": Spec(
        "provider",
        "providers",
        "Providers",
        "Every provider that serves models, with the number of models it served in the last 30 days.",
        {
            "usage": USAGE,
            "growth": GROWTH,
            "models": Sort("Most models", lambda r: r["models"]),
            "name": NAME,
        },
    ),
    "category": Spec(
        "category",
        "categories",
        "Categories",
        "What the tokens are used for.",
        {"usage": USAGE, "growth": GROWTH, "name": NAME},
    ),
}


@dataclass
class IndexQuery(Switches):
    q: str = ""
    sort: str = "usage"
    page: int = 1
    filters: dict[str, str] = field(default_factory=dict)  # the valid raw values
    values: dict[str, Any] = field(default_factory=dict)  # the same, parsed

    @staticmethod
    def names(spec: Spec) -> tuple[str, ...]:
        """The parameters :meth:`parse` reads."""
        return ("q", "period", "metric", "sort", "tz", "page", *(f.name for f in spec.fields))

    @classmethod
    def parse(cls, spec: Spec, params: Mapping[str, str], *, strict: bool = False) -> IndexQuery:
        """The query of ``params``; an invalid value falls back to its default, or raises
        :class:`InvalidParam` when ``strict``."""
        query = cls()

        def bad(name: str, message: str) -> None:
            if strict:
                raise InvalidParam(name, message)

        q = " ".join(params.get("q", "").split())
        if len(q) > MAX_QUERY:
            bad("q", f"q: at most {MAX_QUERY} characters.")
        query.q = q[:MAX_QUERY]
        for name, allowed in (("period", PERIODS), ("metric", METRICS), ("sort", spec.sorts)):
            value = params.get(name)
            if value in allowed:
                setattr(query, name, value)
            elif value is not None:
                bad(name, f"{name}: must be one of {', '.join(allowed)}.")
        tz = params.get("tz", "")
        if tz:
            try:
                # The site's own zone is the default: links and cache keys leave it out.
                query.tz = "" if zones.asked(tz) == zones.reporting_zone() else tz
            except ValueError as error:
                bad("tz", f"tz: {error}.")
        page = params.get("page", "1")
        if page.isdigit() and 0 < int(page) <= 100_000:
            query.page = int(page)
        else:
            bad("page", "page: a whole number from 1.")
        for f in spec.fields:
            raw = params.get(f.name, "")
            if raw == "":
                continue
            try:
                query.values[f.name] = f.parse(raw)
                query.filters[f.name] = raw
            except (ValueError, TypeError, OverflowError):
                bad(f.name, f"{f.name}: {raw[:50]!r} is not a valid value.")
        return query

    def params(self, **changes: Any) -> dict[str, Any]:
        """Non-default parameters of this query with ``changes`` (page back to 1 unless given)."""
        defaults = IndexQuery()
        values = {
            "q": self.q, "period": self.period, "metric": self.metric, "sort": self.sort, "page": 1, "tz": self.tz
        }
        values.update(self.filters)
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None) and getattr(defaults, k, None) != v}

    def url(self, path: str, **changes: Any) -> str:
        query = self.params(**changes)
        return path + ("?" + urlencode(query) if query else "")


@dataclass
class Result:
    rows: list[dict[str, Any]]
    count: int
    page: int
    pages: int
    total: int  # entries before search and filters


def entity_link(kind: str, slug: str) -> str:
    if kind == "model":
        return reverse("rankings:model", args=slug.split("/", 1))
    return reverse(f"rankings:{kind}", args=[slug])


def matches(row: dict[str, Any], terms: list[str]) -> bool:
    return all(term in row["search"] for term in terms)


def apply(spec: Spec, query: IndexQuery, page_size: int = PAGE_SIZE) -> Result:
    """The page of entries ``query`` asks for, each with its ``link``."""
    scope = {f.name: query.values[f.name] for f in spec.fields if f.test is None and f.name in query.values}
    rows = listings.entries(spec.kind, query.period, query.metric, zone=query.tz or None, **scope)
    total = len(rows)
    terms = query.q.casefold().split()
    tests = [(f.test, query.values[f.name]) for f in spec.fields if f.test and f.name in query.values]
    chosen = [r for r in rows if matches(r, terms) and all(test(r, v) for test, v in tests)]
    sort = spec.sorts[query.sort]
    chosen.sort(key=_none_last(sort.key, sort.descending))
    pages = max(1, math.ceil(len(chosen) / page_size))
    page = min(query.page, pages)
    shown = [
        dict(r, link=entity_link(spec.kind, r["slug"]))
        for r in chosen[(page - 1) * page_size : page * page_size]
    ]
    return Result(shown, len(chosen), page, pages, total)


def page_links(query: IndexQuery, result: Result, path: str) -> list[dict[str, Any]]:
    """Page numbers around the current one, the first and the last, with gaps as None."""
    wanted = sorted(
        {1, result.pages, *range(result.page - 2, result.page + 3)} & set(range(1, result.pages + 1))
    )
    links: list[dict[str, Any]] = []
    for n in wanted:
        if links and n - links[-1]["number"] > 1:
            links.append({"number": None})
        links.append({"number": n, "url": query.url(path, page=n), "current": n == result.page})
    return links


SEARCH_KINDS = ("model", "app", "author")


def search(q: str, limit: int = 5, zone: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The models, apps and authors whose name or slug has every word of ``q``, most used
    this week (in ``zone``) first, names that start with ``q`` before the rest."""
    terms = " ".join(q.split())[:MAX_QUERY].casefold().split()
    if not terms:
        return {}
    results = {}
    for kind in SEARCH_KINDS:
        rows = [r for r in listings.entries(kind, "week", "tokens", zone=zone) if matches(r, terms)]
        rows.sort(key=lambda r: (not r["name"].casefold().startswith(terms[0]), -r["value"], r["name"]))
        results[kind] = [dict(r, link=entity_link(kind, r["slug"])) for r in rows[:limit]]
    return results

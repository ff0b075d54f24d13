"""Parsing one value of an event: text, counts, milliseconds, money, flags, timestamps,
origins, model names, variants and categories (the known ones read from the catalog, kept for
``KNOWN_CATEGORIES_TTL`` seconds). Each parser returns the value or raises ValueError with
the message an event's rejection shows. ``column_widths`` gives the width of the columns each
normalized text is written to, read from the models."""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps

from rankings.catalog import OTHER_CATEGORY
from rankings.models import Category

EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(hours=1)
MAX_TOKENS = 100_000_000  # per field of one request; larger counts are errors, not usage
MAX_COST = Decimal("100000")
MAX_COST_FLOAT = float(MAX_COST)  # the fast paths' bound for a cost sent as a JSON number
MAX_MS = 24 * 3600 * 1000
MAX_ID_LENGTH = 200

CATEGORY_ALIASES = {"marketing/seo": "marketing-seo"}
# A category added in the admin is recognised by every process within this many seconds.
KNOWN_CATEGORIES_TTL = 30.0

_MODEL_RE = re.compile(r"^([a-z0-9][a-z0-9._-]{0,63})/([a-z0-9][a-z0-9._-]{0,127})(?::([a-z0-9-]{1,16}))?$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Removed from free text too: bidi embeddings, overrides and isolates (U+202A-U+202E,
# U+2066-U+2069), which would flip the text around a name wherever it is shown.
REMOVED_RE = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Unicode categories that draw nothing: format (zero-width spaces and joiners, soft hyphen,
# byte order mark), combining marks with nothing to combine with, separators, private use.
_INVISIBLE = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc", "Co"})
# Printable characters that draw nothing although Unicode classes them otherwise: the combining
# grapheme joiner, Hangul and Khmer fillers, Mongolian and other variation selectors, the
# Braille blank, private use. An id holding one looks like an id without it.
BLANK_RE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\uffa0\ufe00-\ufe0f"
    "\U000e0100-\U000e01ef\ue000-\uf8ff]"
)
SURROGATE_RE = re.compile(r"[\ud800-\udfff]")  # lone surrogates: JSON can carry them, UTF-8 cannot
MAX_MODEL = 64 + 1 + 128 + 1 + 16 + 10  # author/name:variant as _MODEL_RE allows, with spaces
_VARIANT_RE = re.compile(r"^[a-z0-9-]{1,16}$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)


def parsed(errors: dict[str, str], name: str, parse, *args) -> Any:
    """``parse(*args)``, or None with its error recorded under the event field ``name``."""
    try:
        return parse(*args)
    except ValueError as exc:
        errors[name] = str(exc)
        return None


def text(value: Any, limit: int) -> str:
    """A printable text of at most ``limit`` characters once composed (:func:`composed`),
    control and bidi characters removed, stripped."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = composed(value)
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    if not value.isprintable():  # rare; isprintable is a fast C scan
        if SURROGATE_RE.search(value):
            raise ValueError("must be valid Unicode (it holds a lone surrogate)")
        value = REMOVED_RE.sub("", value)
    return value.strip()


def composed(value: str) -> str:
    """``value`` in Unicode's composed form (NFC): an "é" sent as one character and as "e"
    plus a combining accent is one id, one session, one tag value."""
    if value.isascii() or unicodedata.is_normalized("NFC", value):
        return value
    return unicodedata.normalize("NFC", value)


def all_drawn(value: str) -> bool:
    """Whether every character of ``value`` draws something: no control, format (bidi,
    zero-width), filler or blank one, which would make two ids that look the same."""
    return value.isprintable() and (value.isascii() or not BLANK_RE.search(value))


def drawn(value: str) -> str:
    """``value`` if :func:`all_drawn`: such a character is refused, not dropped."""
    if not all_drawn(value):
        raise ValueError("must hold only printable characters, none that draws nothing (zero-width or blank)")
    return value


def identifier(value: Any, limit: int) -> str:
    """A text that tells one thing from another (a session, a harness): :func:`text`, and
    :func:`drawn`."""
    return drawn(text(value, limit))


def folded(value: str) -> str:
    """Caseless and with compatibility forms folded (NFKC casefold): "Cline", "CLINE" and a
    fullwidth "ＣＬＩＮＥ" are one harness or tag value."""
    if value.isascii():
        return value.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def visible(value: str) -> bool:
    """Whether ``value`` draws anything: a name of zero-width, format, combining, filler or
    blank characters only would show as an empty link."""
    return any(unicodedata.category(c) not in _INVISIBLE and not BLANK_RE.match(c) for c in value)


def count(value: Any, limit: int = MAX_TOKENS) -> int:
    if type(value) is int and 0 <= value <= limit:
        return value  # the common case, first
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, str):
        value = _number_text(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("must be a number")
        if math.isinf(value):  # a number too large for a float
            raise ValueError("must not be negative" if value < 0 else f"must be at most {limit:,}")
        if value != int(value):
            raise ValueError("must be a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    if value < 0:
        raise ValueError("must not be negative")
    if value > limit:
        raise ValueError(f"must be at most {limit:,}")
    return value


def _number_text(value: str) -> int | float | str:
    """A count sent as text (a CSV cell), read as the JSON number it spells, so that both get
    one set of rules and messages: "1200" is 1200, "1.2e3" 1200.0 and "1e30" too large.
    Anything else stays text (not a number)."""
    value = value.strip()
    # isdecimal, not isdigit: int() refuses superscripts such as "²" that isdigit accepts.
    if value.lstrip("-").isdecimal() and len(value) <= 30:
        return int(value)
    if "_" in value:  # float() reads "1_000"; a count is not written so
        return value
    try:
        return float(value)  # "1e400" and 5,000 digits are an infinity: too large
    except ValueError:
        return value


def milliseconds(value: Any) -> int:
    if isinstance(value, float) and math.isfinite(value):
        value = round(value)
    return count(value, MAX_MS)


def money(value: Any) -> Decimal:
    if type(value) is float and 0 <= value <= MAX_COST_FLOAT:  # finite and in range: the common case
        return Decimal(repr(value))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    if isinstance(value, str) and len(value) > 40:
        raise ValueError("must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("must be a number") from exc
    if amount.is_nan():
        raise ValueError("must be a number")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_COST:  # an infinity too: a JSON number too large for a float
        raise ValueError(f"must be at most {MAX_COST}")
    return amount.quantize(Decimal("1e-10"))


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    raise ValueError("must be true or false")


def timestamp(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be an RFC 3339 timestamp string")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the CSV export writes naive UTC times
        moment = moment.astimezone(UTC)  # year 1 at +01:00 overflows here
    except (ValueError, OverflowError) as exc:
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2025-08-01T12:00:00Z") from exc
    if moment < EARLIEST:
        raise ValueError("must not be before 2020-01-01")
    if moment > now + FUTURE_TOLERANCE:
        raise ValueError("must not be more than 1 hour ahead of the server's clock")
    return moment


def normalize_origin(value: Any) -> str:
    """The app identity of a URL: scheme, host (lowercased, without the scheme's default port)
    and path, no query."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return _normalize_origin(value)


DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=65536)  # a gateway sees the same few thousand origins over and over
def _normalize_origin(value: str) -> str:
    url = text(value, 500)
    if not url:
        return ""
    if "://" not in url:
        if _SCHEME_RE.match(url):  # javascript:, data:, mailto: ...
            raise ValueError("must be an http(s) URL")
        url = "https://" + url  # a bare host such as cline.bot
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError("must be an http(s) URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    # The scheme's own port is no part of the identity: https://a.example:443 is https://a.example.
    host = f"{hostname}:{port}" if port and port != DEFAULT_PORTS[parts.scheme] else hostname
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


@lru_cache(maxsize=65536)
def match_model(model: str) -> re.Match | None:
    return _MODEL_RE.match(model.strip().lower())


def variant_column(value: Any) -> str:
    """The CSV export's variant column: "standard" (or empty) is no variant."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    variant = value.strip().lower()
    if variant in ("", "standard", "default"):
        return ""
    if not _VARIANT_RE.match(variant):
        raise ValueError("must be 1-16 lowercase letters, digits or dashes, e.g. free or nitro")
    return variant


_known_categories: tuple[float, frozenset[str]] = (-math.inf, frozenset())
_pinned_categories: ContextVar[frozenset[str] | None] = ContextVar("pinned_categories", default=None)


def known_categories() -> frozenset[str]:
    """The slugs of the catalog's categories, read again at most every
    ``KNOWN_CATEGORIES_TTL`` seconds per process (validation is ingest's hot path), unless
    :func:`categories_known_as` pinned them."""
    global _known_categories
    if (pinned := _pinned_categories.get()) is not None:
        return pinned
    expires, slugs = _known_categories
    moment = time.monotonic()
    if moment >= expires:
        slugs = frozenset(Category.objects.values_list("slug", flat=True))
        _known_categories = (moment + KNOWN_CATEGORIES_TTL, slugs)
    return slugs


@contextmanager
def categories_known_as(slugs: frozenset[str]) -> Iterator[None]:
    """Validate with these known categories (read by the caller): a thread that validates
    for another never reads the catalog on a connection of its own, which would not see
    the caller's uncommitted changes."""
    token = _pinned_categories.set(slugs)
    try:
        yield
    finally:
        _pinned_categories.reset(token)


def categories(value: Any) -> str:
    known = known_categories()
    if isinstance(value, str):
        # Cached by the text as sent, so only short texts; the first 30 items count anyway.
        if len(value) <= 300:
            return _categories_text(value, known)
        return _categories_items(value.split(",", 30)[:30], known)
    return _categories_items(value, known)


@lru_cache(maxsize=4096)  # keyed by the known set too (a frozenset hashes once)
def _categories_text(value: str, known: frozenset[str]) -> str:
    return _categories_items(value.split(","), known)


def _categories_items(value: Any, known: frozenset[str]) -> str:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings or a comma-separated string")
    for item in value[:30]:
        slug = item[:64].strip().lower()[:30]
        slug = CATEGORY_ALIASES.get(slug, slug)
        if slug in known:
            return slug
    return OTHER_CATEGORY  # unknown values are dropped, as OpenRouter does


# Normalized text -> (the event field it came from, the columns it is written to). Every
# text the worker writes is listed here: the accept path refuses what a column would refuse.
WRITTEN_TEXT = {
    "id": ("id", ("ingest.SeenEvent.id", "ingest.RawEvent.id")),
    "origin": ("origin", ("ingest.RawEvent.origin", "rankings.AppOrigin.origin", "rankings.App.origin")),
    "app_name": ("app_name", ("rankings.App.name",)),
    "provider_name": ("provider_name", ("rankings.Provider.name",)),
    "provider": ("provider_name", ("rankings.Provider.slug",)),
    "model": ("model", ("rankings.LLMModel.slug",)),
    "author": ("model", ("rankings.Author.slug", "rankings.Author.name")),
    "variant": ("model", ("ingest.RawEvent.variant", "ingest.UsageDaily.variant")),
    "finish_reason": ("finish_reason", ("ingest.RawEvent.finish_reason",)),
    "session_id": ("session_id", ("ingest.RawEvent.session_id",)),
    "harness": ("harness", ("ingest.RawEvent.harness", "ingest.UsageSession.harness")),
    "category": ("categories", ("rankings.Category.slug",)),
}


@lru_cache(maxsize=1)
def column_widths() -> tuple[tuple[str, str, int], ...]:
    """(normalized key, event field, the narrowest width among the columns it lands in),
    read from the models so the limits can never drift from the schema. Lengths are checked
    after normalisation (lowercasing, a scheme added to a bare host); text is already free of
    control characters and lone surrogates."""
    widths = []
    for key, (name, columns) in WRITTEN_TEXT.items():
        limits = []
        for column in columns:
            label, field_name = column.rsplit(".", 1)
            limits.append(apps.get_model(label)._meta.get_field(field_name).max_length)
        widths.append((key, name, min(limits)))
    return tuple(widths)

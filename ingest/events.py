"""Reading usage events: request bodies and files into validated, normalized events.

Field names follow OpenRouter's generation record (and its activity CSV export), so real
exports load as they are; see docs/api.md for the accepted fields and the limits below.
Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson

from rankings.catalog import OTHER_CATEGORY, UNKNOWN_PROVIDER

EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(hours=1)
MAX_TOKENS = 100_000_000  # per field of one request; larger counts are errors, not usage
MAX_COST = Decimal("100000")
MAX_MS = 24 * 3600 * 1000
MAX_ID_LENGTH = 200

CATEGORY_ALIASES = {"marketing/seo": "marketing-seo"}
KNOWN_CATEGORIES = {
    "programming",
    "roleplay",
    "marketing",
    "marketing-seo",
    "technology",
    "science",
    "translation",
    "legal",
    "finance",
    "health",
    "trivia",
    "academia",
}

_MODEL_RE = re.compile(r"^([a-z0-9][a-z0-9._-]{0,63})/([a-z0-9][a-z0-9._-]{0,127})(?::([a-z0-9-]{1,16}))?$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")  # lone surrogates: JSON can carry them, UTF-8 cannot
_MAX_MODEL = 64 + 1 + 128 + 1 + 16 + 10  # author/name:variant as _MODEL_RE allows, with spaces
_VARIANT_RE = re.compile(r"^[a-z0-9-]{1,16}$")
_SLUG_RE = re.compile(r"[^a-z0-9]+")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)

# (normalized key, native field, normalized field) of each token count.
TOKEN_FIELDS = (
    ("prompt", "native_tokens_prompt", "tokens_prompt"),
    ("completion", "native_tokens_completion", "tokens_completion"),
    ("reasoning", "native_tokens_reasoning", "tokens_reasoning"),
    ("cached", "native_tokens_cached", "tokens_cached"),
)

# Activity CSV export column -> generation record field.
CSV_COLUMNS = {
    "generation_id": "id",
    "cost_total": "total_cost",
    "tokens_reasoning": "native_tokens_reasoning",
    "tokens_cached": "native_tokens_cached",
    "model_permaslug": "model",
    "finish_reason_normalized": "finish_reason",
    "generation_time_ms": "generation_time",
    "time_to_first_token_ms": "latency",  # OpenRouter's latency is the time to the first token
}
# The app identity of an export row that names its app but carries no URL (see
# :func:`attribute_titles`); a normalized origin always holds "://", so the two never meet.
TITLE_IDENTITY_PREFIX = "title:"


class BodyError(ValueError):
    """The whole body is unusable (answered with 400)."""


@dataclass
class Rejection:
    index: int
    id: Any
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        event_id = printable(self.id) if isinstance(self.id, str) else self.id
        return {"index": self.index, "id": event_id, "errors": self.errors}


def slugify(text: str) -> str:
    """An ASCII slug of at most 100 characters. A name with no ASCII letter or digit (say,
    "日本") gets one made from its hash, so two such names never share a slug."""
    slug = _SLUG_RE.sub("-", text.lower()).strip("-")[:100]
    return slug or "x-" + hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:12]


def printable(text: str) -> str:
    """``text`` with lone surrogates and control characters escaped (``\\ud800``), so that an
    echo of bad input in an answer, a log line or a dead letter can always be encoded."""
    if text.isprintable():
        return text
    return (
        _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        .encode("utf-8", "backslashreplace")
        .decode("utf-8")
    )


@lru_cache(maxsize=4096)
def _provider_slug(name: str) -> str:
    return slugify(name)


def _capped_int(text: str) -> int | float:
    # Python refuses to parse integers of 4,300+ digits; anything that long is absurd anyway.
    return int(text) if len(text) <= 30 else math.inf


def loads(text: str) -> Any:
    """Parse JSON: orjson first (about twice as fast on event bodies); anything it refuses
    (NaN, integers past 64 bits, deep nesting, malformed input) goes through the standard
    parser, which keeps absurd numbers for per-event rejections and reports positions."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text, parse_int=_capped_int)


def parse_body(raw: bytes, content_type: str) -> tuple[list[Any], list[Rejection]]:
    """Split a request body into event objects.

    Accepts a JSON array, ``{"events": [...]}`` or NDJSON. A malformed NDJSON line rejects
    that line only; a malformed JSON document is a :class:`BodyError` with its position.
    """
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark, as some tools write, is dropped
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not UTF-8 (byte {exc.start})") from exc
    if "ndjson" in content_type or "jsonl" in content_type:
        return _parse_ndjson(text)
    try:
        document = loads(text)
    except json.JSONDecodeError as exc:
        raise BodyError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise BodyError("invalid JSON: nested too deeply") from exc
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        return document["events"], []
    if isinstance(document, list):
        return document, []
    raise BodyError('expected a JSON array of events or {"events": [...]}')


def _parse_ndjson(text: str) -> tuple[list[Any], list[Rejection]]:
    events: list[Any] = []
    rejected: list[Rejection] = []
    # Lines end at \n only: str.splitlines would also split inside a JSON string that holds
    # U+2028 or U+0085 literally, which JSON allows.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(loads(line))
        except (json.JSONDecodeError, RecursionError) as exc:
            message = f"invalid JSON at line {lineno}: {getattr(exc, 'msg', 'nested too deeply')}"
            rejected.append(Rejection(len(events), None, {"event": message}))
            events.append(None)  # keeps indexes aligned with the lines
    return events, rejected


# --- One event ----------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    if not value.isprintable():  # rare; isprintable is a fast C scan
        if _SURROGATE_RE.search(value):
            raise ValueError("must be valid Unicode (it holds a lone surrogate)")
        value = _CONTROL_RE.sub("", value)
    return value.strip()


def _count(value: Any, limit: int = MAX_TOKENS) -> int:
    if type(value) is int and 0 <= value <= limit:
        return value  # the common case, first
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    # isdecimal, not isdigit: int() refuses superscripts such as "²" that isdigit accepts.
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal() and len(value) <= 30:
        value = int(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError("must be a finite whole number")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    if value < 0:
        raise ValueError("must not be negative")
    if value > limit:
        raise ValueError(f"must be at most {limit:,}")
    return value


def _milliseconds(value: Any) -> int:
    if isinstance(value, float) and math.isfinite(value):
        value = round(value)
    return _count(value, MAX_MS)


def _money(value: Any) -> Decimal:
    if type(value) is float and 0 <= value <= 100_000:  # finite and in range: the common case
        return Decimal(repr(value))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    if isinstance(value, str) and len(value) > 40:
        raise ValueError("must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("must be a number") from exc
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_COST:
        raise ValueError(f"must be at most {MAX_COST}")
    return amount.quantize(Decimal("1e-10"))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    raise ValueError("must be true or false")


def _timestamp(value: Any, now: datetime) -> datetime:
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
        raise ValueError("must not be in the future")
    return moment


def normalize_origin(value: Any) -> str:
    """The app identity of a URL: scheme, host and path, lowercased host, no query."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return _normalize_origin(value)


@lru_cache(maxsize=65536)  # a gateway sees the same few thousand origins over and over
def _normalize_origin(value: str) -> str:
    url = _text(value, 500)
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
    host = f"{hostname}:{port}" if port else hostname
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


@lru_cache(maxsize=65536)
def _match_model(model: str) -> re.Match | None:
    return _MODEL_RE.match(model.strip().lower())


def _variant_column(value: Any) -> str:
    """The CSV export's variant column: "standard" (or empty) is no variant."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    variant = value.strip().lower()
    if variant in ("", "standard", "default"):
        return ""
    if not _VARIANT_RE.match(variant):
        raise ValueError("must be 1-16 lowercase letters, digits or dashes, e.g. free or nitro")
    return variant


def _categories(value: Any) -> str:
    if isinstance(value, str):
        # Cached by the text as sent, so only short texts; the first 30 items count anyway.
        return _categories_text(value) if len(value) <= 300 else _categories_items(value.split(",", 30)[:30])
    return _categories_items(value)


@lru_cache(maxsize=4096)
def _categories_text(value: str) -> str:
    return _categories_items(value.split(","))


def _categories_items(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings or a comma-separated string")
    for item in value[:30]:
        slug = item[:64].strip().lower()[:30]
        slug = CATEGORY_ALIASES.get(slug, slug)
        if slug in KNOWN_CATEGORIES:
            return slug
    return OTHER_CATEGORY  # unknown values are dropped, as OpenRouter does


def _first(event: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = event.get(name)
        if value is not None and value != "":
            return value
    return None


def normalize(event: Any, now: datetime) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Validate one event; return its normalized form (JSON-safe) or the errors per field.

    Ranking tokens are prompt + completion. Native counts are preferred (they are what the
    provider billed); normalized ones stand in when native ones are missing, and the reverse.
    """
    if not isinstance(event, dict):
        return None, {"event": "must be a JSON object"}
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    def check(name: str, fn, *args):
        try:
            return fn(*args)
        except ValueError as exc:
            errors[name] = str(exc)
            return None

    # Identity and time.
    raw_id = event.get("id")
    if raw_id is None or raw_id == "":
        errors["id"] = "is required"
    else:
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if (
            not isinstance(raw_id, str)
            or len(raw_id) > MAX_ID_LENGTH
            or (not raw_id.isprintable() and (_CONTROL_RE.search(raw_id) or _SURROGATE_RE.search(raw_id)))
        ):
            errors["id"] = f"must be a string of 1-{MAX_ID_LENGTH} printable characters"
        else:
            out["id"] = raw_id
    if event.get("created_at") is None:
        errors["created_at"] = "is required"
    else:
        moment = check("created_at", _timestamp, event["created_at"], now)
        if moment is not None:
            out["created_at"] = moment.isoformat()

    model = event.get("model")
    variant_column = event.get("variant")  # the CSV export's separate column
    if model is None or model == "":
        errors["model"] = "is required"
    else:
        # The cache keys on the text as sent: only texts short enough to be a model go in it.
        match = _match_model(model) if isinstance(model, str) and len(model) <= _MAX_MODEL else None
        if not match:
            errors["model"] = "must look like author/name or author/name:variant"
        else:
            out["author"], name, variant = match.groups()
            out["model"] = f"{out['author']}/{name}"
            if not variant and variant_column is not None:
                variant = check("variant", _variant_column, variant_column)
            out["variant"] = variant or ""

    provider = _first(event, "provider_name")
    provider_name = check("provider_name", _text, provider, 100) if provider is not None else None
    out["provider_name"] = provider_name or ""
    out["provider"] = _provider_slug(provider_name) if provider_name else UNKNOWN_PROVIDER

    origin = _first(event, "origin", "http_referer")
    out["origin"] = (check("origin", normalize_origin, origin) or "") if origin is not None else ""
    app_name = event.get("app_name")
    out["app_name"] = (check("app_name", _text, app_name, 200) or "") if app_name is not None else ""
    categories = event.get("categories")
    out["category"] = (
        check("categories", _categories, categories) or OTHER_CATEGORY
        if categories not in (None, "")
        else OTHER_CATEGORY
    )

    # Tokens: native counts first, normalized ones in their place.
    for key, native, normalized in TOKEN_FIELDS:
        value, name = event.get(native), native
        if value is None or value == "":
            value, name = event.get(normalized), normalized
        if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case, without a call
            out[key] = value
        else:
            out[key] = 0 if value is None or value == "" else check(name, _count, value)
    if not errors:
        if out["reasoning"] > out["completion"]:
            errors["native_tokens_reasoning"] = "reasoning tokens are part of completion tokens"
        if out["cached"] > out["prompt"]:
            errors["native_tokens_cached"] = "cached tokens are part of prompt tokens"

    cost = _first(event, "total_cost", "usage")
    # No cost reported: None, and the writer derives it from the model's list prices; but a
    # :free variant costs nothing whatever the model's prices.
    amount = check("total_cost", _money, cost) if cost is not None else None
    if amount is None and out.get("variant") == "free" and "total_cost" not in errors:
        amount = Decimal(0)
    out["cost"] = str(amount) if amount is not None else None
    for key, name in (("latency", "latency"), ("generation", "generation_time")):
        value = event.get(name)
        if type(value) is int and 0 <= value <= MAX_MS:
            out[key] = value
        else:
            out[key] = None if value is None or value == "" else check(name, _milliseconds, value)
    for key, name in (("cancelled", "cancelled"), ("streamed", "streamed"), ("byok", "is_byok")):
        value = event.get(name)
        if value is True or value is False:
            out[key] = value
        elif value is None:
            out[key] = None if key == "streamed" else False
        else:
            out[key] = check(name, _flag, value) or False
    finish = event.get("finish_reason")
    out["finish_reason"] = (check("finish_reason", _text, finish, 50) or "") if finish is not None else ""
    for name in ("num_search_results",):
        if event.get(name) is not None:
            check(name, _count, event[name])
    if not errors:
        _check_widths(out, errors)
    if errors:
        return None, errors
    return out, {}


# Normalized text -> (the event field it came from, the columns it is written to). Every
# text the worker writes is listed here: the accept path refuses what a column would refuse.
_WRITTEN_TEXT = {
    "id": ("id", ("ingest.SeenEvent.id", "ingest.RawEvent.id")),
    "origin": ("origin", ("ingest.RawEvent.origin", "rankings.AppOrigin.origin", "rankings.App.origin")),
    "app_name": ("app_name", ("rankings.App.name",)),
    "provider_name": ("provider_name", ("rankings.Provider.name",)),
    "provider": ("provider_name", ("rankings.Provider.slug",)),
    "model": ("model", ("rankings.LLMModel.slug",)),
    "author": ("model", ("rankings.Author.slug", "rankings.Author.name")),
    "variant": ("model", ("ingest.RawEvent.variant", "rankings.UsageDaily.variant")),
    "finish_reason": ("finish_reason", ("ingest.RawEvent.finish_reason",)),
    "category": ("categories", ("rankings.Category.slug",)),
}


@lru_cache(maxsize=1)
def _column_widths() -> dict[str, tuple[str, int]]:
    """Normalized key -> (event field, the narrowest width among the columns it lands in),
    read from the models so the limits can never drift from the schema."""
    from django.apps import apps

    widths = {}
    for key, (name, columns) in _WRITTEN_TEXT.items():
        limits = []
        for column in columns:
            label, field_name = column.rsplit(".", 1)
            limits.append(apps.get_model(label)._meta.get_field(field_name).max_length)
        widths[key] = (name, min(limits))
    return widths


def _check_widths(out: dict[str, Any], errors: dict[str, str]) -> None:
    """Lengths after normalisation (lowercasing, a scheme added to a bare host) against the
    columns; text is already free of control characters and lone surrogates."""
    for key, (name, width) in _column_widths().items():
        if len(out[key]) > width:
            errors[name] = f"must be at most {width} characters once normalized"


def as_record(event: dict[str, Any]) -> dict[str, Any]:
    """A normalized event written back as a generation record, so that it can be validated
    again (a dead letter an operator edited and requeues); ``normalize`` of the result gives
    the same event."""
    record = {
        "id": event.get("id"),
        "created_at": event.get("created_at"),
        "model": f"{event['model']}:{event['variant']}" if event.get("variant") else event.get("model"),
        "provider_name": event.get("provider_name") or None,
        "origin": event.get("origin"),
        "app_name": event.get("app_name"),
        "categories": event.get("category"),
        "total_cost": event.get("cost"),
        "latency": event.get("latency"),
        "generation_time": event.get("generation"),
        "cancelled": event.get("cancelled"),
        "streamed": event.get("streamed"),
        "is_byok": event.get("byok"),
        "finish_reason": event.get("finish_reason"),
    }
    for key, native, _ in TOKEN_FIELDS:
        record[native] = event.get(key)
    return {name: value for name, value in record.items() if value is not None}


def from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    """Map an activity CSV export row onto generation-record field names."""
    return {CSV_COLUMNS.get(column, column): value for column, value in row.items() if value != ""}


def csv_field_columns(header: list[str]) -> dict[str, str]:
    """Generation-record field -> the export's own column, for the columns ``header`` renames
    (so a rejection names ``generation_id``, not ``id``)."""
    return {CSV_COLUMNS[column]: column for column in header if column in CSV_COLUMNS}


def title_identity(app_name: str) -> str:
    """The identity of an app known only by its title: case and spacing do not matter."""
    return TITLE_IDENTITY_PREFIX + " ".join(app_name.split()).casefold()


def attribute_titles(events: list[dict[str, Any]]) -> None:
    """Exports (files) name the app but carry no URL: there the title is the app's identity,
    so an event with an ``app_name`` and no origin counts for that app instead of
    "(unattributed)". Live traffic keeps OpenRouter's rule (only a URL makes an app)."""
    for event in events:
        if not event["origin"] and event["app_name"]:
            event["origin"] = title_identity(event["app_name"])


@dataclass
class Validated:
    events: list[dict[str, Any]]
    duplicates_in_batch: int
    rejected: list[Rejection]
    indexes: list[int]  # of each event in the items validated


def validate_batch(items: list[Any], now: datetime, rejected: list[Rejection] | None = None) -> Validated:
    """Normalize every item; keep the first of repeated ids (the rest are duplicates)."""
    rejected = list(rejected or [])
    already_rejected = {r.index for r in rejected}
    events: list[dict[str, Any]] = []
    indexes: list[int] = []
    seen: set[str] = set()
    duplicates = 0
    for index, item in enumerate(items):
        if index in already_rejected:
            continue
        event, errors = normalize(item, now)
        if errors:
            event_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(event_id, (str, int)) or isinstance(event_id, bool):
                event_id = None
            elif isinstance(event_id, str):
                event_id = event_id[:MAX_ID_LENGTH]
            rejected.append(Rejection(index, event_id, errors))
        elif event["id"] in seen:
            duplicates += 1
        else:
            seen.add(event["id"])
            events.append(event)
            indexes.append(index)
    rejected.sort(key=lambda r: r.index)
    return Validated(events, duplicates, rejected, indexes)

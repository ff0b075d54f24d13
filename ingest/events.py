"""Reading usage events: request bodies and files into validated, normalized events.

Field names follow OpenRouter's generation record (and its activity CSV export), so real
exports load as they are; see docs/api.md for the accepted fields and the limits in
:mod:`ingest.values` (which parses each value). The values read are declared in
:mod:`ingest.schema`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from django.apps import apps

from ingest import extras, schema, values
from ingest.values import CONTROL_RE, MAX_ID_LENGTH, MAX_MODEL, MAX_MS, MAX_TOKENS, SURROGATE_RE
from rankings.catalog import OTHER_CATEGORY, UNKNOWN_PROVIDER

_SLUG_RE = re.compile(r"[^a-z0-9]+")
_TOKEN_VALUES = tuple(count.value for count in schema.TOKENS)
_MS_VALUES = tuple(v for v in schema.VALUES if v.parse == "ms")
_FLAG_VALUES = tuple(v for v in schema.VALUES if v.parse == "flag")
# Each token count that has parts (cached of prompt), with them: parts never add up to more.
_PARTS = tuple(
    (whole, parts)
    for whole in schema.TOKENS
    if (parts := tuple(part for part in schema.TOKENS if part.part_of == whole.key))
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
        CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
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
            or (not raw_id.isprintable() and (CONTROL_RE.search(raw_id) or SURROGATE_RE.search(raw_id)))
        ):
            errors["id"] = f"must be a string of 1-{MAX_ID_LENGTH} printable characters"
        else:
            out["id"] = raw_id
    if event.get("created_at") is None:
        errors["created_at"] = "is required"
    else:
        moment = check("created_at", values.timestamp, event["created_at"], now)
        if moment is not None:
            out["created_at"] = moment.isoformat()

    model = event.get("model")
    variant_column = event.get("variant")  # the CSV export's separate column
    if model is None or model == "":
        errors["model"] = "is required"
    else:
        # The cache keys on the text as sent: only texts short enough to be a model go in it.
        match = values.match_model(model) if isinstance(model, str) and len(model) <= MAX_MODEL else None
        if not match:
            errors["model"] = "must look like author/name or author/name:variant"
        else:
            out["author"], name, variant = match.groups()
            out["model"] = f"{out['author']}/{name}"
            if not variant and variant_column is not None:
                variant = check("variant", values.variant_column, variant_column)
            out["variant"] = variant or ""

    provider = _first(event, "provider_name")
    provider_name = check("provider_name", values.text, provider, 100) if provider is not None else None
    out["provider_name"] = provider_name or ""
    out["provider"] = _provider_slug(provider_name) if provider_name else UNKNOWN_PROVIDER

    origin = _first(event, *schema.ORIGIN.fields)
    out["origin"] = (check("origin", values.normalize_origin, origin) or "") if origin is not None else ""
    app_name = event.get("app_name")
    out["app_name"] = (check("app_name", values.text, app_name, 200) or "") if app_name is not None else ""
    categories = event.get("categories")
    out["category"] = (
        check("categories", values.categories, categories) or OTHER_CATEGORY
        if categories not in (None, "")
        else OTHER_CATEGORY
    )

    # Tokens: the first field given (native counts first, normalized ones in their place).
    for count in _TOKEN_VALUES:
        for name in count.fields:
            value = event.get(name)
            if value is not None and value != "":
                break
        if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case, without a call
            out[count.key] = value
        else:
            out[count.key] = 0 if value is None or value == "" else check(name, values.count, value)
    if not errors:
        _check_parts(out, errors)

    cost = _first(event, *schema.COST.fields)
    # No cost reported: None, and the writer derives it from the model's list prices; but a
    # :free variant costs nothing whatever the model's prices.
    amount = check(schema.COST.field, values.money, cost) if cost is not None else None
    if amount is None and out.get("variant") == "free" and schema.COST.field not in errors:
        amount = Decimal(0)
    out["cost"] = str(amount) if amount is not None else None
    for ms in _MS_VALUES:
        value = event.get(ms.field)
        if type(value) is int and 0 <= value <= MAX_MS:
            out[ms.key] = value
        else:
            out[ms.key] = (
                None if value is None or value == "" else check(ms.field, values.milliseconds, value)
            )
    for flag in _FLAG_VALUES:
        value = event.get(flag.field)
        if value is True or value is False:
            out[flag.key] = value
        elif value is None:
            out[flag.key] = flag.default
        else:
            out[flag.key] = check(flag.field, values.flag, value) or False
    finish = event.get("finish_reason")
    out["finish_reason"] = (
        (check("finish_reason", values.text, finish, 50) or "") if finish is not None else ""
    )
    extras.read(event, out, errors)  # tool calls, tags, session
    if event.get("num_search_results") is not None:  # checked, not kept
        check("num_search_results", values.count, event["num_search_results"])
    if not errors:
        _check_widths(out, errors)
    if errors:
        return None, errors
    return out, {}


def _check_parts(out: dict[str, Any], errors: dict[str, str]) -> None:
    """Token counts that are parts of another (reasoning of completion; cached and cache
    write of prompt) must not add up to more than it."""
    for whole, parts in _PARTS:
        total = 0
        for n, part in enumerate(parts):
            total += out[part.key]
            if total > out[whole.key]:
                nouns = " and ".join(p.key.replace("_", " ") for p in parts[: n + 1])
                together = " together" if n else ""
                errors[part.fields[0]] = f"{nouns} tokens{together} are part of {whole.noun}"
                break


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
    "variant": ("model", ("ingest.RawEvent.variant", "ingest.UsageDaily.variant")),
    "finish_reason": ("finish_reason", ("ingest.RawEvent.finish_reason",)),
    "session_id": ("session_id", ("ingest.RawEvent.session_id", "ingest.UsageSession.session_id")),
    "harness": ("harness", ("ingest.RawEvent.harness", "ingest.UsageSession.harness")),
    "category": ("categories", ("rankings.Category.slug",)),
}


@lru_cache(maxsize=1)
def _column_widths() -> dict[str, tuple[str, int]]:
    """Normalized key -> (event field, the narrowest width among the columns it lands in),
    read from the models so the limits can never drift from the schema."""
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
        **{value.field: event.get(value.key) for value in schema.VALUES if value.parse != "extra"},
        **extras.as_fields(event),
        "model": f"{event['model']}:{event['variant']}" if event.get("variant") else event.get("model"),
        "provider_name": event.get("provider_name") or None,
        "app_name": event.get("app_name"),
        "categories": event.get("category"),
    }
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

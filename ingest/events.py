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
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from ingest import extras, schema, values
from ingest.values import (
    CONTROL_RE,
    EARLIEST,
    FUTURE_TOLERANCE,
    MAX_COST_FLOAT,
    MAX_ID_LENGTH,
    MAX_MODEL,
    MAX_MS,
    MAX_TOKENS,
)
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
    if len(text) <= 30:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


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
# The declarations of ingest.schema, flattened once into what the per-event loop reads
# (validation is the accept path's hot loop: no attribute or property lookups per event).

_TOKEN_SPECS = tuple((count.key, count.fields) for count in _TOKEN_VALUES)
_MS_SPECS = tuple((v.key, v.field) for v in _MS_VALUES)
_FLAG_SPECS = tuple((v.key, v.field, v.default) for v in _FLAG_VALUES)
# Free text kept as sent (trimmed, composed): normalized key, event field, longest accepted.
_TEXT_SPECS = (
    ("provider_name", "provider_name", 100),
    ("app_name", "app_name", 200),
    ("finish_reason", "finish_reason", 50),
)
_ORIGIN_FIELDS = schema.ORIGIN.fields
_COST_FIELDS = schema.COST.fields
_COST_FIELD = schema.COST.field
# Each token count that has parts: its key and its parts' keys.
_PART_KEYS = tuple((whole.key, tuple(part.key for part in parts)) for whole, parts in _PARTS)
_fromisoformat = datetime.fromisoformat


def normalize(event: Any, now: datetime) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Validate one event; return its normalized form (JSON-safe) or the errors per field.

    The normalized form leaves out each value (``schema.VALUES``) that has its default: a
    third smaller stored, and the same read back (:func:`with_defaults`). Ranking tokens are
    prompt + completion. Native counts are preferred (they are what the provider billed);
    normalized ones stand in when native ones are missing, and the reverse. Each value has a
    fast path for the common, valid case; anything else goes through its parser in
    :mod:`ingest.values`, which owns the rules and the messages.
    """
    if not isinstance(event, dict):
        return None, {"event": "must be a JSON object"}
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    get = event.get

    # Identity and time.
    raw_id = get("id")
    if raw_id is None or raw_id == "":
        errors["id"] = "is required"
    else:
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        elif isinstance(raw_id, str) and not raw_id.isascii():
            raw_id = values.composed(raw_id)  # its limit is of the composed form, as it is kept
        if (
            not isinstance(raw_id, str)
            or len(raw_id) > MAX_ID_LENGTH
            or not values.all_drawn(raw_id)  # no control, zero-width, blank character or lone surrogate
        ):
            errors["id"] = f"must be a string of 1-{MAX_ID_LENGTH} printable characters"
        elif raw_id != raw_id.strip():
            errors["id"] = "must not start or end with spaces (one id must not look like another)"
        else:
            out["id"] = raw_id
    created_at = get("created_at")
    if created_at is None:
        errors["created_at"] = "is required"
    else:
        # Fast path: an RFC 3339 text in UTC, in range; anything else (spaces, other offsets,
        # naive times, errors) through values.timestamp, which gives the same moment.
        try:
            moment = _fromisoformat(created_at) if type(created_at) is str and len(created_at) <= 40 else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is not UTC or not EARLIEST <= moment <= now + FUTURE_TOLERANCE:
            moment = values.parsed(errors, "created_at", values.timestamp, created_at, now)
        if moment is not None:
            # A moment ahead of this clock (a gateway's clock skew, within FUTURE_TOLERANCE) is
            # counted when it arrived: a window "so far" holds everything counted up to now,
            # and no reading counts a request before it was made.
            out["created_at"] = min(moment, now).isoformat()

    model = get("model")
    if model is None or model == "":
        errors["model"] = "is required"
    else:
        # The cache keys on the text as sent: only texts short enough to be a model go in it.
        match = values.match_model(model) if isinstance(model, str) and len(model) <= MAX_MODEL else None
        if not match:
            errors["model"] = "must look like author/name or author/name:variant"
        else:
            author, name, variant = match.groups()
            out["author"] = author
            out["model"] = f"{author}/{name}"
            if not variant and (column := get("variant")) is not None:  # the CSV export's column
                variant = values.parsed(errors, "variant", values.variant_column, column)
            out["variant"] = variant or ""

    for key, name, limit in _TEXT_SPECS:
        value = get(name)
        if type(value) is str and len(value) <= limit and value.isascii() and value.isprintable():
            out[key] = value.strip()
        elif value is None or value == "":
            out[key] = ""
        else:
            out[key] = values.parsed(errors, name, values.text, value, limit) or ""
    provider_name = out["provider_name"]
    out["provider"] = _provider_slug(provider_name) if provider_name else UNKNOWN_PROVIDER

    for name in _ORIGIN_FIELDS:
        origin = get(name)
        if origin is not None and origin != "":
            out["origin"] = values.parsed(errors, "origin", values.normalize_origin, origin) or ""
            break
    else:
        out["origin"] = ""
    categories = get("categories")
    out["category"] = (
        OTHER_CATEGORY
        if categories is None or categories == ""
        else values.parsed(errors, "categories", values.categories, categories) or OTHER_CATEGORY
    )

    # Tokens: the first field given (native counts first, normalized ones in their place);
    # none (or 0) leaves the count out.
    for key, fields in _TOKEN_SPECS:
        for name in fields:
            value = get(name)
            if value is not None and value != "":
                break
        if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case, without a call
            if value:
                out[key] = value
        elif (
            value is not None and value != "" and (value := values.parsed(errors, name, values.count, value))
        ):
            out[key] = value
    if not errors:
        counted = out.get
        for whole, parts in _PART_KEYS:
            total = 0
            for part in parts:
                total += counted(part, 0)
            if total > counted(whole, 0):
                _part_error(out, errors, whole)

    for name in _COST_FIELDS:
        cost = get(name)
        if cost is not None and cost != "":
            break
    else:
        cost = None
    # No cost reported: None (left out), and the writer derives it from the model's list
    # prices; but a :free variant costs nothing whatever the model's prices. A float in range
    # is its own shortest decimal text (repr, as values.money reads it) unless in exponent form.
    if type(cost) is float and 0 <= cost <= MAX_COST_FLOAT and "e" not in (text := repr(cost)):
        out["cost"] = text
    else:
        amount = values.parsed(errors, _COST_FIELD, values.money, cost) if cost is not None else None
        if amount is None and out.get("variant") == "free" and _COST_FIELD not in errors:
            amount = Decimal(0)
        if amount is not None:
            out["cost"] = str(amount)
    for key, name in _MS_SPECS:
        value = get(name)
        if not (type(value) is int and 0 <= value <= MAX_MS):
            if value is None or value == "":
                continue
            if (value := values.parsed(errors, name, values.milliseconds, value)) is None:
                continue
        out[key] = value
    for key, name, default in _FLAG_SPECS:
        value = get(name)
        if value is None:
            continue
        if value is not True and value is not False:
            value = values.parsed(errors, name, values.flag, value) or False
        if value is not default:
            out[key] = value
    extras.read(event, out, errors)  # tool calls, tags, session
    if (results := get("num_search_results")) is not None:  # checked, not kept
        values.parsed(errors, "num_search_results", values.count, results)
    if not errors:
        written = out.get
        for key, name, width in values.column_widths():
            if len(written(key, "")) > width:
                errors[name] = f"must be at most {width} characters once normalized"
    if errors:
        return None, errors
    return out, {}


def _part_error(out: dict[str, Any], errors: dict[str, str], whole_key: str) -> None:
    """Token counts that are parts of another (reasoning of completion; cached and cache
    write of prompt) add up to more than it: name the parts that did."""
    whole, parts = next((w, p) for w, p in _PARTS if w.key == whole_key)
    total = 0
    for n, part in enumerate(parts):
        total += out.get(part.key, 0)
        if total > out.get(whole.key, 0):
            nouns = " and ".join(p.key.replace("_", " ") for p in parts[: n + 1])
            together = " together" if n else ""
            errors[part.fields[0]] = f"{nouns} tokens{together} are part of {whole.noun}"
            return


# Each value's default, which a normalized event leaves out (and events stored before the
# value existed lack): every reader of normalized events reads them through with_defaults.
_DEFAULTS = {value.key: value.default for value in schema.VALUES}


def with_defaults(event: dict[str, Any]) -> dict[str, Any]:
    """A normalized event (as stored, in any version) with every value: those it leaves out
    at their defaults."""
    return {**_DEFAULTS, **event}


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

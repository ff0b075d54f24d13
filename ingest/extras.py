"""Reading the optional fields of the narrow rollups: tool calls and their failures, tags,
and the session (docs/api.md). Each parser fills the normalized event or names the field
that is wrong, like :mod:`ingest.values` does for the others.

Tags: only the keys the operator ranks (``rankings.TagKey``, read at most every
``RANKED_KEYS_TTL`` seconds per process) are kept, as ``key=value`` texts in one text
(:func:`join_tags`); the worker folds values over a key's limit into ``key=other``
(``ingest.resolve``).
"""

from __future__ import annotations

import json
import math
import re
import time
from functools import lru_cache
from typing import Any

from ingest import schema, values
from rankings.models import TagKey

MAX_TOOL_CALLS = 10_000  # per request
MAX_TAGS = 64  # entries of an event's tags object
MAX_TAG_VALUE = 100  # characters of a value once normalized (rankings.TagValue.value)
MAX_SESSION_ID = 200
MAX_HARNESS = 64
# A response that ends this way and gives no count made one tool call.
TOOL_FINISH_REASONS = frozenset({"tool_calls", "tool_use", "function_call"})
ERROR_KINDS = tuple(kind for kind, _ in schema.TOOL_ERROR_KINDS)
_ERROR_KEYS = tuple(f"tool_errors_{kind}" for kind in ERROR_KINDS)
_KEY_RE = re.compile(TagKey.KEY_PATTERN)
# Between the tags of an event: no key or value holds a control character.
TAG_SEPARATOR = "\x1f"
# A key ranked in the admin is recognised by every process within this many seconds.
RANKED_KEYS_TTL = 30.0

_ranked: tuple[float, frozenset[str]] = (-math.inf, frozenset())


def ranked_keys() -> frozenset[str]:
    """The tag keys counted, read again at most every ``RANKED_KEYS_TTL`` seconds."""
    global _ranked
    expires, keys = _ranked
    moment = time.monotonic()
    if moment >= expires:
        keys = frozenset(TagKey.objects.filter(ranked=True).values_list("key", flat=True))
        _ranked = (moment + RANKED_KEYS_TTL, keys)
    return keys


def tool_calls(value: Any) -> int:
    """A count, or the response's list of tool calls (its length)."""
    if isinstance(value, list):
        if len(value) > MAX_TOOL_CALLS:
            raise ValueError(f"must hold at most {MAX_TOOL_CALLS:,} calls")
        return len(value)
    return values.count(value, MAX_TOOL_CALLS)


def tool_errors(value: Any) -> dict[str, int]:
    """Failed tool calls by kind: a total (its kind is "other") or an object of counts."""
    if not isinstance(value, dict):
        return {"other": values.count(value, MAX_TOOL_CALLS)}
    unknown = sorted(str(k)[:40] for k in value if k not in ERROR_KINDS)
    if unknown:
        raise ValueError(f"unknown kind {unknown[0]!r} (kinds: {', '.join(ERROR_KINDS)})")
    counts = {kind: values.count(n, MAX_TOOL_CALLS) for kind, n in value.items()}
    if sum(counts.values()) > MAX_TOOL_CALLS:
        raise ValueError(f"must add up to at most {MAX_TOOL_CALLS:,}")
    return counts


def join_tags(tags: list[str]) -> str:
    return TAG_SEPARATOR.join(tags)


def split_tags(tags: str) -> list[str]:
    return tags.split(TAG_SEPARATOR) if tags else []


def tags(value: Any) -> str:
    """The ranked tags of a flat object of strings, as sorted ``key=value`` texts (keys and
    values lowercased, spaces collapsed) in one text; other keys are ignored, whatever they
    hold. An object (or its JSON text, from a CSV cell)."""
    global _seen_for
    value = _object(value)
    if not isinstance(value, dict):
        raise ValueError("must be an object of string keys and string values")
    if len(value) > MAX_TAGS:
        raise ValueError(f"must have at most {MAX_TAGS} keys")
    ranked = ranked_keys()
    if ranked is not _seen_for or len(_seen) >= MAX_SEEN_TAGS:
        _seen.clear()
        _seen_for = ranked
    items = tuple(value.items())
    text = _ranked_tags(items, ranked)
    try:
        _seen[items] = text
    except TypeError:  # an unhashable value (a key not ranked may hold anything)
        pass
    return text


# Tags objects read (their items) -> their text, for the ranked keys ``_seen_for``: gateways
# send the same few combinations over and over, and :func:`read` looks them up first.
MAX_SEEN_TAGS = 65_536
_seen: dict[tuple[tuple[str, Any], ...], str] = {}
_seen_for: frozenset[str] = frozenset()


def _ranked_tags(items: tuple[tuple[str, Any], ...], ranked: frozenset[str]) -> str:
    kept = {}
    for raw_key, raw_value in items:
        key = raw_key.strip().lower()
        if key not in ranked or not _KEY_RE.match(key) or raw_value is None:
            continue
        if not isinstance(raw_value, str):
            raise ValueError(f"{key}: must be a string")
        text = _tag_value(key, raw_value)
        if len(text) > MAX_TAG_VALUE:
            raise ValueError(f"{key}: must be at most {MAX_TAG_VALUE} characters")
        if text and kept.setdefault(key, text) != text:  # "language" and "Language": which one?
            raise ValueError(f"{key}: given twice with different values (keys are read in lower case)")
    return join_tags([f"{key}={kept[key]}" for key in sorted(kept)])


def _tag_value(key: str, value: str) -> str:
    """A tag's value: spaces collapsed, folded (:func:`values.folded`), every character drawn."""
    try:
        text = values.drawn(" ".join(values.text(value, 4 * MAX_TAG_VALUE).split()))
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    return " ".join(values.folded(text).split())


def session_id(value: Any) -> str:
    """A session id (:func:`read` takes a printable ASCII text of the right length without a
    call)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return values.identifier(value, MAX_SESSION_ID)


@lru_cache(maxsize=4096)
def _harness(value: str) -> str:
    """Folded, as tag values are: "Cline" and "CLINE" are one harness."""
    return values.folded(values.identifier(value, MAX_HARNESS))


def harness(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return _harness(value) if len(value) <= MAX_HARNESS else values.text(value, MAX_HARNESS)


def _object(value: Any) -> Any:
    """An object sent as JSON text (a CSV cell) as the object; anything else as it is."""
    if isinstance(value, str) and value.lstrip().startswith("{") and len(value) <= 20_000:
        try:
            return json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise ValueError("must be an object (its JSON text does not parse)") from exc
    return value


_KIND_KEYS = tuple(zip(ERROR_KINDS, _ERROR_KEYS, strict=True))
# The texts kept under their field's name: each one's limit, how a printable ASCII text
# within it is read (the common case), and its parser for anything else.
_TEXTS = (("session_id", MAX_SESSION_ID, str.strip, session_id), ("harness", MAX_HARNESS, _harness, harness))


def _tool_errors(value: Any) -> dict[str, int]:
    return tool_errors(_object(value))


def read(event: dict[str, Any], out: dict[str, Any], errors: dict[str, str]) -> None:
    """Tool calls, tags and session of ``event`` into ``out`` (each left out when it has its
    default: no call, no failure, no tag, no session), or each wrong field's message into
    ``errors``. Validation is ingest's hot path: the common cases take no call (tags: an
    object seen before, while the ranked keys it was read with are current)."""
    get = event.get
    failures = 0
    failed = get("tool_call_errors")
    if failed is not None and failed != "":
        failed = values.parsed(errors, "tool_call_errors", _tool_errors, failed) or {}
        for kind, key in _KIND_KEYS:
            if n := failed.get(kind):
                out[key] = n
        failures = sum(failed.values())
    calls = get("tool_calls")
    if not (type(calls) is int and 0 <= calls <= MAX_TOOL_CALLS):
        calls = (
            None if calls is None or calls == "" else values.parsed(errors, "tool_calls", tool_calls, calls)
        )
    if calls is None:
        implied = out.get("finish_reason", "").lower() in TOOL_FINISH_REASONS
        calls = max(int(implied), failures)
    elif failures > calls:
        errors["tool_call_errors"] = "must not add up to more than tool_calls"
    if calls:
        out["tool_calls"] = calls
    value = get("tags")
    if value is not None and value != "":
        text = None
        if _seen_for is ranked_keys():  # read with the keys ranked now (re-read every 30 s)
            try:
                text = _seen.get(tuple(value.items()))
            except (AttributeError, TypeError):  # not an object, or an unhashable value
                pass
        if text is None:
            text = values.parsed(errors, "tags", tags, value)
        if text:
            out["tags"] = text
    for name, limit, read_text, parse in _TEXTS:
        value = get(name)
        if value is not None and value != "":
            if type(value) is str and len(value) <= limit and value.isascii() and value.isprintable():
                value = read_text(value)
            else:
                value = values.parsed(errors, name, parse, value)
            if value:
                out[name] = value


def as_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The fields of a normalized event's tool calls, tags and session as they are sent
    (``ingest.events.as_record``): reading them again gives the same values."""
    failed = {kind: event.get(key, 0) for kind, key in zip(ERROR_KINDS, _ERROR_KEYS, strict=True)}
    fields = {
        "tool_calls": event.get("tool_calls", 0),
        "tool_call_errors": {kind: n for kind, n in failed.items() if n},
        "tags": dict(tag.split("=", 1) for tag in split_tags(event.get("tags", ""))),
        "session_id": event.get("session_id", ""),
        "harness": event.get("harness", ""),
    }
    return {name: value for name, value in fields.items() if value}

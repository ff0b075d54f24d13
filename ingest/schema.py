"""The usage schema: every value, measure and dimension of the rollups, declared once.

The rest is derived from these declarations: the raw-event and staging columns and the rows
the worker copies (``ingest.rollups.write``), the rollup models' fields (``ingest.models``),
the write, rebuild and verify SQL, the read helpers' column maps and totals, the API's metric
choices, filters and totals, the pages' metric switch, entity pages and their URLs, and the
test factories. docs/architecture.md shows how to add a measure and a dimension.

This module only declares: it imports no model and touches no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Value:
    """A value of an event as counted: its key in normalized events (inbox batches store
    those), its raw-event column and SQL type, the event fields it is read from (the first
    one present wins) and how they are parsed (``ingest.events``: "tokens", "money", "ms",
    "flag"; "text" values are read by hand there). ``default`` is its value when the event
    has none, and in a normalized event stored before the value existed."""

    key: str
    column: str
    sql_type: str
    fields: tuple[str, ...]
    parse: str = "text"
    default: Any = None

    @property
    def field(self) -> str:
        """The event field its errors are reported under."""
        return self.fields[0]


@dataclass(frozen=True)
class Measure:
    """An additive column of every rollup row: ``aggregate`` sums raw-event rows into it
    (rows merge by addition). ``label`` and ``unit`` name it on pages; with an ``api_name``
    it is in the API's totals and a metric rankings and series can be asked for; ``stat``
    shows it as a figure of its own on entity pages; ``source`` names the event fields it
    counts (for the docs)."""

    column: str
    aggregate: str
    label: str = ""
    unit: str = ""
    api_name: str | None = None
    stat: bool = False
    source: str = ""
    money: bool = False


@dataclass(frozen=True)
class TokenCount:
    """A token count of an event: a value (native field first, then the normalized one)
    and the measure that sums it. ``part_of``: the key of the count it is a part of (cached
    tokens of prompt tokens); the parts of a count never add up to more than it."""

    key: str
    column: str
    fields: tuple[str, ...]
    label: str
    part_of: str | None = None
    stat: bool = False

    @property
    def noun(self) -> str:
        return self.key.replace("_", " ") + " tokens"

    @property
    def value(self) -> Value:
        return Value(self.key, self.column, "bigint", self.fields, "tokens", 0)

    @property
    def measure(self) -> Measure:
        return Measure(
            self.column,
            f"sum({self.column})",
            self.label,
            "tokens",
            api_name=self.column,
            stat=self.stat,
            source=" or ".join(self.fields),
        )


TOKENS = (
    TokenCount("prompt", "prompt_tokens", ("native_tokens_prompt", "tokens_prompt"), "Prompt"),
    TokenCount(
        "completion", "completion_tokens", ("native_tokens_completion", "tokens_completion"), "Completion"
    ),
    TokenCount(
        "reasoning",
        "reasoning_tokens",
        ("native_tokens_reasoning", "tokens_reasoning"),
        "Reasoning",
        part_of="completion",
    ),
    TokenCount(
        "cached", "cached_tokens", ("native_tokens_cached", "tokens_cached"), "Cached", part_of="prompt"
    ),
    # Prompt-cache writes, billed apart by Anthropic and others; part of the prompt, like reads.
    TokenCount(
        "cache_write",
        "cache_write_tokens",
        ("native_tokens_cache_write",),
        "Cache writes",
        part_of="prompt",
        stat=True,
    ),
)

# The kinds of failed tool calls an event may report (``tool_call_errors``); "other" holds a
# total given without kinds.
TOOL_ERROR_KINDS = (
    ("invalid_json", "Invalid JSON"),
    ("unknown_tool", "Unknown tool"),
    ("schema_mismatch", "Schema mismatch"),
    ("other", "Other"),
)

ORIGIN = Value("origin", "origin", "text", ("origin", "http_referer"))
COST = Value("cost", "cost", "numeric", ("total_cost", "usage"), "money")  # None: derived from list prices

# Every value a raw event keeps besides its batch and dimensions, in staging-table order.
VALUES = (
    Value("id", "id", "text", ("id",)),
    Value("created_at", "created_at", "timestamptz", ("created_at",)),
    ORIGIN,
    *(count.value for count in TOKENS),
    COST,
    Value("latency", "latency_ms", "integer", ("latency",), "ms"),
    Value("generation", "generation_ms", "integer", ("generation_time",), "ms"),
    Value("cancelled", "cancelled", "boolean", ("cancelled",), "flag", False),
    Value("streamed", "streamed", "boolean", ("streamed",), "flag", None),
    Value("finish_reason", "finish_reason", "text", ("finish_reason",)),
    Value("byok", "is_byok", "boolean", ("is_byok",), "flag", False),
    *(  # read by ingest.extras: tool calls and their errors by kind, tags, the session
        Value(key, key, sql_type, (field,), "extra", default)
        for key, sql_type, field, default in (
            ("tool_calls", "integer", "tool_calls", 0),
            *((f"tool_errors_{kind}", "integer", "tool_call_errors", 0) for kind, _ in TOOL_ERROR_KINDS),
            ("tags", "text", "tags", ""),
            ("session_id", "text", "session_id", ""),
            ("harness", "text", "harness", ""),
        )
    ),
)

MEASURES = (
    Measure("requests", "count(*)", "Requests", "requests", api_name="requests", source="each event"),
    Measure("cost", "sum(cost)", "Cost", "USD", api_name="cost", source="total_cost", money=True),
    *(count.measure for count in TOKENS),
    Measure("latency_ms_sum", "coalesce(sum(latency_ms), 0)", source="latency"),
    Measure("latency_count", "count(latency_ms)", source="latency"),
    Measure("generation_ms_sum", "coalesce(sum(generation_ms), 0)", source="generation_time"),
    Measure("generation_count", "count(generation_ms)", source="generation_time"),
    # Completion tokens of the requests that reported a generation time (throughput numerator).
    Measure(
        "generation_completion_tokens",
        "coalesce(sum(completion_tokens) FILTER (WHERE generation_ms IS NOT NULL), 0)",
        source="tokens_completion, generation_time",
    ),
    Measure("cancelled", "count(*) FILTER (WHERE cancelled)", source="cancelled"),
)

# What metrics sum (every measure with an API name): all the narrow rollups carry of
# MEASURES, as they rank by metrics and show no performance figures.
METRIC_MEASURES = tuple(m for m in MEASURES if m.api_name)
# Tool calls, written only to the tool-call grains (ingest.rollups.grains): not every table.
TOOL_MEASURES = (
    Measure(
        "tool_calls",
        "sum(tool_calls)",
        "Tool calls",
        "calls",
        api_name="tool_calls",
        source="tool_calls (1 for finish_reason tool_calls)",
    ),
    *(
        Measure(f"tool_errors_{kind}", f"sum(tool_errors_{kind})", label, "calls", source="tool_call_errors")
        for kind, label in TOOL_ERROR_KINDS
    ),
)
# Per session (ingest.rollups.grains.SESSIONS): what cost per session and turns need.
SESSION_MEASURES = (
    *(m for m in METRIC_MEASURES if m.column in ("requests", "cost", "prompt_tokens", "completion_tokens")),
    TOOL_MEASURES[0],
)


@dataclass(frozen=True)
class Metric:
    """What rankings and series can be ordered by: a sum of measures (``description`` for
    the API's documentation). ``switch``: offered by the pages' metric switch."""

    name: str
    columns: tuple[str, ...]
    label: str
    description: str
    switch: bool = False


METRICS = (
    Metric(
        "tokens", ("prompt_tokens", "completion_tokens"), "Tokens", "prompt + completion tokens", switch=True
    ),
    *(
        Metric(
            m.api_name,
            (m.column,),
            m.label,
            f"{m.label} ({m.unit}), from {m.source}",
            switch=m.column in ("requests", "cost"),
        )
        for m in MEASURES
        if m.api_name
    ),
)


@dataclass(frozen=True)
class Dimension:
    """What usage is grouped and filtered by; its name is the entity name everywhere (API
    ``group_by`` and filter parameter, page kind).

    ``plural``: the URL segment of its entries' pages and API endpoints, and the key of its
    breakdowns; ``help`` describes the filter parameter, whose value is a slug unless a
    ``pattern`` says otherwise. ``catalog``: its entries' model (without one, the value
    itself is stored, in a column ``width`` wide). ``column``: the raw-event and rollup column
    it is stored in (a catalog entry's id by default), or read from, for a dimension read
    through the model row (``model_column``, e.g. a model's author). ``event_key``: the
    normalized event value it is stored from (its name by default). ``route``: its page's
    URL route (by default ``<plural>/<slug>/`` for catalog dimensions); ``page``: that page's
    breakdown tables (title, dimension); ``related``: what its page loads along.
    ``public_field``: a boolean field of entries that, when false, hides the entry everywhere.
    ``old_slugs``: the relation from an entry to the other slugs that name it (a merged-away
    entry's, a dated permaslug): in a URL or a filter they redirect permanently to the entry's.
    ``expression``: for a dimension of the narrow rollups only (no raw-event column of its
    own), its SQL over a raw-event row; ``join``, when it needs more than the row: the rows
    it is read from, given the raw-event rows ``{rows}`` (an event may become several), and
    ``joined_from``: the one raw-event column that join reads (rows alike in it join alike).
    """

    name: str
    plural: str
    help: str
    catalog: str | None = None
    column: str = ""
    model_column: str | None = None
    event_key: str = ""
    route: str = ""
    page: tuple[tuple[str, str], ...] = ()
    related: tuple[str, ...] = ()
    public_field: str | None = None
    old_slugs: str | None = None
    pattern: str | None = None
    max_length: int | None = 100
    width: int = 0
    expression: str = ""
    join: str = ""
    joined_from: str = ""

    def __post_init__(self) -> None:
        derived = {
            "column": f"{self.name}_id" if self.catalog else self.name,
            "event_key": self.name,
            "route": f"{self.plural}/<slug:slug>/" if self.catalog else "",
        }
        for name, value in derived.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    @property
    def sql_type(self) -> str:
        """Its column's type in raw events: a catalog id, or the value itself."""
        return "bigint" if self.catalog else "text"

    @property
    def stored(self) -> bool:
        """Raw events and rollups have a column of its own."""
        return self.model_column is None and not self.expression

    @property
    def select(self) -> str:
        """Its value over a raw-event row (the column itself, or its expression)."""
        return self.expression or self.column


DIMENSIONS = (
    Dimension(
        "model",
        "models",
        "Model slug author/name.",
        catalog="rankings.LLMModel",
        route="models/<slug:author>/<str:name>/",
        page=(("Variants", "variant"), ("Top apps", "app"), ("Categories", "category")),
        related=("author",),
        old_slugs="aliases",
        pattern=r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$",  # capitals: a 301 to the lower-case slug
        max_length=200,
    ),
    Dimension(
        "author",
        "authors",
        "Author slug, e.g. anthropic.",
        catalog="rankings.Author",
        column="model_id",
        model_column="author_id",
        page=(("Models", "model"), ("Top apps", "app")),
    ),
    Dimension(
        "app",
        "apps",
        "App slug (public apps only).",
        catalog="rankings.App",
        event_key="origin",
        page=(("Models it uses", "model"), ("Providers", "provider")),
        public_field="is_public",
        old_slugs="old_slugs",
    ),
    Dimension(
        "category", "categories", "Category slug, e.g. programming.", catalog="rankings.Category",
        page=(("Top models", "model"), ("Top apps", "app")),
    ),
    Dimension(
        "provider", "providers", "Provider slug, e.g. together.", catalog="rankings.Provider",
        page=(("Models", "model"), ("Top apps", "app")),
    ),
    Dimension(
        "variant",
        "variants",
        "Variant without colon, e.g. free.",
        pattern=r"^[A-Za-z0-9-]{0,16}$",  # read in lower case, as ingest keeps variants
        max_length=None,
        width=16,
    ),
)

# Context length: prompt tokens in buckets (code, label, upper bound); nothing to send.
CONTEXT_BUCKETS = (
    ("lt-1k", "< 1K", 1_000),
    ("1k-10k", "1K–10K", 10_000),
    ("10k-100k", "10K–100K", 100_000),
    ("100k-1m", "100K–1M", 1_000_000),
    ("1m-plus", "≥ 1M", None),
)
_CONTEXT_CASES = " ".join(f"WHEN prompt_tokens < {limit} THEN '{code}'" for code, _, limit in CONTEXT_BUCKETS[:-1])
# Session turns in ranges (label, first turn count, last or None).
TURN_RANGES = (("1", 1, 1), ("2–9", 2, 9), ("10–49", 10, 49), ("50+", 50, None))

# Dimensions of the narrow rollups only (tool calls, context length, tags, sessions): derived
# from raw-event values, never in the cube, read by their own selectors (rankings.selectors.usage).
NARROW_DIMENSIONS = (
    Dimension(
        "context",
        "context-lengths",
        "Context-length bucket of the prompt.",
        expression=f"CASE {_CONTEXT_CASES} ELSE '{CONTEXT_BUCKETS[-1][0]}' END",
        width=8,
    ),
    # An event's ranked tags ("key=value" texts, folded by ingest.resolve, separated by the
    # unit separator chr(31): as one text they cost a tenth of an array to COPY) become one
    # row per tag: the catalog entry of each (rankings.TagValue, unique on its text).
    Dimension(
        "tag",
        "tags",
        "Tag value.",
        catalog="rankings.TagValue",
        expression="tv.id",
        join="(SELECT *, unnest(string_to_array(tags, chr(31))) AS tag_text FROM {rows}) AS tagged "
        "JOIN rankings_tagvalue tv ON tv.tag = tagged.tag_text",
        joined_from="tags",
    ),
    Dimension("harness", "harnesses", "Harness, e.g. cline ('' is the app).", expression="harness", width=64),
    # A session is keyed by a 64-bit hash of its id: an eight-byte key is cheaper to group,
    # sort and look up in the session table's primary key than a text of up to 200
    # characters, and no read shows the id (docs/decisions.md, "The narrow rollups' writes").
    Dimension("session", "sessions", "Session id.", column="session_key", expression="hashtextextended(session_id, 0)"),
)
DIMENSION = {d.name: d for d in (*DIMENSIONS, *NARROW_DIMENSIONS)}
STORED = tuple(d for d in DIMENSIONS if d.stored)
# The full cube's key, in key order (the rollup tables' primary keys follow it).
CUBE = ("model", "variant", "provider", "app", "category")

# Raw-event (and staging) columns: the batch, the stored dimensions, then the values.
RAW_COLUMNS = ("batch_id", *(d.column for d in STORED), *(v.column for v in VALUES))

"""Reads for the rankings: the one source of numbers for pages and the REST API.

Everything here reads only the usage rollups (through ``ingest.rollups.read``, which picks
the grain) plus the catalog: rankings (:mod:`.ranks`), series (:mod:`.series`), totals and
figures (:mod:`.figures`), catalog entries (:mod:`.entities`), and the narrow rollups: tool
calls (:mod:`.tools`), context length (:mod:`.context`), tags (:mod:`.tags`) and cost per
session (:mod:`.sessions`). This package is their public
face, with the windows and filters they take.
"""

from ingest.rollups.read import ENTITIES, METRICS, Filters
from ingest.rollups.windows import (
    INTERVALS,
    PERIODS,
    Window,
    bucket_starts,
    first_day,
    history_window,
    now,
    partial_buckets,
    period_window,
    rolling_window,
    wall_clock,
)
from rankings.selectors.context import BUCKETS, context_by_model, context_series, context_shares
from rankings.selectors.entities import ENTITY_MODEL, SlugMoved, attach_entities, current_slug, entries, entry
from rankings.selectors.figures import (
    DatasetPage,
    Totals,
    daily_dataset,
    performance,
    provider_stats,
    top_model_per_app,
    totals,
    totals_by,
)
from rankings.selectors.ranks import Ranking, RankRow, new_models, ranking, trending, trending_words
from rankings.selectors.series import SERIES_COLUMNS, Series, measure_series, measure_series_of, timeseries
from rankings.selectors.sessions import SessionReport, session_report
from rankings.selectors.tags import ranked_keys, tag_ranking, tag_series
from rankings.selectors.tools import ToolRanking, tool_ranking

__all__ = [
    "BUCKETS",
    "DatasetPage",
    "ENTITIES",
    "ENTITY_MODEL",
    "INTERVALS",
    "METRICS",
    "PERIODS",
    "SERIES_COLUMNS",
    "Filters",
    "RankRow",
    "Ranking",
    "Series",
    "SlugMoved",
    "SessionReport",
    "ToolRanking",
    "Totals",
    "Window",
    "attach_entities",
    "bucket_starts",
    "context_by_model",
    "context_series",
    "context_shares",
    "current_slug",
    "daily_dataset",
    "entries",
    "entry",
    "first_day",
    "history_window",
    "measure_series",
    "measure_series_of",
    "new_models",
    "now",
    "partial_buckets",
    "performance",
    "period_window",
    "provider_stats",
    "ranked_keys",
    "ranking",
    "rolling_window",
    "session_report",
    "tag_ranking",
    "tag_series",
    "timeseries",
    "tool_ranking",
    "wall_clock",
    "top_model_per_app",
    "totals",
    "totals_by",
    "trending",
    "trending_words",
]

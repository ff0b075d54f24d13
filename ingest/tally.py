"""Per-source ingest counts (events, OTLP spans, LiteLLM payloads): accepted, duplicate,
rejected with the reason, and refused requests with their error, per hour.

Written with one upsert per request; read by the admin's ingest health page.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.exceptions import APIException

from ingest.events import Rejection
from ingest.models import SourceTally

log = logging.getLogger(__name__)
Outcome = SourceTally.Outcome

SOURCES = {"http": "Events (POST /api/v1/events)", "otlp": "OTLP spans", "litellm": "LiteLLM payloads"}
MAX_REASON = 120


def rejection_reason(rejection: Rejection) -> str:
    """A low-cardinality reason: the fields at fault, not their values."""
    return "invalid " + ", ".join(sorted(rejection.errors)) if rejection.errors else "invalid"


def counts(
    accepted: int, duplicates: int, rejected: list[Rejection], not_usage: Counter[str] | None = None
) -> Counter[tuple[str, str]]:
    """(outcome, reason) -> items, for :func:`record`."""
    tally: Counter[tuple[str, str]] = Counter()
    tally[(Outcome.ACCEPTED, "")] += accepted
    tally[(Outcome.DUPLICATE, "")] += duplicates
    for rejection in rejected:
        tally[(Outcome.REJECTED, rejection_reason(rejection))] += 1
    for reason, n in (not_usage or {}).items():
        tally[(Outcome.REJECTED, reason)] += n
    return tally


def refused(source: str, reason: str) -> None:
    """Count one whole request of ``source`` answered with an error (``reason``: its code)."""
    record(source, Counter({(Outcome.REFUSED, reason): 1}))


def refusal_code(exc: APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else "error"


def record(source: str, tally: Counter[tuple[str, str]], now: datetime | None = None) -> None:
    """Add ``tally`` to this hour's counts. Bookkeeping never fails a request: errors are logged."""
    merged: Counter[tuple[str, str]] = Counter()
    for (outcome, reason), n in tally.items():
        merged[(outcome, reason[:MAX_REASON])] += n
    rows = sorted((key, n) for key, n in merged.items() if n)  # sorted: no deadlock between requests
    if not rows:
        return
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # The unique constraint source_tally_key is the conflict target.
            cursor.execute(
                "INSERT INTO ingest_sourcetally (hour, source, outcome, reason, count) "
                "SELECT %(hour)s, %(source)s, o, r, n "
                "FROM unnest(%(outcomes)s::text[], %(reasons)s::text[], %(counts)s::bigint[]) AS t(o, r, n) "
                "ON CONFLICT (hour, source, outcome, reason) "
                "DO UPDATE SET count = ingest_sourcetally.count + EXCLUDED.count",
                {
                    "hour": hour,
                    "source": source,
                    "outcomes": [o for (o, _), _ in rows],
                    "reasons": [r for (_, r), _ in rows],
                    "counts": [n for _, n in rows],
                },
            )
    except DatabaseError:
        log.warning("source tally not recorded for %s", source, exc_info=True)


def summary(since: datetime) -> list[dict[str, Any]]:
    """Per source since ``since``: totals per outcome and the reasons, largest first."""
    rows = (
        SourceTally.objects.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
        .values("source", "outcome", "reason")
        .annotate(n=Sum("count"))
        .order_by("source", "-n")
    )
    per_source: dict[str, dict[str, Any]] = {
        source: {"source": source, "label": label, **dict.fromkeys(Outcome.values, 0), "reasons": []}
        for source, label in SOURCES.items()
    }
    for row in rows:
        entry = per_source.setdefault(
            row["source"],
            {
                "source": row["source"],
                "label": row["source"],
                **dict.fromkeys(Outcome.values, 0),
                "reasons": [],
            },
        )
        entry[row["outcome"]] += row["n"]
        if row["reason"]:
            entry["reasons"].append((row["outcome"], row["reason"], row["n"]))
    return list(per_source.values())

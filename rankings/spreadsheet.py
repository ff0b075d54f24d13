"""Rows for CSV files that people open in spreadsheets: the API's CSV and the daily snapshots.

Its own module, free of Django REST framework: the Celery worker writes the snapshots, and
importing DRF's renderers there cost each worker process several MB (requests, pygments...)."""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = tuple("=+-@\t\r")


def spreadsheet_safe(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` for a CSV file: a text that a spreadsheet would run as a formula (names are
    user-supplied: CSV injection) starts with a quote; an empty text stays empty."""
    return {k: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for k, v in row.items()}

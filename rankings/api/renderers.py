"""CSV for every list endpoint: the same rows as the JSON ``results``, nested keys flattened."""

from __future__ import annotations

import csv
import io
from typing import Any

from rest_framework.renderers import BaseRenderer

from rankings.api.serializers import flat
from rankings.spreadsheet import spreadsheet_safe


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        response = (renderer_context or {}).get("response")
        rows = getattr(response, "csv_rows", None)
        if rows is None:
            rows = data.get("results", [data]) if isinstance(data, dict) else data
        rows = [flat(r) for r in rows]
        buffer = io.StringIO()
        # An empty list still gets its header when the response or the view names its columns.
        view = (renderer_context or {}).get("view")
        columns = (
            list(dict.fromkeys(k for r in rows for k in r))
            or getattr(response, "csv_columns", None)
            or getattr(view, "csv_columns", [])
        )
        if columns:
            writer = csv.DictWriter(buffer, columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(spreadsheet_safe(row))
        # An empty list is an empty line, not an empty body (DRF drops the Content-Type of those).
        return buffer.getvalue().encode() or b"\r\n"

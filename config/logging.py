"""Log lines: one JSON object per line for production log shippers, request ids, and
secrets taken out of logged URLs."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

REDACTED = "[redacted]"
# A query parameter whose name says it carries a secret (key=, api_key=, token=, ...), and
# anything shaped like an ingest key (ingest.models.KEY_PREFIX) wherever it appears.
_SECRET_PARAMETER = re.compile(
    r"((?:^|[?&;])[^=&;#\s]*(?:key|token|secret|passw(?:or)?d|signature|auth)[^=&;#\s]*=)[^&;#\s\"]*",
    re.IGNORECASE,
)
_INGEST_KEY = re.compile(r"trk(?:_|%5f)[A-Za-z0-9_%-]+", re.IGNORECASE)  # plain or percent-encoded


def redact_url(text: str) -> str:
    """``text`` (a URL, a query string or a request line) with secret values replaced."""
    return _INGEST_KEY.sub(REDACTED, _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text))


class ReadableFormatter(logging.Formatter):
    """Plain text lines, with secrets taken out like the JSON ones (Django's "Not Found:
    /path" lines print paths as requested)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Extra context passed as logger.info(..., extra={"batch_id": ...}).
        payload.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        # Django's request records carry the request, whose text is its full path with the
        # query string: a key sent as ?key= would be written out. The whole line is redacted.
        return redact_url(json.dumps(payload, default=str))


request_id: ContextVar[str] = ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RequestIdMiddleware:
    """Takes X-Request-ID from the proxy (if sane) or makes one; logs and the response carry it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        # Set, never reset: Django logs 4xx/5xx answers ("Bad Request: ...") after the
        # middleware returns, and those lines should carry the id too. The next request on
        # this thread sets its own.
        request_id.set(incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id.get()
        return response

"""gunicorn settings (``gunicorn -c python:config.gunicorn config.wsgi``): gunicorn's own log
lines, access lines included, go through Tokenrank's logging, so production writes one JSON
object per line for the web process too (``LOG_JSON``), each access line with its request id.

Access lines carry the path but never the query string, where a client may have put a key;
and every access atom that holds a URL or a header is redacted too (a key in a path, a
referer or a user agent), whatever log format an operator configures.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from config import settings as tokenrank  # the one place that reads the environment
from config.logging import REDACTED, JsonFormatter, redact_url

# Access-log atoms that hold a URL, a query string or free text a client chose, and ones
# that are secrets whole.
_URL_ATOMS = (
    "r", "U", "q", "f", "a", "{raw_uri}e", "{path_info}e", "{query_string}e", "{http_referer}e", "{referer}i",
    "{user-agent}i",
)  # fmt: skip
_SECRET_ATOMS = (
    "{authorization}i",
    "{proxy-authorization}i",
    "{cookie}i",
    "{http_authorization}e",
    "{http_proxy_authorization}e",
    "{http_cookie}e",
)


class RedactingLogger(Logger):
    """gunicorn's logger, with secrets taken out of every access-log atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in _URL_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_url(atoms[name])
        for name in _SECRET_ATOMS:
            if name in atoms:
                atoms[name] = REDACTED
        return atoms


logger_class = RedactingLogger

# gunicorn's maximum (its default is 4094): request lines up to it reach Django, which answers
# a query string it will not read in the site's own error format (rankings.errors: a 414 over
# 4,096 bytes, as JSON under /api/). Longer lines get gunicorn's own plain 414 page.
limit_request_line = 8190

# gunicorn's access atoms (see gunicorn.glogging.Logger.atoms) -> field names.
ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
    "{x-request-id}o": "request_id",
}


def access_fields(record: logging.LogRecord) -> dict[str, Any]:
    atoms = record.args if isinstance(record.args, dict) else {}
    fields = {name: atoms.get(atom) for atom, name in ACCESS_FIELDS.items()}
    if isinstance(fields["status"], str) and fields["status"].isdigit():
        fields["status"] = int(fields["status"])
    return fields


class AccessFormatter(logging.Formatter):
    """A readable access line: address, method, path (no query), status, bytes, time, request id."""

    def format(self, record: logging.LogRecord) -> str:
        f = access_fields(record)
        return (
            f"{self.formatTime(record)} access {f['remote_addr']} {f['method']} {f['path']} {f['status']} "
            f"{f['bytes'] or 0} {f['duration_ms']}ms [{f['request_id'] or '-'}]"
        )


class AccessJsonFormatter(JsonFormatter):
    """An access line as one JSON object with the fields above as keys."""

    def format(self, record: logging.LogRecord) -> str:
        fields = access_fields(record)
        line = logging.makeLogRecord(
            {
                **{k: v for k, v in vars(record).items() if k not in ("msg", "args", "request_id")},
                "msg": f"{fields['method']} {fields['path']} {fields['status']}",
                "args": (),
                **fields,
            }
        )
        return super().format(line)


_json = tokenrank.LOGGING["handlers"]["console"]["formatter"] == "json"
logconfig_dict = {
    **tokenrank.LOGGING,
    "formatters": {
        **tokenrank.LOGGING["formatters"],
        "access": {"()": AccessJsonFormatter if _json else AccessFormatter},
    },
    "handlers": {
        **tokenrank.LOGGING["handlers"],
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        **tokenrank.LOGGING["loggers"],
        "gunicorn.error": {"handlers": ["console"], "level": tokenrank.LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

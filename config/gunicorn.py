"""gunicorn settings shared by every way Tokenrank starts its web process
(``gunicorn -c python:config.gunicorn config.wsgi ...``; command-line flags still win).

The access log must never hold a credential: a gateway that puts its ingest key in the
query string (``?key=trk_...``, refused with a 401) would otherwise leave it in every log
shipper and backup downstream.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from config.logging import REDACTED, redact_url

# Access-log atoms that hold a URL or a query string, and ones that are secrets whole.
_URL_ATOMS = ("r", "U", "q", "f", "{raw_uri}e", "{path_info}e", "{query_string}e", "{http_referer}e", "{referer}i")
_SECRET_ATOMS = (
    "{authorization}i",
    "{proxy-authorization}i",
    "{cookie}i",
    "{http_authorization}e",
    "{http_proxy_authorization}e",
    "{http_cookie}e",
)


class RedactingLogger(Logger):
    """gunicorn's logger, with secrets taken out of every access-log field."""

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

"""Error pages in the site's look (with navigation and search); anything under /api/
keeps the API's JSON error format."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from config.api_errors import json_error
from rankings.selectors import SlugMoved

log = logging.getLogger(__name__)

ERRORS = {
    400: ("bad_request", "Bad request", "The address or its parameters could not be understood."),
    403: ("permission_denied", "Not allowed", "You do not have access to this page."),
    404: ("not_found", "Page not found", "There is no page at this address, or it is not public."),
    414: ("uri_too_long", "Address too long", "The address is longer than this site reads."),
    500: ("server_error", "Something went wrong", "The error was logged. Please try again in a moment."),
}

# The longest query string read (bytes, as sent): every parameter of the pages and the API
# fits in a small part of it. Longer ones are a 414 before any view runs. Request lines over
# gunicorn's limit_request_line (8190 bytes, config.gunicorn) never reach Django: gunicorn
# answers those itself.
MAX_QUERY_BYTES = 4096


def _error(request: HttpRequest, status: int, code: str = "", message: str = "") -> HttpResponse:
    default_code, title, default_message = ERRORS[status]
    code, message = code or default_code, message or default_message
    if request.path.startswith("/api/"):
        return json_error(status, code, message)
    try:
        # With the request: its links keep the zone asked for (rankings.context_processors).
        body = render_to_string(f"{status}.html", {"status": status, "title": title, "message": message}, request)
    except Exception:  # a broken template must not hide the original error
        log.exception("error page %s could not be rendered", status)
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
    return HttpResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a refused form post gets the site's 403 page, not Django's."""
    return _error(request, 403)


class RefuseBadQueryMiddleware:
    """Addresses no view should read, refused before any runs (the API's JSON error under
    /api/, the site's error page elsewhere): a query string over MAX_QUERY_BYTES (414); more
    parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS (400: Django raises wherever they are read,
    the error page's own links included); a NUL character in the path or the query string
    (400: PostgreSQL cannot hold NUL in text, so a slug or filter with one would reach the
    database as an error (500) wherever a view forgot to check); an API parameter given more
    than once (400: every one takes a single value, and reading the last would answer for a
    question the client may not have asked)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_BYTES:
            message = f"The query string is longer than {MAX_QUERY_BYTES:,} bytes."
            return _refuse_query(request, 414, "uri_too_long", message)
        fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        if fields is not None and query.count("&") >= fields:  # as Django counts: 1 + separators
            message = f"More than {fields:,} query parameters."
            return _refuse_query(request, 400, "too_many_parameters", message)
        if request.path.startswith("/api/"):
            repeated = next((k for k, v in request.GET.lists() if len(v) > 1), None)
            if repeated is not None:  # no API parameter takes several values: which one was meant?
                return json_error(400, "invalid", f"{repeated}: given more than once.", repeated)
        if "\x00" in request.path or "%00" in query:
            field = next((k for k, v in request.GET.items() if "\x00" in k + v), None)
            if field is not None and request.path.startswith("/api/"):
                return json_error(400, "invalid", f"{field}: must not contain NUL characters.", field)
            return _error(request, 400)
        return self.get_response(request)


def _refuse_query(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    """The error for a query string not read: the error page's links keep none of it."""
    request.GET = QueryDict()
    return _error(request, status, code, message)


class SlugMovedMiddleware:
    """Another slug of a catalog entry (``selectors.SlugMoved``: a merged app's or model's, a
    model's dated permaslug), in a URL's path (a page, API detail, embed, badge, preview
    image) or in an API filter parameter (``?app=``, ``?model=``), answers a permanent
    redirect to the same URL with the entry's slug and the rest of the query string as sent:
    badges pasted into READMEs keep working after a merge."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SlugMoved):
            return None
        if exception.param is not None:
            query = request.GET.copy()
            query[exception.param] = exception.new
            return HttpResponsePermanentRedirect(f"{request.path}?{query.urlencode()}")
        match = request.resolver_match
        captured = match.captured_kwargs
        names = list(captured)
        # The slug is the route's last part, or its last parts joined by "/" (a model's
        # author/name), as the views read it.
        count = next(
            n for n in range(1, len(names) + 1) if "/".join(map(captured.get, names[-n:])) == exception.old
        )
        kwargs = {**captured, **dict(zip(names[-count:], exception.new.split("/", count - 1), strict=True))}
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(reverse(match.view_name, kwargs=kwargs) + (f"?{query}" if query else ""))

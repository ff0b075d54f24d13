"""Error pages in the site's look (with navigation and search); anything under /api/
keeps the API's JSON error format."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.template.loader import render_to_string
from django.urls import reverse

from config.api_errors import json_error
from rankings.selectors import SlugMoved

log = logging.getLogger(__name__)

ERRORS = {
    400: ("bad_request", "Bad request", "The address or its parameters could not be understood."),
    403: ("permission_denied", "Not allowed", "You do not have access to this page."),
    404: ("not_found", "Page not found", "There is no page at this address, or it is not public."),
    500: ("server_error", "Something went wrong", "The error was logged. Please try again in a moment."),
}


def _error(request: HttpRequest, status: int) -> HttpResponse:
    code, title, message = ERRORS[status]
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


class RefuseNulMiddleware:
    """A NUL character in the path or the query string is a 400 before any view runs:
    PostgreSQL cannot hold NUL in text, so a slug or filter with one would reach the
    database as an error (500) wherever a view forgot to check."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            field = next((k for k, v in request.GET.items() if "\x00" in k + v), None)
            if field is not None and request.path.startswith("/api/"):
                return json_error(400, "invalid", f"{field}: must not contain NUL characters.", field)
            return _error(request, 400)
        return self.get_response(request)


class SlugMovedMiddleware:
    """The old slug of a merged app, in a URL's path (its page, API detail, embed, badge,
    preview image) or in an API filter parameter (``?app=``), answers a permanent redirect to
    the same URL with the survivor's slug and the rest of the query string as sent: badges
    pasted into READMEs keep working after a merge."""

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
        kwargs = {k: exception.new if v == exception.old else v for k, v in match.captured_kwargs.items()}
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(reverse(match.view_name, kwargs=kwargs) + (f"?{query}" if query else ""))

"""How config/settings.py reads the environment: django-environ, made strict.

The variables themselves are all read in config/settings.py (the one place); this module is
only the reader.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import environ
from django.core.exceptions import ImproperlyConfigured

from config.network import parse_networks


class Env(environ.Env):
    """django-environ, strict where a typo would otherwise pass silently: a value that does
    not parse is an ImproperlyConfigured naming its variable, a switch is one of the words
    below, an empty number or switch means its default (as an unset one), and a comma list
    drops blanks around and between its items."""

    TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
    KINDS = {int: "a whole number", bool: "true or false", list: "a comma list"}

    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False
    ):
        raw = self.ENVIRON.get(var)
        if raw is not None and not raw.strip() and cast in (int, bool) and default is not self.NOTSET:
            return default
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"{var}={raw!r}: must be {self.KINDS.get(cast, 'valid')} ({exc})."
            ) from exc

    @classmethod
    def parse_value(cls, value: Any, cast: Any) -> Any:
        if cast is bool and isinstance(value, str):
            word = value.strip().lower()
            if word not in cls.TRUE + cls.FALSE:
                raise ValueError(f"one of {', '.join(cls.TRUE + cls.FALSE)}")
            return word in cls.TRUE
        if cast is list and isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return super().parse_value(value, cast)


env = Env()
env.escape_proxy = True  # a value starting with $ names another variable; \$ is a literal $


def networks(name: str, default: list[str]) -> tuple:
    """A comma list of IP networks (or single addresses); a bad entry stops the start."""
    try:
        return parse_networks(env.list(name, default=default))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}.") from exc


def time_zone(name: str, default: str) -> str:
    """An IANA time zone name (Asia/Kolkata); an unknown one stops the start."""
    value = env.str(name, default=default)
    if value not in available_timezones():
        raise ImproperlyConfigured(
            f"{name}: unknown time zone {value!r}; give an IANA name such as Europe/Berlin."
        )
    return value

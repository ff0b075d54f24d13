#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Every command but those below first starts (or reuses) the embedded PostgreSQL and Redis
when no URLs point elsewhere (config.embedded.ensure_started): the settings only say where
they listen.
"""

import os
import sys

from django.core.management import execute_from_command_line

from config import embedded

# Commands that touch neither the database nor Redis: no server is started for them.
NEEDS_NO_SERVER = {"help", "version", "--help", "-h", "--version", "check", "collectstatic", "example_event"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if len(sys.argv) > 1 and sys.argv[1] not in NEEDS_NO_SERVER:
        embedded.ensure_started()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

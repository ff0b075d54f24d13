"""The Celery application; tasks live in each Django app's ``tasks.py``."""

import logging
import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import import_modules, setup_logging
from django.conf import settings

from config.embedded import ensure_started

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Celery's Django fixup runs Django's system checks when a worker starts; the URL checks
# import every view (DRF, the OpenAPI generator, Pillow, the receivers), about 15 MB in each
# pool process that never serves a page. The checks run where pages are served and in
# ``manage.py check --deploy`` (docs/operations.md).
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("tokenrank")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@import_modules.connect
def _embedded_servers(sender: Celery, **kwargs) -> None:
    """A worker or beat starting (its loader imports the task modules, once per program,
    before beat opens its schedule file or the worker its broker connection) starts the
    embedded PostgreSQL and Redis when no URLs are set: the settings only say where they are."""
    if sender is app:
        ensure_started()


@setup_logging.connect
def _django_logging(**kwargs) -> None:
    """Workers and beat log through Django's ``LOGGING`` (one JSON object per line in
    production, ``LOG_LEVEL``) instead of Celery's own format: with a receiver here, Celery
    leaves logging alone."""
    dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # Python warnings as log lines too, not bare text

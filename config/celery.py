"""The Celery application; tasks live in each Django app's ``tasks.py``."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Celery's Django fixup runs Django's system checks when a worker starts; the URL checks
# import every view (DRF, the OpenAPI generator, Pillow, the receivers), about 15 MB in each
# pool process that never serves a page. The checks run where pages are served and in
# ``manage.py check --deploy`` (docs/operations.md).
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("tokenrank")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**kwargs) -> None:
    """Workers and beat log through Django's ``LOGGING`` (one JSON object per line in
    production, ``LOG_LEVEL``) instead of Celery's own format: with a receiver here, Celery
    leaves logging alone."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # Python warnings as log lines too, not bare text

"""The Celery application; tasks live in each Django app's ``tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tokenrank")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""The Celery app. In embedded mode tasks run eagerly in-process (CELERY_TASK_ALWAYS_EAGER)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartassist.settings")

app = Celery("cartassist")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

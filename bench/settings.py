"""Settings for benchmark servers: the product's settings plus a URLconf with a bare
DRF endpoint (bench/urls.py). Selected with DJANGO_SETTINGS_MODULE=bench.settings by
the bench runner; the product never loads it."""

import os

from cartassist.settings import *  # noqa: F403
from cartassist.settings import DATABASES

ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_SQLITE_DEFAULT_JOURNAL") == "1":
    # The "sqlite-default" database of the bench: SQLite's default rollback journal and
    # a new connection per request, to compare with the product's WAL + persistent
    # connections (cartassist/settings.py). IMMEDIATE transactions stay.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

"""Settings for benchmark servers: the product's settings plus a URLconf with a bare
DRF endpoint (bench/urls.py). Selected with DJANGO_SETTINGS_MODULE=bench.settings by
the bench runner; the product never loads it."""

from cartassist.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

"""WSGI entry point: serves the HTTP API, admin and pages (see docs/adr/0004)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartassist.settings")

application = get_wsgi_application()

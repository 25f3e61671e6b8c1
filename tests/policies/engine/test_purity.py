"""The pure modules must load without Django (docs/adr/0001)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "policies.engine",
    "policies.engine.money",
    "cartassist.domain.stalls",
    "cartassist.domain.suppression",
    "cartassist.domain.holdout",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_module_adds_no_django_import(module):
    # given a fresh interpreter in which the module's parent package is already loaded
    # (cartassist/__init__.py loads the Celery app, which touches django.conf itself)
    parent = module.split(".")[0]
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({parent!r})\n"
        "before = set(sys.modules)\n"
        f"importlib.import_module({module!r})\n"
        "added = sorted(m for m in set(sys.modules) - before if m.split('.')[0] == 'django')\n"
        "print(','.join(added))\n"
    )
    # when
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # then
    assert done.stdout.strip() == ""


def test_policies_package_loads_no_django_at_all():
    code = "import sys, policies.engine.money; print(any(m == 'django' for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

"""Production settings pass Django's deployment checks, and refuse to start without a
secret. Each case imports the settings afresh in a subprocess with a clean environment
(nothing inherited from the test run, which may itself be in either mode)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DEBUG": "false",
    "ALLOWED_HOSTS": "cartassist.example",
    # Neither is connected to by these commands; they only switch production mode on.
    "DATABASE_URL": "postgres://cartassist@127.0.0.1:5432/cartassist",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "STATIC_ROOT": os.environ.get("STATIC_ROOT", str(REPO_ROOT / "var" / "staticfiles")),
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings() -> None:
    # when
    result = run_python(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV
    )
    # then: only HSTS preloading (an operator's opt-in, see settings) is silenced
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."
    assert "WARNING" not in result.stderr


def test_check_deploy_is_clean_with_hsts_preload_opted_in() -> None:
    # when
    result = run_python(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION_ENV, "SECURE_HSTS_PRELOAD": "true"},
    )
    # then: nothing silenced at all
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_settings_refuse_to_load_without_secret_key_when_debug_is_off() -> None:
    # given
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    # when
    result = run_python("-c", "import cartassist.settings", env=env)
    # then
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off"
    )


def test_production_mode_defaults_debug_off_and_so_needs_a_secret_key() -> None:
    # given: DATABASE_URL set, DEBUG not set at all
    env = {"DATABASE_URL": PRODUCTION_ENV["DATABASE_URL"]}
    # when
    result = run_python("-c", "import cartassist.settings", env=env)
    # then
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off"
    )


def test_settings_load_with_the_secret_key_set() -> None:
    # when: the same production environment as above, with its SECRET_KEY
    result = run_python(
        "-c",
        "import cartassist.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)",
        env=PRODUCTION_ENV,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False ['cartassist.example']\n"


@pytest.mark.parametrize("value", ["600", "600/fortnight", "lots/min", " 600/min"])
def test_a_rate_limit_that_cannot_be_read_stops_the_process_at_start_up(value: str) -> None:
    # given: a rate DRF could not parse (it would fail every request with a 500)
    env = {**PRODUCTION_ENV, "CARTASSIST_WIDGET_RATE": value}
    # when
    result = run_python("-c", "import cartassist.settings", env=env)
    # then
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: CARTASSIST_WIDGET_RATE must be "
        f"<requests>/<s|min|hour|day>, such as '600/min'; got {value!r}"
    )


@pytest.mark.parametrize(
    ("value", "read"), [("", "600/min"), ("10/s", "10/s"), ("5/hour", "5/hour")]
)
def test_a_rate_limit_is_read_or_left_at_its_default_when_empty(value: str, read: str) -> None:
    # when
    result = run_python(
        "-c",
        "from cartassist import settings as s; "
        "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['widget_events'])",
        env={**PRODUCTION_ENV, "CARTASSIST_WIDGET_RATE": value},
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == read

"""Setting up an installation without the demo (docs/OPERATIONS.md, "First set-up"), and
the demo refusing production settings.

- ``migrate`` creates the role groups with their permissions (a data migration that a
  fresh database and the code must agree on);
- ``cartassist_site`` creates a site with its origins and stall rules;
- ``cartassist_user`` creates agents (with the agent profile the console requires),
  supervisors and merchandisers;
- ``demo`` refuses DEBUG-off settings unless given its loudly named flag.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from agents.models import AgentProfile
from agents.permissions import console_agent
from cartassist.core.roles import GROUP_PERMISSIONS, groups_ensure
from cartassist.demo.seed import AGENT_LOGIN, DEMO_SITE_KEY, MERCHANDISER_LOGIN
from cartassist.management.commands.demo import PRODUCTION_FLAG, sweep_description
from cartassist.models import Site, Stage, StallRule

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-enough-password-for-tests"


def run(*args: str, out: list[str] | None = None) -> str:
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    if out is not None:
        out.append(stderr.getvalue())
    return stdout.getvalue()


def group_permissions() -> dict[str, list[str]]:
    return {
        group.name: sorted(
            f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()
        )
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh SQLite installation in tmp_path (no DATABASE_URL / REDIS_URL)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
        and not key.startswith(("CARTASSIST_", "SECURE_"))
    }
    env.update(
        {
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "SECRET_KEY": "setup-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            **extra,
        }
    )
    return env


# --- the groups come from a migration ---------------------------------------------------


def test_a_fresh_migrate_creates_exactly_the_groups_the_code_defines(tmp_path):
    # given: an empty database, production settings
    env = embedded_env(tmp_path, DEBUG="false", ALLOWED_HOSTS="localhost")
    # when
    migrate = manage("migrate", "--noinput", "-v", "0", env=env)
    dump = manage(
        "shell",
        "-c",
        "import json; from tests.cartassist.test_setup import group_permissions; "
        "print(json.dumps(group_permissions()))",
        env=env,
    )
    # then
    assert migrate.returncode == 0, migrate.stderr
    assert dump.returncode == 0, dump.stderr
    assert json.loads(dump.stdout.strip().splitlines()[-1]) == {
        name: sorted(set(permissions)) for name, permissions in GROUP_PERMISSIONS.items()
    }


def _default_groups_migration() -> Any:
    return importlib.import_module("policies.migrations.0002_default_groups")


def test_the_groups_migration_is_idempotent_and_keeps_what_an_operator_added():
    # given: the groups as the migration left them, plus a permission an operator added
    migration = _default_groups_migration()
    apps = (
        MigrationExecutor(connection).loader.project_state(("policies", "0002_default_groups")).apps
    )
    schema_editor = SimpleNamespace(connection=connection)
    migration.create_groups(apps, schema_editor)
    extra = Permission.objects.get(
        content_type__app_label="policies", codename="view_budgetcounter"
    )
    Group.objects.get(name="Agents").permissions.add(extra)
    before = group_permissions()
    # when
    migration.create_groups(apps, schema_editor)
    # then
    assert group_permissions() == before
    assert "policies.view_budgetcounter" in before["Agents"]
    assert Group.objects.filter(name__in=GROUP_PERMISSIONS).count() == 3


def test_groups_ensure_repairs_a_group_someone_deleted():
    # given
    groups_ensure()
    Group.objects.filter(name="Supervisors").delete()
    # when
    groups = groups_ensure()
    # then
    assert sorted(groups) == ["Agents", "Merchandisers", "Supervisors"]
    assert group_permissions()["Supervisors"] == sorted(GROUP_PERMISSIONS["Supervisors"])


# --- a site ---------------------------------------------------------------------------------


def test_cartassist_site_creates_a_site_with_its_origins_and_stall_rules():
    # when
    output = run(
        "cartassist_site",
        "Acme Shop",
        "--origin",
        "https://shop.example",
        "--origin",
        "https://www.shop.example/",
        "--currency",
        "GBP",
        "--timezone",
        "Europe/London",
        "--stall-rule",
        "shipping=300:20.00",
        "--stall-rule",
        "payment=120",
    )
    # then
    site = Site.objects.get(name="Acme Shop")
    assert site.allowed_origins == ["https://shop.example", "https://www.shop.example"]
    assert (site.currency, site.timezone) == ("GBP", "Europe/London")
    assert sorted(
        (r.stage, r.inactivity_threshold, r.minimum_cart_value, r.enabled)
        for r in StallRule.objects.filter(site=site)
    ) == [
        (Stage.PAYMENT, timedelta(seconds=120), Decimal("0.000"), True),
        (Stage.SHIPPING, timedelta(seconds=300), Decimal("20.000"), True),
    ]
    assert f"Public key       {site.public_key}" in output
    assert f"Secret           {site.secret}" in output
    assert (
        "Stall rules      payment after 120 s from 0.00, shipping after 300 s from 20.00" in output
    )


def test_cartassist_site_updates_an_existing_site_and_keeps_its_keys():
    # given
    run("cartassist_site", "Acme Shop", "--origin", "https://shop.example")
    site = Site.objects.get(name="Acme Shop")
    # when
    output = run("cartassist_site", "Acme Shop", "--stall-rule", "cart=600:5")
    # then
    updated = Site.objects.get(pk=site.pk)
    assert (updated.public_key, updated.secret) == (site.public_key, site.secret)
    assert updated.allowed_origins == ["https://shop.example"]
    assert list(StallRule.objects.filter(site=site).values_list("stage", flat=True)) == ["cart"]
    assert "updated" in output
    assert site.secret not in output
    assert Site.objects.count() == 1


def test_cartassist_site_refuses_a_bad_origin_and_changes_nothing():
    # when
    with pytest.raises(CommandError, match="is not an origin"):
        run("cartassist_site", "Acme Shop", "--origin", "shop.example", "--stall-rule", "cart=60")
    # then
    assert Site.objects.count() == 0
    assert StallRule.objects.count() == 0


# --- people -------------------------------------------------------------------------------


@pytest.fixture
def shop() -> Site:
    run("cartassist_site", "Acme Shop", "--origin", "https://shop.example")
    return Site.objects.get(name="Acme Shop")


def test_cartassist_user_creates_an_agent_who_can_use_the_console(shop, monkeypatch):
    # given
    monkeypatch.setenv("CARTASSIST_USER_PASSWORD", PASSWORD)
    # when
    output = run(
        "cartassist_user",
        "alex",
        "--role",
        "agent",
        "--site",
        "Acme Shop",
        "--display-name",
        "Alex from Acme",
        "--capacity",
        "4",
        "--noinput",
    )
    # then: the agent has the group and the profile the console requires, and logs in
    user = User.objects.get(username="alex")
    profile = AgentProfile.objects.get(user=user)
    assert (profile.site, profile.display_name, profile.capacity, profile.is_supervisor) == (
        shop,
        "Alex from Acme",
        4,
        False,
    )
    assert list(user.groups.values_list("name", flat=True)) == ["Agents"]
    assert user.is_staff is False
    assert console_agent(user) == profile
    client = Client()
    signed_in = client.post("/console/login/", {"username": "alex", "password": PASSWORD})
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/console/")
    assert client.get("/console/").status_code == 200
    assert "“Alex from Acme”, 4 chats at once" in output


def test_cartassist_user_creates_a_supervisor_with_a_supervisor_profile(shop, monkeypatch):
    # given
    monkeypatch.setenv("CARTASSIST_USER_PASSWORD", PASSWORD)
    # when
    run("cartassist_user", "sam", "--role", "supervisor", "--site", str(shop.pk), "--noinput")
    # then
    user = User.objects.get(username="sam")
    assert user.agent_profile.is_supervisor is True
    assert user.agent_profile.display_name == "sam"
    assert user.is_staff is True
    assert list(user.groups.values_list("name", flat=True)) == ["Supervisors"]


def test_cartassist_user_creates_a_merchandiser_who_can_read_analytics_and_edit_sites(
    monkeypatch,
):
    # given
    monkeypatch.setenv("CARTASSIST_USER_PASSWORD", PASSWORD)
    # when
    run("cartassist_user", "mia", "--role", "merchandiser", "--noinput")
    # then
    user = User.objects.get(username="mia")
    assert user.is_staff is True
    assert not AgentProfile.objects.filter(user=user).exists()
    client = Client()
    signed_in = client.post("/admin/login/", {"username": "mia", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert client.get("/admin/cartassist/site/").status_code == 200
    assert client.get("/api/v1/analytics").status_code == 200
    assert client.get("/console/").status_code == 403


def test_cartassist_user_gives_an_existing_user_a_role_and_keeps_their_password(shop):
    # given
    User.objects.create_user(username="alex", password=PASSWORD)
    # when
    run("cartassist_user", "alex", "--role", "agent", "--site", "Acme Shop", "--noinput")
    # then
    user = User.objects.get(username="alex")
    assert user.check_password(PASSWORD)
    assert console_agent(user) == user.agent_profile


def test_cartassist_user_refuses_an_agent_without_a_site_and_changes_nothing(monkeypatch):
    # given
    monkeypatch.setenv("CARTASSIST_USER_PASSWORD", PASSWORD)
    # when
    with pytest.raises(CommandError, match="site: Name the site this agent works for"):
        run("cartassist_user", "alex", "--role", "agent", "--noinput")
    # then
    assert not User.objects.filter(username="alex").exists()
    assert AgentProfile.objects.count() == 0


def test_cartassist_user_refuses_a_new_user_without_a_password_and_changes_nothing(
    shop, monkeypatch
):
    # given
    monkeypatch.delenv("CARTASSIST_USER_PASSWORD", raising=False)
    # when
    with pytest.raises(CommandError, match="CARTASSIST_USER_PASSWORD"):
        run("cartassist_user", "alex", "--role", "agent", "--site", "Acme Shop", "--noinput")
    # then
    assert not User.objects.filter(username="alex").exists()


# --- the demo -------------------------------------------------------------------------------


def test_the_demo_refuses_production_settings_and_changes_nothing(settings):
    # given: production settings
    settings.DEBUG = False
    # when
    with pytest.raises(CommandError) as refusal:
        run("demo", "--no-serve", "--simulated-shoppers", "0")
    # then
    assert PRODUCTION_FLAG in str(refusal.value)
    assert "docs/OPERATIONS.md" in str(refusal.value)
    assert not User.objects.filter(username__in=[MERCHANDISER_LOGIN[0], AGENT_LOGIN[0]]).exists()
    assert not Site.objects.filter(public_key=DEMO_SITE_KEY).exists()


def test_the_demo_refuses_a_production_installation_run_as_a_newcomer_would(tmp_path):
    # given: DEBUG off, as with DATABASE_URL set (a separate process, its own database)
    env = embedded_env(tmp_path, DEBUG="false", ALLOWED_HOSTS="localhost")
    # when
    demo = manage("demo", "--no-serve", "--simulated-shoppers", "0", env=env)
    # then
    assert demo.returncode == 1
    assert "Refusing to seed the demo under production settings" in demo.stderr
    database = tmp_path / "db.sqlite3"
    tables = (
        sqlite3.connect(database).execute("SELECT name FROM sqlite_master").fetchall()
        if database.exists()
        else []
    )
    assert tables == []


def test_the_demo_seeds_under_production_settings_only_with_its_loud_flag(settings):
    # given
    settings.DEBUG = False
    warnings: list[str] = []
    # when
    run("demo", "--no-serve", "--simulated-shoppers", "0", PRODUCTION_FLAG, out=warnings)
    # then
    assert User.objects.get(username=MERCHANDISER_LOGIN[0]).check_password(MERCHANDISER_LOGIN[1])
    assert f"WARNING: {PRODUCTION_FLAG}" in warnings[0]


@pytest.mark.parametrize(
    ("in_process", "line"),
    [
        (True, "  Stall sweep       every 2 s, in-process, once a server runs"),
        (False, "  Stall sweep       every 2 s, by Celery beat (not in this process"),
    ],
)
def test_the_demo_says_where_the_stall_sweep_runs(settings, in_process, line):
    # given
    settings.DEBUG = True
    settings.CARTASSIST_SWEEP_INTERVAL = timedelta(seconds=2)
    settings.CARTASSIST_SWEEP_IN_PROCESS = in_process
    # when
    output = run("demo", "--no-serve", "--simulated-shoppers", "0")
    # then
    assert [text for text in output.splitlines() if text.startswith("  Stall sweep")] == [
        text for text in output.splitlines() if text.startswith(line)
    ]
    assert line in output


def test_the_sweep_line_of_a_serving_demo():
    assert (
        sweep_description(interval_seconds=10, in_process=True, serving=True)
        == "every 10 s, in-process (in the server this command starts)"
    )


def test_demo_help_points_at_documents_that_exist():
    # given
    from cartassist.management.commands.demo import Command

    parser = Command().create_parser("manage.py", "demo")
    # when
    help_text = parser.format_help()
    # then
    documents = {word.strip(".,'()") for word in help_text.split() if word.startswith("docs/")}
    assert {"docs/ANALYTICS.md", "docs/OPERATIONS.md"} <= documents
    assert all((REPO_ROOT / document).exists() for document in documents)

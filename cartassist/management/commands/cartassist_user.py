"""``manage.py cartassist_user``: an agent, supervisor or merchandiser login, for
production set-up without the demo (docs/OPERATIONS.md, "First set-up")."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.services.staff import staff_member_setup
from cartassist.core.roles import Role
from cartassist.management.commands.cartassist_site import site_named, validation_messages

PASSWORD_ENV = "CARTASSIST_USER_PASSWORD"  # noqa: S105 - the name of a variable


class Command(BaseCommand):
    help = (
        "Create the login USERNAME with a role, or give an existing user that role. "
        "agent: console only; supervisor: console (approves offers, sees every chat of "
        "the site) and admin read access; merchandiser: admin (sites, stall rules, "
        "policies, copy, webhooks) and analytics. Agents and supervisors get the agent "
        "profile the console requires (--site, --display-name, --capacity). A new user's "
        f"password is asked for, or read from {PASSWORD_ENV} (with --noinput). "
        "See docs/OPERATIONS.md, 'First set-up'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[role.value for role in Role])
        parser.add_argument(
            "--site", help="Agents and supervisors: the site they chat for (its name or id)."
        )
        parser.add_argument("--display-name", help="Agents and supervisors: the name shoppers see.")
        parser.add_argument(
            "--capacity", type=int, help="Agents and supervisors: chats at once (default 3)."
        )
        parser.add_argument("--email")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"Never prompt: a new user's password comes from {PASSWORD_ENV}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        role = Role(options["role"])
        site = site_named(options["site"]) if options["site"] else None
        password = os.environ.get(PASSWORD_ENV) or None
        if password is None and options["interactive"] and _is_new(options["username"]):
            password = _ask_password()
        try:
            member = staff_member_setup(
                username=options["username"],
                role=role,
                password=password,
                email=options["email"],
                site=site,
                display_name=options["display_name"],
                capacity=options["capacity"],
            )
        except ValidationError as exc:
            hint = (
                f" (set {PASSWORD_ENV}, or run without --noinput)"
                if "password" in getattr(exc, "error_dict", {})
                else ""
            )
            raise CommandError("; ".join(validation_messages(exc)) + hint) from exc
        user = member.user
        where = {
            Role.AGENT: "the console at /console/",
            Role.SUPERVISOR: "the console at /console/ and the admin at /admin/",
            Role.MERCHANDISER: "the admin at /admin/ and analytics at /analytics/",
        }[role]
        lines = [
            f"User “{user.username}” {'created' if member.created else 'updated'}: "
            f"{role.value} (group {role.group}), logs in to {where}."
        ]
        if member.profile is not None:
            profile = member.profile
            lines.append(
                f"  Agent profile    site “{profile.site.name}”, shown to shoppers as "
                f"“{profile.display_name}”, {profile.capacity} chats at once"
                + (", supervisor" if profile.is_supervisor else "")
            )
        self.stdout.write("\n".join(lines))


def _is_new(username: str) -> bool:
    return not User.objects.filter(username=username).exists()


def _ask_password() -> str | None:
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise CommandError("The passwords do not match.")
    return first or None

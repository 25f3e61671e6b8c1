"""``manage.py cartassist_site``: create or update a site and its stall rules, for
production set-up without the demo (docs/OPERATIONS.md, "First set-up")."""

from __future__ import annotations

import argparse
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartassist.carts.models import Site, Stage
from cartassist.carts.services.sites import StallRuleSpec, site_setup


def stall_rule(value: str) -> StallRuleSpec:
    """``STAGE=SECONDS[:MINIMUM_CART_VALUE]``, e.g. ``shipping=300:20.00``."""
    stage, _, rest = value.partition("=")
    seconds, _, minimum = rest.partition(":")
    if stage not in Stage.values:
        raise argparse.ArgumentTypeError(
            f"{stage!r} is not a stage; use one of {', '.join(Stage.values)}"
        )
    try:
        threshold = timedelta(seconds=int(seconds))
        minimum_value = Decimal(minimum) if minimum else Decimal(0)
    except (ValueError, InvalidOperation) as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use STAGE=SECONDS[:MINIMUM_CART_VALUE], e.g. shipping=300:20.00"
        ) from exc
    return StallRuleSpec(stage=Stage(stage), threshold=threshold, minimum_cart_value=minimum_value)


def site_named(value: str) -> Site:
    """The one site the set-up commands' ``site`` argument names: by name, id or public
    key; a CommandError listing the sites otherwise."""
    sites = Site.objects.filter(name=value) | Site.objects.filter(public_key=value)
    if value.isdigit():
        sites = sites | Site.objects.filter(pk=int(value))
    found = list(sites[:2])
    if len(found) != 1:
        names = ", ".join(Site.objects.values_list("name", flat=True)[:20]) or "none yet"
        raise CommandError(
            f"No single site named {value!r} (sites: {names}); create one with cartassist_site."
        )
    return found[0]


class Command(BaseCommand):
    help = (
        "Create the site NAME, or update it: allowed origins, currency, time zone and stall "
        "rules. Prints the site's public key (for the storefront's script tag) and, when "
        "the site is new, its secret (for your shop backend; admin → Sites shows it again). "
        "See docs/OPERATIONS.md, 'First set-up'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The site's name (shown to shoppers on invitations).")
        parser.add_argument(
            "--origin",
            action="append",
            dest="origins",
            metavar="ORIGIN",
            help="A browser origin the storefront runs on, e.g. https://shop.example; "
            "repeat for several. Replaces the site's list when given.",
        )
        parser.add_argument("--currency", help="ISO 4217 code, e.g. EUR (new sites: EUR).")
        parser.add_argument(
            "--timezone", help="IANA time zone, e.g. Europe/Berlin (new sites: UTC)."
        )
        parser.add_argument(
            "--stall-rule",
            action="append",
            dest="stall_rules",
            type=stall_rule,
            metavar="STAGE=SECONDS[:MIN_VALUE]",
            help="After how many seconds of inactivity a cart at STAGE (cart, contact, "
            "shipping, payment) is stalled, and the smallest subtotal worth outreach; "
            "repeat per stage. A site without stall rules never detects a stall.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            site, created = site_setup(
                name=options["name"],
                origins=options["origins"],
                currency=options["currency"],
                timezone_name=options["timezone"],
                stall_rules=options["stall_rules"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(validation_messages(exc))) from exc
        rules = ", ".join(
            f"{rule.stage} after {int(rule.inactivity_threshold.total_seconds())} s"
            f" from {rule.minimum_cart_value:.2f}"
            for rule in site.stall_rules.filter(enabled=True).order_by("stage")
        )
        lines = [
            f"Site “{site.name}” {'created' if created else 'updated'} (id {site.pk}).",
            f"  Public key       {site.public_key}   (the storefront's script tag)",
        ]
        if created:
            lines.append(
                f"  Secret           {site.secret}   (your shop backend only; "
                "admin → Sites shows it again)"
            )
        origins = ", ".join(site.allowed_origins) or "none: the widget is refused"
        lines += [
            f"  Allowed origins  {origins}",
            f"  Currency         {site.currency}, time zone {site.timezone}",
            f"  Stall rules      {rules or 'none: no stall is ever detected'}",
        ]
        self.stdout.write("\n".join(lines))


def validation_messages(exc: ValidationError) -> list[str]:
    """Each message of ``exc``, prefixed by its field when it has one."""
    if hasattr(exc, "error_dict"):
        return [f"{field}: {text}" for field, texts in exc.message_dict.items() for text in texts]
    return list(exc.messages)

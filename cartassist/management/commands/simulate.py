"""``manage.py simulate``: synthetic shoppers through the real pipeline.

docs/ANALYTICS.md, "Simulator"."""

from __future__ import annotations

import logging
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils import timezone

from cartassist.simulation import (
    DEFAULT_SITE_NAME,
    SimulationConfig,
    SimulationError,
    simulate,
    simulation_site_ensure,
    site_find,
    summary_lines,
)

DEFAULTS = SimulationConfig()


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(value) from exc


class Command(BaseCommand):
    help = (
        "Send a synthetic population of shoppers with known true rates through the real "
        "pipeline (events, sweep, invitations, chats, offers, orders, follow-ups), then "
        "print the true rates next to what the analytics measure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shoppers", type=int, default=DEFAULTS.shoppers)
        parser.add_argument(
            "--days", type=int, default=DEFAULTS.days, help="Days over which shoppers arrive."
        )
        parser.add_argument(
            "--invited-conversion",
            type=float,
            default=DEFAULTS.invited_conversion,
            help="True conversion rate of invited shoppers (intention to treat), 0–1.",
        )
        parser.add_argument(
            "--holdout-conversion",
            type=float,
            default=DEFAULTS.holdout_conversion,
            help="True conversion rate of held-out shoppers, 0–1.",
        )
        parser.add_argument(
            "--follow-up-rate",
            type=float,
            default=DEFAULTS.follow_up_rate,
            help="Share of invited shoppers who contact the helpdesk afterwards, 0–1.",
        )
        parser.add_argument(
            "--holdout-follow-up-rate",
            type=float,
            default=DEFAULTS.holdout_follow_up_rate,
            help="The same for held-out shoppers (the baseline), 0–1.",
        )
        parser.add_argument(
            "--holdout-share",
            type=_decimal,
            default=DEFAULTS.holdout_share,
            help="The site's holdout share during the run (restored afterwards), 0–1.",
        )
        parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
        parser.add_argument(
            "--site",
            default="",
            help="Public key or name of the site. A name no site has creates a simulation "
            f"site of that name. Default: “{DEFAULT_SITE_NAME}”.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = SimulationConfig(
            shoppers=options["shoppers"],
            days=options["days"],
            invited_conversion=options["invited_conversion"],
            holdout_conversion=options["holdout_conversion"],
            follow_up_rate=options["follow_up_rate"],
            holdout_follow_up_rate=options["holdout_follow_up_rate"],
            holdout_share=options["holdout_share"],
            seed=options["seed"],
        )
        problems = config.errors()
        if problems:
            raise CommandError("; ".join(problems))
        now = timezone.now()
        reference = options["site"]
        site = site_find(reference) if reference else None
        if site is None:
            if reference.startswith("pk_") and not reference.startswith("pk_sim_"):
                raise CommandError(f"No site has the public key {reference!r}.")
            site = simulation_site_ensure(name=reference or DEFAULT_SITE_NAME, now=now)
        started = time.perf_counter()
        # Every sweep and task logs a line at INFO: thousands of them. -v 2 shows them.
        if options["verbosity"] < 2:
            logging.disable(logging.INFO)
        try:
            # DEBUG (on in the embedded mode) records every query: tens of thousands.
            with override_settings(DEBUG=False):
                summary = simulate(site=site, config=config, now=now)
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            logging.disable(logging.NOTSET)
        elapsed = time.perf_counter() - started
        self.stdout.write("\n".join(summary_lines(summary)))
        self.stdout.write(
            f"\n{config.shoppers} shoppers in {elapsed:.1f} s "
            f"({1000 * elapsed / config.shoppers:.1f} ms each).\n"
        )

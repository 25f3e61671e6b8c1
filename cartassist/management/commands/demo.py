"""``manage.py demo``: migrate, seed the demo, print URLs and logins, serve with the sweep.

The demo's logins have passwords printed in the README, so the command refuses production
settings (DEBUG off) unless given ``--i-understand-this-creates-public-demo-logins``.
Production set-up without the demo: docs/OPERATIONS.md, "First set-up".
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils import timezone

from cartassist.carts.models import Intervention
from cartassist.demo.seed import AGENT_LOGIN, MERCHANDISER_LOGIN, SUPERVISOR_LOGIN, demo_seed
from cartassist.simulation import (
    DEMO_HISTORY_SHOPPERS,
    DEMO_HISTORY_SITE_NAME,
    demo_history_ensure,
)

PRODUCTION_FLAG = "--i-understand-this-creates-public-demo-logins"
REFUSAL = (
    "Refusing to seed the demo under production settings (DEBUG is off): it creates the "
    "logins merchandiser, agent and supervisor with the passwords printed in the README, "
    "so anyone could log in to your admin and console. To set up production, see "
    "docs/OPERATIONS.md, 'First set-up' (migrate creates the groups; createsuperuser, "
    "cartassist_site and cartassist_user create the logins and a site). To seed the demo "
    f"here anyway, on a machine nobody else can reach, pass {PRODUCTION_FLAG}."
)


def sweep_description(*, interval_seconds: float, in_process: bool, serving: bool) -> str:
    """Where the stall sweep runs with these settings, for the demo's summary."""
    every = f"every {interval_seconds:g} s"
    if in_process and serving:
        return f"{every}, in-process (in the server this command starts)"
    if in_process:
        return (
            f"{every}, in-process, once a server runs (manage.py demo without --no-serve, "
            "or daphne cartassist.asgi:application)"
        )
    return (
        f"{every}, by Celery beat (not in this process: run "
        "`celery -A cartassist beat` and a worker)"
    )


class Command(BaseCommand):
    help = (
        "Set up and run the demo (embedded: SQLite, in-process tasks and sweep). Refuses "
        f"production settings (DEBUG off) unless given {PRODUCTION_FLAG}; production "
        "set-up without the demo: docs/OPERATIONS.md, 'First set-up'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Set up and seed, then exit.")
        parser.add_argument(
            "--simulated-shoppers",
            type=int,
            default=DEMO_HISTORY_SHOPPERS,
            help="The first time only: simulate this many shoppers on a site of their own, "
            "so that the analytics page has data (0: none). docs/ANALYTICS.md, 'Simulator'.",
        )
        parser.add_argument(
            PRODUCTION_FLAG,
            action="store_true",
            dest="allow_production",
            help="Seed the demo even though DEBUG is off. Its logins' passwords are public "
            "(README): never on a machine others can reach.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            if not options["allow_production"]:
                raise CommandError(REFUSAL)
            self.stderr.write(
                f"WARNING: {PRODUCTION_FLAG}: seeding the demo logins (public passwords) "
                "under production settings."
            )
        host, port = options["host"], options["port"]
        call_command("migrate", interactive=False, verbosity=0)
        origins = [f"http://{host}:{port}", f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
        seed = demo_seed(origins=origins)
        history = self._simulated_history(options["simulated_shoppers"])
        base = f"http://{host}:{port}"
        sweep = sweep_description(
            interval_seconds=settings.CARTASSIST_SWEEP_INTERVAL.total_seconds(),
            in_process=settings.CARTASSIST_SWEEP_IN_PROCESS,
            serving=not options["no_serve"],
        )
        merchandiser = "{} / {}".format(*MERCHANDISER_LOGIN)
        agent = "{} / {}".format(*AGENT_LOGIN)
        supervisor = "{} / {}".format(*SUPERVISOR_LOGIN)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "CartAssist demo is ready.",
                    f"  Demo storefront   {base}/demo/",
                    f"  Admin             {base}/admin/   merchandiser: {merchandiser}",
                    f"  Agent console     {base}/console/   agent: {agent}",
                    f"                    supervisor: {supervisor}",
                    f"  API docs          {base}/api/docs/   (schema: {base}/api/schema/)",
                    f"  Site key          {seed.site.public_key}",
                    f"  Stall sweep       {sweep}",
                    f"  Analytics         {base}/analytics/   ({history})",
                    "",
                ]
            )
        )
        if not options["no_serve"]:
            call_command("runserver", f"{host}:{port}", use_reloader=False)

    def _simulated_history(self, shoppers: int) -> str:
        """Simulate the analytics' history once (a few seconds); say where it is."""
        if (
            shoppers > 0
            and not Intervention.objects.filter(site__name=DEMO_HISTORY_SITE_NAME).exists()
        ):
            self.stdout.write(f"Simulating {shoppers} shoppers for the analytics page (once)…")
        logging.disable(logging.INFO)  # one line per sweep and task otherwise
        try:
            with override_settings(DEBUG=False):
                summary = demo_history_ensure(shoppers=shoppers, now=timezone.now())
        finally:
            logging.disable(logging.NOTSET)
        if summary is not None:
            return f"site “{summary.site_name}”: {summary.shoppers} simulated shoppers"
        if shoppers <= 0:
            return "no simulated history; make some with manage.py simulate"
        return f"simulated history on site “{DEMO_HISTORY_SITE_NAME}”"

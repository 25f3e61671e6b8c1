"""``manage.py demo``: migrate, seed the demo, print URLs and logins, serve with the sweep."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.test.utils import override_settings
from django.utils import timezone

from cartassist.demo.seed import AGENT_LOGIN, MERCHANDISER_LOGIN, SUPERVISOR_LOGIN, demo_seed
from cartassist.models import Intervention
from cartassist.simulation import (
    DEMO_HISTORY_SHOPPERS,
    DEMO_HISTORY_SITE_NAME,
    demo_history_ensure,
)


class Command(BaseCommand):
    help = "Set up and run the embedded demo (SQLite, in-process tasks and sweep)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Set up and seed, then exit.")
        parser.add_argument(
            "--simulated-shoppers",
            type=int,
            default=DEMO_HISTORY_SHOPPERS,
            help="The first time only: simulate this many shoppers on a site of their own, "
            "so that the analytics page has data (0: none). docs/SIMULATOR.md.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        call_command("migrate", interactive=False, verbosity=0)
        origins = [f"http://{host}:{port}", f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
        seed = demo_seed(origins=origins)
        history = self._simulated_history(options["simulated_shoppers"])
        base = f"http://{host}:{port}"
        interval = settings.CARTASSIST_SWEEP_INTERVAL.total_seconds()
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
                    f"  Stall sweep       every {interval:.0f} s, in-process",
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

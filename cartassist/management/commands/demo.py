"""``manage.py demo``: migrate, seed the demo, print URLs and logins, serve with the sweep."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from cartassist.demo.seed import AGENT_LOGIN, MERCHANDISER_LOGIN, SUPERVISOR_LOGIN, demo_seed


class Command(BaseCommand):
    help = "Set up and run the embedded demo (SQLite, in-process tasks and sweep)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Set up and seed, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        call_command("migrate", interactive=False, verbosity=0)
        origins = [f"http://{host}:{port}", f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
        seed = demo_seed(origins=origins)
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
                    "",
                ]
            )
        )
        if not options["no_serve"]:
            call_command("runserver", f"{host}:{port}", use_reloader=False)

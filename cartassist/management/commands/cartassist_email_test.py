"""``manage.py cartassist_email_test``: send a test email from a site's sender address,
and mark the sender verified once its authentication passed (docs/OPERATIONS.md,
"Verifying a sender")."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from cartassist.flows.shopper_email import sender_test_email_send, sender_verified_set
from cartassist.management.commands.cartassist_site import site_named


class Command(BaseCommand):
    help = (
        "Send a test email from the site's sender address (Site.email_sender_address) "
        "through the EMAIL_* settings to --to. Check the received email's "
        "Authentication-Results header (spf=pass, dkim=pass, dmarc=pass), then run again "
        "with --verified to let agents email shoppers from it (or tick it in admin). "
        "See docs/OPERATIONS.md, 'Verifying a sender'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="The site's public key or name.")
        parser.add_argument("--to", help="Where to send the test email (your own mailbox).")
        parser.add_argument(
            "--verified",
            action="store_true",
            help="Mark the sender verified (after checking the test email's authentication).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = site_named(options["site"])
        if not site.email_sender_address:
            raise CommandError("The site has no sender address: set it in admin first.")
        if not options["to"] and not options["verified"]:
            raise CommandError("Give --to ADDRESS (send a test) and/or --verified.")
        if options["to"]:
            try:
                validate_email(options["to"])
            except ValidationError as exc:
                raise CommandError(f"--to: {options['to']!r} is not an email address.") from exc
            try:
                message_id = sender_test_email_send(site=site, to=options["to"])
            except OSError as exc:  # SMTP errors are OSErrors too
                raise CommandError(f"The test email was not sent: {exc}") from exc
            self.stdout.write(f"Sent from {site.email_sender_address}: {message_id}")
        if options["verified"]:
            sender_verified_set(site=site, verified=True)
            self.stdout.write(f"{site.email_sender_address} is verified for {site.name}.")

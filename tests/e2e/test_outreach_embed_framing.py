"""The helpdesk sidebar in real Chromium: the signed embed page shows inside a helpdesk
page whose origin the site allows, and the browser refuses to show it inside any other
page (CSP frame-ancestors; docs/integrations/helpdesk.md)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client

from cartassist.embed.signing import embed_url
from cartassist.models import Site
from tests.fixtures.outreach import a_rescued_shopper
from tests.fixtures.sites import make_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("chat_settings"),
]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@contextmanager
def helpdesk(sidebar_src: str) -> Iterator[str]:
    """A helpdesk on its own origin (``http://127.0.0.1:<port>``, a real local server:
    Chromium lets only local pages frame the local live server) whose ticket page frames
    ``sidebar_src``. Yields its origin."""
    page = (
        "<!doctype html><title>Ticket</title><h1>Ticket 48213</h1>"
        f'<iframe id="sidebar" src="{sidebar_src}" width="400" height="600"></iframe>'
    ).encode()

    class Ticket(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ticket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def sidebar_link(shop_server: Any, site: Site) -> str:
    return shop_server.url + embed_url(
        secret=site.secret,
        site_key=site.public_key,
        expires=int(time.time()) + 600,
        customer_id="C-1",
    )


def open_ticket(page: Any, origin: str) -> Any:
    """Open the ticket; wait until its iframe has loaded, or failed to."""
    with page.expect_event("framenavigated", predicate=lambda f: f != page.main_frame):
        page.goto(f"{origin}/ticket")
    page.wait_for_load_state("load")
    return page.frame_locator("#sidebar")


def sidebar_frame(page: Any) -> Any:
    (child,) = [f for f in page.frames if f != page.main_frame]
    return child


def test_the_sidebar_shows_in_an_allowed_helpdesk_only(page: Any, shop_server: Any) -> None:
    site = make_site()
    _, expected = a_rescued_shopper(site, Client())
    link = sidebar_link(shop_server, site)
    with helpdesk(link) as allowed, helpdesk(link) as other:
        # given the helpdesk's origin among the site's allowed origins, not the other's
        site.allowed_origins = [shop_server.url, allowed]
        site.save()
        # when the helpdesk frames the sidebar: it shows the lookup
        sidebar = open_ticket(page, allowed)
        expect(sidebar.get_by_test_id("summary")).to_have_text(expected["summary"])
        expect(sidebar.get_by_text(expected["verification_code"])).to_be_visible()
        # when another origin frames the same link: Chromium refuses to render it
        elsewhere = page.context.new_page()
        framed = open_ticket(elsewhere, other)
        expect(elsewhere.get_by_role("heading", name="Ticket 48213")).to_be_visible()
        expect(framed.get_by_test_id("summary")).to_have_count(0)
        assert sidebar_frame(elsewhere).url == "chrome-error://chromewebdata/"


def test_a_site_without_allowed_origins_cannot_be_framed(page: Any, shop_server: Any) -> None:
    site = make_site(allowed_origins=[])
    a_rescued_shopper(site, Client())
    link = sidebar_link(shop_server, site)
    with helpdesk(link) as origin:
        sidebar = open_ticket(page, origin)
        expect(sidebar.get_by_test_id("summary")).to_have_count(0)
        assert sidebar_frame(page).url == "chrome-error://chromewebdata/"
    # the same link opened on its own (not framed) shows the lookup
    page.goto(link)
    expect(page.get_by_test_id("summary")).to_be_visible()

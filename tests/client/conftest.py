"""The client is tested against the real CartAssist API, served by pytest-django's
``live_server`` from this test's database, with a site from the project's fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cartassist.client import CartAssistClient
from cartassist.models import Site

from .fault_proxy import FaultProxy


class Sleeps(list[float]):
    """Records the client's back-off instead of waiting it out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(live_server: Any, site: Site, sleeps: Sleeps):
    def make(*, base_url: str | None = None, **options: Any) -> CartAssistClient:
        values: dict[str, Any] = {
            "base_url": base_url or live_server.url,
            "site_key": site.public_key,
            "secret": site.secret,
            "timeout": 10.0,
            "sleep": sleeps,
        }
        values.update(options)
        return CartAssistClient(**values)

    return make


@pytest.fixture
def ca(make_client: Any) -> CartAssistClient:
    """A client of the site, talking to the real API directly."""
    return make_client()


@pytest.fixture
def proxy(live_server: Any) -> Iterator[FaultProxy]:
    yield from FaultProxy(upstream=live_server.url).run()

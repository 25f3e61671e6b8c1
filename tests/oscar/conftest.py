"""Two processes: CartAssist (daphne, the demo set-up: ``chat_server`` of tests/e2e) and
the sandbox Oscar shop (tests/oscar_shop, Django's runserver) reporting to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (  # noqa: F401, F811  (fixtures used by this package's tests)
    _allow_orm_beside_playwright,
    browser,
    chat_server,
    two_contexts,
)
from tests.oscar.shop import OscarShop, build_template_database, start_shop, stop_shop

DEMO_SITE_KEY = "pk_demo_storefront"

try:  # the extra: pip install -e '.[dev]' (or '.[oscar]')
    import oscar  # noqa: F401

    HAVE_OSCAR = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_OSCAR = False


@pytest.fixture(scope="session")
def oscar_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    from tests.conftest import require

    require(HAVE_OSCAR, "django-oscar is not installed (pip install -e '.[dev]')")
    return build_template_database(tmp_path_factory.mktemp("oscar-template"))


@pytest.fixture(scope="module")
def oscar_shop(
    chat_server: Any,  # noqa: F811 (the fixture imported above)
    oscar_template: tuple[Path, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OscarShop]:
    """The sandbox shop, reporting to ``chat_server``'s demo site; the site allows the
    shop's origin (the widget runs in the shop's pages)."""
    [(secret, origins)] = chat_server.rows(
        "SELECT secret, allowed_origins FROM cartassist_site WHERE public_key = ?", DEMO_SITE_KEY
    )
    template, product_id = oscar_template
    shop, process = start_shop(
        template,
        product_id,
        tmp_path_factory.mktemp("oscar-shop"),
        cartassist_url=chat_server.url,
        site_key=DEMO_SITE_KEY,
        secret=secret,
    )
    allowed = [*json.loads(origins), shop.url]
    import sqlite3

    connection = sqlite3.connect(chat_server.database, timeout=10)
    with connection:
        connection.execute(
            "UPDATE cartassist_site SET allowed_origins = ? WHERE public_key = ?",
            (json.dumps(allowed), DEMO_SITE_KEY),
        )
    connection.close()
    try:
        yield shop
    finally:
        stop_shop(process)

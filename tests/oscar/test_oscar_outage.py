"""CartAssist unreachable: the Oscar shop keeps working (events are dropped and logged),
and the order is placed."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.oscar.shop import OscarShop, free_port, start_shop, stop_shop


@pytest.fixture(scope="module")
def shop_without_cartassist(
    oscar_template: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OscarShop]:
    template, product_id = oscar_template
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    shop, process = start_shop(
        template,
        product_id,
        tmp_path_factory.mktemp("oscar-shop-alone"),
        cartassist_url=nobody,
        site_key="pk_demo_storefront",
        secret="sk_unused",
    )
    try:
        yield shop
    finally:
        stop_shop(process)


def test_the_shop_sells_while_cartassist_is_unreachable(shop_without_cartassist):
    shop = shop_without_cartassist
    shopper = shop.shopper()
    shopper.add_to_basket(shop.product_id)
    shopper.guest_checkout("ada@example.com")
    shopper.shipping_address()
    shopper.choose_method("standard")

    status, html = shopper.place_order()

    assert status == 200
    [(number, total)] = shop.rows("SELECT number, total_incl_tax FROM order_order")
    assert number in html
    assert Decimal(str(total)) == Decimal("48.40")
    log = shop.log.read_text()
    assert "CartAssist did not take 1 event(s) (cart_updated)" in log
    # after the first failure it pauses instead of waiting on every page, and says so
    assert log.count("CartAssist did not take") == 1
    assert "event(s) not sent (order_completed)" in log

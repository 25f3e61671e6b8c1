"""The integration's pure parts, in CartAssist's own test process (no Oscar needed)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from cartassist.integrations.oscar.conf import get_config
from cartassist.integrations.oscar.events import Quote, Shopper, money, shipping_quoted
from cartassist.integrations.oscar.identity import customer_hmac


def test_amounts_have_the_currencys_digits():
    assert money(Decimal("38.5"), "EUR") == "38.50"
    assert money(Decimal("1200.00"), "JPY") == "1200"
    assert money(Decimal("1.25"), "BHD") == "1.250"


def test_settings_are_off_until_url_key_and_secret_are_set(settings):
    settings.CARTASSIST_OSCAR = {"BASE_URL": "https://ca.example/"}
    config = get_config()
    assert not config.enabled
    assert config.widget_url == "https://ca.example/static/widget/cartassist.js"
    settings.CARTASSIST_OSCAR = {
        "BASE_URL": "https://ca.example",
        "SITE_KEY": "pk_1",
        "SECRET": "s",
    }
    assert get_config().enabled


def test_a_misspelt_setting_is_refused(settings):
    settings.CARTASSIST_OSCAR = {"BASE_URL": "https://ca.example", "SITEKEY": "pk_1"}
    with pytest.raises(ImproperlyConfigured, match="SITEKEY"):
        get_config()


def test_the_customer_hmac_is_the_one_cartassist_checks(settings):
    from cartassist.api.serializers import customer_identity_hmac

    settings.CARTASSIST_OSCAR = {"SECRET": "sk_test"}
    assert customer_hmac("oscar-user-7") == customer_identity_hmac("sk_test", "oscar-user-7")


def test_a_quote_is_a_shipping_quoted_event_of_the_shoppers_cart():
    shopper = Shopper(cart_id="oscar-basket-4", visitor_id="v-1", customer_id="oscar-user-2")
    event = shipping_quoted(shopper, Quote("standard", Decimal("9.9"), "EUR", "DE")).as_json()
    assert (event["type"], event["cart_id"], event["customer_id"]) == (
        "shipping_quoted",
        "oscar-basket-4",
        "oscar-user-2",
    )
    assert event["data"] == {
        "currency": "EUR",
        "fee": "9.90",
        "method": "standard",
        "country": "DE",
    }

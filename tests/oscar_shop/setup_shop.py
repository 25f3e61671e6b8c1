"""Fill a migrated sandbox database: the site, Germany as delivery country, one product
with stock (38.50 EUR). Run: ``python -m tests.oscar_shop.setup_shop`` with the
sandbox's settings (``DJANGO_SETTINGS_MODULE=tests.oscar_shop.settings``)."""

from decimal import Decimal

import django


def setup(domain: str = "127.0.0.1") -> int:
    from django.contrib.sites.models import Site
    from oscar.core.loading import get_model

    Site.objects.update_or_create(pk=1, defaults={"domain": domain, "name": "Oscar Sandbox"})
    get_model("address", "Country").objects.update_or_create(
        iso_3166_1_a2="DE",
        defaults={
            "iso_3166_1_a3": "DEU",
            "iso_3166_1_numeric": "276",
            "name": "Germany",
            "printable_name": "Germany",
            "is_shipping_country": True,
        },
    )
    product_class, _ = get_model("catalogue", "ProductClass").objects.get_or_create(
        name="Goods", defaults={"requires_shipping": True, "track_stock": True}
    )
    category_model = get_model("catalogue", "Category")
    category = category_model.objects.filter(name="Kitchen").first() or category_model.add_root(
        name="Kitchen"
    )
    product, _ = get_model("catalogue", "Product").objects.get_or_create(
        upc="MUG-ENAMEL",
        defaults={"title": "Enamel camp mug", "product_class": product_class, "is_public": True},
    )
    get_model("catalogue", "ProductCategory").objects.get_or_create(
        product=product, category=category
    )
    partner, _ = get_model("partner", "Partner").objects.get_or_create(name="Sandbox")
    get_model("partner", "StockRecord").objects.update_or_create(
        product=product,
        partner=partner,
        defaults={
            "partner_sku": "MUG-ENAMEL",
            "price_currency": "EUR",
            "price": Decimal("38.50"),
            "num_in_stock": 1000,
        },
    )
    return int(product.pk)


if __name__ == "__main__":
    django.setup()
    print(setup())  # noqa: T201

"""A site's allowed origins are stored normalised — from the admin form, from code and by
the data migration — and a path is a field error (docs/WIDGET.md, section 1)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.test import RequestFactory

from cartassist.models import Site
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db


def admin_form(site: Site, **changes):
    request = RequestFactory().post(f"/admin/cartassist/site/{site.pk}/change/")
    request.user = User.objects.create_superuser("root", password="x")
    model_admin = admin.site._registry[Site]
    form_class = model_admin.get_form(request, site, change=True)
    data = {**model_to_dict(site, fields=form_class.base_fields), **changes}
    return form_class(data=data, instance=site)


def test_the_admin_form_stores_origins_as_browsers_send_them(site):
    # given
    form = admin_form(
        site,
        allowed_origins='["HTTPS://Shop.Example:443/", "http://localhost:8000/", '
        '"https://shop.example"]',
    )
    # when
    assert form.is_valid(), form.errors
    form.save()
    # then
    site.refresh_from_db()
    assert site.allowed_origins == ["https://shop.example", "http://localhost:8000"]


def test_an_origin_with_a_path_is_a_field_error_and_nothing_changes(site):
    # given
    form = admin_form(site, allowed_origins='["https://shop.example/checkout"]')
    # when
    valid = form.is_valid()
    # then
    assert not valid
    assert form.errors["allowed_origins"] == [
        "'https://shop.example/checkout' has a path, query or fragment: an origin is "
        "scheme://host[:port] only, e.g. https://shop.example"
    ]
    site.refresh_from_db()
    assert site.allowed_origins == ["https://shop.example"]


def test_a_site_saved_from_code_stores_its_origins_normalised():
    # when
    site = make_site(allowed_origins=["https://Shop.example/", "https://shop.example:443"])
    # then
    site.refresh_from_db()
    assert site.allowed_origins == ["https://shop.example"]
    assert site.origin_is_allowed("https://shop.example")
    assert not site.origin_is_allowed("https://shop.example/")


def test_the_data_migration_normalises_the_rows_saved_before():
    # given: rows written before the rule (update() skips save())
    site = make_site()
    Site.objects.filter(pk=site.pk).update(
        allowed_origins=[
            "https://shop.example/",
            "HTTPS://SHOP.example:443",
            "http://localhost:8000/",
            "https://cdn.example/path",
        ]
    )
    migration = importlib.import_module("cartassist.migrations.0007_normalise_allowed_origins")
    # when
    migration.normalise(apps, None)
    # then: normalised and deduplicated; what is no origin is kept (it matches nothing)
    site.refresh_from_db()
    assert site.allowed_origins == [
        "https://shop.example",
        "http://localhost:8000",
        "https://cdn.example/path",
    ]

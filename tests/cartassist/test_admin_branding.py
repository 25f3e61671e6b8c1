"""The admin's own brand, and a site's branding and languages in the site editor; the
agent's photo and the invitation copy per language (docs/OPERATIONS.md, "Admin")."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django.forms import MultiWidget
from django.test import Client

from agents.models import AgentProfile, InvitationCopy
from cartassist.models import Site, StallReason

SITE_URL = "/admin/cartassist/site/{pk}/change/"
COPY_ADD_URL = "/admin/agents/invitationcopy/add/"


def posted_back(response: Any, **changes: Any) -> dict[str, Any]:
    """What the browser posts back from an admin change page, with ``changes``."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            parts = field.widget.decompress(value) if value else [None, None]
            for index, part in enumerate(parts):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        elif isinstance(value, list) and name == "allowed_origins":
            data[name] = "\n".join(value)
        else:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = formset.management_form[name].value()
        for subform in formset.forms:
            for name in subform.fields:
                value = subform[name].value()
                if isinstance(value, bool):
                    if value:
                        data[subform.add_prefix(name)] = "on"
                    continue
                data[subform.add_prefix(name)] = (
                    "" if value is None else getattr(value, "pk", value)
                )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def edit_site(client: Client, site: Site, **changes: Any) -> Any:
    url = SITE_URL.format(pk=site.pk)
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, posted_back(page, **changes))


# --- the admin's brand ------------------------------------------------------------------


def test_every_admin_page_carries_the_cartassist_brand(admin_client, client):
    index = admin_client.get("/admin/").content.decode()
    login = client.get("/admin/login/").content.decode()

    for html in (index, login):
        assert "CartAssist administration" in html
        assert "Django administration" not in html
        assert "Django site admin" not in html
    assert "<title>Shops, policies and the record | CartAssist administration</title>" in index


# --- a site's branding ------------------------------------------------------------------


def test_the_site_editor_has_branding_and_languages_sections(admin_client, site):
    html = admin_client.get(SITE_URL.format(pk=site.pk)).content.decode()

    assert "<h2>Branding</h2>" in html or ">Branding</h2>" in html
    assert ">Languages</h2>" in html
    assert 'type="color"' in html
    assert 'name="brand_colour"' in html
    assert "data-brand-preview" in html
    assert "White text on #1f3a5f: contrast 11.48:1 (WCAG AA needs 4.5:1)." in html
    # (in production mode the static name carries its content hash: brand-preview.<hash>.js)
    assert re.search(r"siteadmin/brand-preview(\.\w+)?\.js", html)
    # the languages as tick boxes of the shipped ones, not JSON
    for code in ("en", "de", "fr", "es"):
        assert f'name="languages" value="{code}"' in html
    assert '<textarea name="languages"' not in html


def test_branding_is_saved(admin_client, site):
    response = edit_site(
        admin_client,
        site,
        display_name="Maple & Thread",
        brand_colour="#2e7d32",
        logo_url="https://maple.example/logo.png",
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    site.refresh_from_db()
    assert (site.display_name, site.brand_colour, site.logo_url) == (
        "Maple & Thread",
        "#2e7d32",
        "https://maple.example/logo.png",
    )


def test_a_brand_colour_without_aa_contrast_is_refused_at_the_field(admin_client, site):
    response = edit_site(admin_client, site, brand_colour="#777777")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["brand_colour"]
    assert "4.48:1" in errors["brand_colour"][0]
    site.refresh_from_db()
    assert site.brand_colour == "#1f3a5f"


def test_an_http_logo_is_refused_at_the_field(admin_client, site):
    response = edit_site(admin_client, site, logo_url="http://maple.example/logo.png")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["logo_url"]


# --- a site's languages -----------------------------------------------------------------


def test_languages_are_saved_with_the_fallback_first(admin_client, site):
    response = edit_site(admin_client, site, languages=["en", "de", "fr"], fallback_language="de")

    assert response.status_code == 302, response.context["adminform"].form.errors
    site.refresh_from_db()
    assert site.languages == ["de", "en", "fr"]


def test_the_editor_shows_the_stored_languages_and_fallback(admin_client, site):
    site.languages = ["fr", "en"]
    site.save()

    page = admin_client.get(SITE_URL.format(pk=site.pk))

    form = page.context["adminform"].form
    assert form["languages"].value() == ["fr", "en"]
    assert form["fallback_language"].value() == "fr"


def test_a_fallback_that_is_not_ticked_is_refused_at_the_field(admin_client, site):
    response = edit_site(admin_client, site, languages=["en"], fallback_language="es")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["fallback_language"]
    site.refresh_from_db()
    assert site.languages == ["en"]


def test_no_language_ticked_is_refused(admin_client, site):
    response = edit_site(admin_client, site, languages=[], fallback_language="en")

    assert response.status_code == 200
    assert "languages" in response.context["adminform"].form.errors


# --- the agent's photo ------------------------------------------------------------------


def test_the_agent_editor_sets_and_previews_the_photo(admin_client, site):
    user = User.objects.create_user("alex", password="x")
    profile = AgentProfile.objects.create(
        user=user, site=site, display_name="Alex Jones", photo_url="https://cdn.example/a.jpg"
    )

    html = admin_client.get(f"/admin/agents/agentprofile/{profile.pk}/change/").content.decode()

    assert 'name="photo_url"' in html
    assert '<img class="agent-photo-preview" src="https://cdn.example/a.jpg"' in html
    assert 'alt="Photo of Alex Jones"' in html


# --- invitation copy per language -------------------------------------------------------


def copy_data(site: Site, **overrides: Any) -> dict[str, Any]:
    data = {
        "site": site.pk,
        "stall_reason": StallReason.SHIPPING_SHOCK,
        "language": "de",
        "headline": "Versandkosten eine Überraschung?",
        "body": "{agent} prüft Ihre Versandoptionen.",
    }
    data.update(overrides)
    return data


def test_copy_in_a_language_of_the_site_is_saved(admin_client, site):
    site.languages = ["en", "de"]
    site.save()

    response = admin_client.post(COPY_ADD_URL, copy_data(site))

    assert response.status_code == 302
    copy = InvitationCopy.objects.get(site=site, language="de")
    assert copy.headline == "Versandkosten eine Überraschung?"


def test_copy_in_a_language_the_site_does_not_speak_is_refused_at_the_field(admin_client, site):
    # given: the site speaks English only
    response = admin_client.post(COPY_ADD_URL, copy_data(site))

    # then
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["language"]
    assert "does not speak Deutsch" in errors["language"][0]
    assert not InvitationCopy.objects.filter(site=site).exists()


def test_the_copy_list_shows_and_filters_by_language(admin_client, site):
    site.languages = ["en", "de"]
    site.save()
    InvitationCopy.objects.create(
        site=site, stall_reason=StallReason.SHIPPING_SHOCK, language="en", headline="Surprised?"
    )
    InvitationCopy.objects.create(
        site=site, stall_reason=StallReason.SHIPPING_SHOCK, language="de", headline="Überrascht?"
    )

    listing = admin_client.get("/admin/agents/invitationcopy/?language__exact=de")

    html = listing.content.decode()
    assert "Überrascht?" in html
    assert "Surprised?" not in html
    assert "column-language" in html


def test_an_http_photo_is_refused_at_the_field(admin_client, site):
    user = User.objects.create_user("alex", password="x")
    data = {"user": user.pk, "site": site.pk, "display_name": "Alex", "capacity": "3",
            "photo_url": "http://cdn.example/a.jpg"}  # fmt: skip

    response = admin_client.post("/admin/agents/agentprofile/add/", data)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["photo_url"]
    assert not AgentProfile.objects.filter(user=user).exists()


def test_the_copy_list_names_languages_still_without_copy(admin_client, site):
    # given: English and German; English copy for every reason, German for one
    site.languages = ["en", "de"]
    site.save()
    for reason in StallReason.values:
        InvitationCopy.objects.create(site=site, stall_reason=reason, language="en", headline="?")
    InvitationCopy.objects.create(
        site=site, stall_reason=StallReason.SHIPPING_SHOCK, language="de", headline="?"
    )

    # when
    html = admin_client.get("/admin/agents/invitationcopy/").content.decode()

    # then
    assert "Copy still to write" in html
    assert "Test Shop, Deutsch: Payment failed, Coupon rejected, Idle at a step" in html
    assert "Test Shop, English" not in html

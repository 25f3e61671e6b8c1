"""The phone menu recipe (docs/integrations/phone_menu.py, standard library only) against
a running CartAssist: it recognises a caller by phone, speaks the lookup's summary, and
reports the call with its resolution."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import Client

from cartassist.models import FollowUpContact
from tests.fixtures.outreach import a_rescued_shopper
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("chat_settings")]

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "phone_menu.py"


@pytest.fixture(scope="module")
def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("phone_menu_recipe", RECIPE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("pressed", "resolution"), [("1", "self_served"), ("2", "agent")])
def test_a_recognised_caller_hears_the_summary_and_the_call_is_reported(
    recipe: ModuleType, live_server: Any, pressed: str, resolution: str
) -> None:
    # given a shopper CartAssist reached out to, whose phone a signed event carried
    site = make_site()
    _, expected = a_rescued_shopper(site, Client())
    said: list[str] = []
    # when they call
    result = recipe.phone_menu(
        live_server.url,
        site.public_key,
        site.secret,
        caller="+49 30 1234567",
        call_id="call-0001",
        say=said.append,
        ask=lambda prompt: pressed,
    )
    # then
    assert result == resolution
    assert said[0] == expected["summary"]
    contact = FollowUpContact.objects.get(site=site, key="call-0001")
    assert (contact.channel, contact.resolution, contact.intervention_id) == (
        "phone",
        resolution,
        expected["intervention_id"],
    )
    assert contact.visitor_id == "visitor-1"


def test_an_unknown_caller_goes_to_the_main_menu(recipe: ModuleType, live_server: Any) -> None:
    site = make_site()
    said: list[str] = []
    result = recipe.phone_menu(
        live_server.url,
        site.public_key,
        site.secret,
        caller="+44 20 7946 0958",
        call_id="call-0002",
        say=said.append,
        ask=lambda prompt: "1",
    )
    assert result == "main_menu"
    assert said == []
    assert not FollowUpContact.objects.exists()


def test_cartassist_unreachable_never_blocks_the_menu(recipe: ModuleType) -> None:
    result = recipe.phone_menu(
        "http://127.0.0.1:9",
        "pk_x",
        "secret",
        caller="+49301234567",
        call_id="call-0003",
        say=lambda text: None,
        ask=lambda prompt: "1",
    )
    assert result == "main_menu"

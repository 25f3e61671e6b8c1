"""The console's HTTP side: the page shell, login/logout, and the JSON panels.

Who may see what: only members of the Agents or Supervisors group with an agent profile;
an agent sees the carts of their own conversations, a supervisor every conversation of
their site, nobody another site's.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.templatetags.static import static
from django.test import Client
from django.utils import timezone

from agents.models import AgentProfile, Conversation, SavedReply
from cartassist.models import Cart, CartEvent, Decision, Site, StallReason, SuppressionReason
from tests.fixtures.agents import (
    make_agent,
    make_conversation,
    make_intervention,
    make_invitation,
    make_stalled_cart,
)
from tests.fixtures.carts import make_event
from tests.fixtures.policies import make_chat, make_policy
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def outsider() -> User:
    """Logged in, active, but in no agent group and without a profile."""
    return User.objects.create_user(username="outsider", password="outsider-pass")


# --- the page ---------------------------------------------------------------------------


def test_console_redirects_anonymous_visitors_to_the_console_login(client):
    # when
    response = client.get("/console/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/console/login/?next=/console/"


def test_console_refuses_a_user_outside_the_agent_groups(client):
    # given
    client.force_login(outsider())

    # when
    response = client.get("/console/")

    # then
    assert response.status_code == 403
    assert [t.name for t in response.templates][0] == "agents/forbidden.html"
    assert "This account can't use the console" in response.text
    assert 'action="/console/logout/"' in response.text


def test_console_refuses_a_group_member_without_an_agent_profile(site):
    # given
    agent = make_agent(site, name="Ada")
    user = agent.user
    agent.delete()

    # when
    response = logged_in(user).get("/console/")

    # then
    assert response.status_code == 403


def test_console_renders_the_shell_for_an_agent(site):
    # given
    agent = make_agent(site, name="Ada <Lovelace>")

    # when
    response = logged_in(agent.user).get("/console/")

    # then
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "agents/console.html"
    page = response.text
    assert f'data-agent-id="{agent.pk}"' in page
    assert 'data-supervisor="false"' in page
    assert 'data-socket-path="/ws/console/"' in page
    assert 'data-max-length="2000"' in page
    assert f'<script type="module" src="{static("console/main.js")}"></script>' in page
    assert "Ada &lt;Lovelace&gt;" in page  # the display name is escaped
    assert "Ada <Lovelace>" not in page
    for value in ["resolved", "converted", "not_interested", "no_response", "other"]:
        assert f'<option value="{value}" data-label-kind="disposition">' in page
    # Logging out is a POST form with a CSRF token (Django 5's LogoutView refuses GET).
    assert '<form method="post" action="/console/logout/">' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_console_takes_the_message_limit_from_the_setting(site, settings):
    # given
    settings.CARTASSIST_MAX_MESSAGE_LENGTH = 500
    agent = make_agent(site)

    # when
    response = logged_in(agent.user).get("/console/")

    # then
    assert 'data-max-length="500"' in response.text


def test_console_marks_a_supervisor(site):
    # given
    supervisor = make_agent(site, name="Sam", supervisor=True)

    # when
    response = logged_in(supervisor.user).get("/console/")

    # then
    assert response.status_code == 200
    assert 'data-supervisor="true"' in response.text
    # colleagues' chats go in their own "Team" list, apart from "My chats"
    assert '<section id="team"' in response.text


def test_an_agent_has_no_team_list(site):
    response = logged_in(make_agent(site).user).get("/console/")
    assert 'id="team"' not in response.text


def test_console_speaks_the_agents_language(site):
    # given: the agent's browser asks for German
    agent = make_agent(site)

    # when
    response = logged_in(agent.user).get("/console/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")

    # then: the page is German, and the browser code loads the German catalogue
    page = response.text
    assert '<html lang="de" dir="ltr">' in page
    assert "Meine Chats" in page
    assert "My chats" not in page
    assert f'data-i18n-url="{static("console/i18n/")}"' in page


def test_console_static_files_are_served(client, settings):
    # given: the embedded mode serves static/ without collectstatic
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    # when
    script = client.get("/static/console/main.js")
    style = client.get("/static/console/console.css")

    # then: browsers run a module only when it is served as JavaScript
    assert script.status_code == 200
    assert script["Content-Type"].split(";")[0] == "text/javascript"
    assert style.status_code == 200


def test_console_script_never_renders_data_with_innerhtml():
    # given: every module of the console (eslint's no-restricted-syntax says the same)
    folder = Path(__file__).parents[2] / "static" / "console"
    source = "\n".join(path.read_text() for path in sorted(folder.glob("*.js")))

    # then: text goes through textContent / createTextNode only
    html_sinks = re.findall(
        r"\.(?:innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write|createContextualFragment",
        source,
    )
    assert html_sinks == []


# --- login and logout -------------------------------------------------------------------


def test_login_page_renders(client):
    # when
    response = client.get("/console/login/?next=/console/")

    # then
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "agents/login.html"
    assert 'autocomplete="current-password"' in response.text
    assert 'name="next" value="/console/"' in response.text


def test_agent_logs_in_and_lands_on_the_console(client, site):
    # given
    agent = make_agent(site)

    # when
    response = client.post(
        "/console/login/",
        {"username": agent.user.username, "password": "agent-pass", "next": "/console/"},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, site):
    # given
    agent = make_agent(site)

    # when
    response = client.post(
        "/console/login/", {"username": agent.user.username, "password": "wrong"}
    )

    # then
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post(site):
    # given
    agent = make_agent(site)
    client = logged_in(agent.user)

    # when
    refused = client.get("/console/logout/")

    # then: still logged in
    assert refused.status_code == 405
    assert client.get("/console/").status_code == 200

    # when
    response = client.post("/console/logout/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/console/login/"
    assert client.get("/console/").status_code == 302


# --- the JSON panels --------------------------------------------------------------------


def _endpoints(site: Site) -> list[str]:
    cart = make_stalled_cart(site)
    conversation = make_conversation(site, agent=make_agent(site, name="Owner"), cart=cart)
    return [
        f"/console/api/conversations/{conversation.pk}/cart",
        f"/console/api/carts/{cart.pk}",
        "/console/api/saved-replies?stall_reason=shipping_shock",
        "/console/api/agents",
    ]


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_json_endpoints_refuse_non_agents(site, who):
    # given
    urls = _endpoints(site)
    client = Client() if who == "anonymous" else logged_in(outsider())

    # when
    responses = [client.get(url) for url in urls]

    # then
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert {r.json()["detail"] for r in responses} == {"Log in as an agent."}


def test_json_endpoints_answer_get_only(site):
    # given
    agent = make_agent(site)
    client = logged_in(agent.user)

    # when
    response = client.post("/console/api/agents")

    # then
    assert response.status_code == 405


def test_conversation_cart_of_another_agent_is_not_found(site):
    # given
    owner = make_agent(site, name="Owner")
    other = make_agent(site, name="Other")
    conversation = make_conversation(site, agent=owner, cart=make_stalled_cart(site))

    # when
    response = logged_in(other.user).get(f"/console/api/conversations/{conversation.pk}/cart")

    # then
    assert response.status_code == 404
    assert response.json() == {"detail": "No such conversation."}


def test_conversation_cart_of_a_queued_conversation_is_not_found_for_an_agent(site):
    # given: nobody owns it yet; agents see it in the queue, not as their chat
    agent = make_agent(site)
    conversation = make_conversation(site, cart=make_stalled_cart(site))

    # when
    response = logged_in(agent.user).get(f"/console/api/conversations/{conversation.pk}/cart")

    # then
    assert response.status_code == 404


def test_conversation_cart_shows_the_agent_their_chats_cart(site):
    # given
    agent = make_agent(site)
    cart = make_stalled_cart(site, external_id="cart-A", subtotal="60.00", shipping_fee="14.90")
    Cart.objects.filter(pk=cart.pk).update(
        lines=[{"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "30.00"}]
    )
    invitation = make_invitation(cart)
    conversation = make_conversation(site, agent=agent, cart=cart)
    Conversation.objects.filter(pk=conversation.pk).update(invitation=invitation)

    # when
    response = logged_in(agent.user).get(f"/console/api/conversations/{conversation.pk}/cart")

    # then
    assert response.status_code == 200
    panel = response.json()
    assert panel["id"] == cart.pk
    assert panel["external_id"] == "cart-A"
    assert panel["lines"] == [{"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "30.00"}]
    assert panel["subtotal"] == "60.000"
    assert panel["shipping_fee"] == "14.900"
    assert panel["currency"] == "EUR"
    assert panel["stage"] == "shipping"
    assert panel["stall_reason"] == "shipping_shock"
    assert panel["timeline"] == []
    assert panel["earlier_interventions"] == []


def test_conversation_cart_recognises_a_returning_shopper(site):
    # given: the same visitor was reached out to about another cart last week
    agent = make_agent(site)
    last_week = timezone.now() - timedelta(days=7)
    earlier_cart = make_stalled_cart(site, visitor_id="visitor-9", now=last_week)
    make_invitation(earlier_cart, now=last_week)
    cart = make_stalled_cart(site, visitor_id="visitor-9")
    conversation = make_conversation(site, visitor_id="visitor-9", agent=agent, cart=cart)

    # when
    panel = logged_in(agent.user).get(f"/console/api/conversations/{conversation.pk}/cart")

    # then
    assert panel.json()["earlier_interventions"] == [
        {
            "decided_at": last_week.isoformat().replace("+00:00", "Z"),
            "stall_reason": "shipping_shock",
            "decision": "invited",
            "invitation_status": "pending",
        }
    ]


def test_supervisor_sees_the_cart_of_any_conversation_of_their_site(site):
    # given
    owner = make_agent(site, name="Owner")
    supervisor = make_agent(site, name="Sam", supervisor=True)
    conversation = make_conversation(site, agent=owner, cart=make_stalled_cart(site))

    # when
    response = logged_in(supervisor.user).get(f"/console/api/conversations/{conversation.pk}/cart")

    # then
    assert response.status_code == 200
    assert response.json()["id"] == conversation.cart_id


def test_supervisors_group_counts_even_without_the_profile_flag(site):
    # given: in the Supervisors group, profile not flagged
    owner = make_agent(site, name="Owner")
    supervisor = make_agent(site, name="Sam", group="Supervisors")
    assert supervisor.is_supervisor is False
    conversation = make_conversation(site, agent=owner, cart=make_stalled_cart(site))

    # when
    response = logged_in(supervisor.user).get(f"/console/api/conversations/{conversation.pk}/cart")

    # then
    assert response.status_code == 200


def test_supervisor_of_another_site_gets_not_found(site):
    # given
    other_site = make_site(name="Other Shop")
    supervisor = make_agent(other_site, name="Sam", supervisor=True)
    conversation = make_conversation(
        site, agent=make_agent(site, name="Owner"), cart=make_stalled_cart(site)
    )
    cart_id = conversation.cart_id

    # when
    responses = [
        logged_in(supervisor.user).get(url)
        for url in [
            f"/console/api/conversations/{conversation.pk}/cart",
            f"/console/api/carts/{cart_id}",
        ]
    ]

    # then
    assert [r.status_code for r in responses] == [404, 404]


def test_cart_detail_shows_a_stalled_cart_of_the_agents_site(site, post_events):
    # given: a real cart, built by ingested events
    post_events.widget([make_event("cart_updated"), make_event("shipping_quoted")])
    cart = Cart.objects.get(site=site, external_id="cart-1")
    make_intervention(
        cart,
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
    )
    agent = make_agent(site)

    # when
    response = logged_in(agent.user).get(f"/console/api/carts/{cart.pk}")

    # then
    assert response.status_code == 200
    panel = response.json()
    assert panel["stall_reason"] == "shipping_shock"
    assert panel["shipping_fee"] == "14.900"
    assert panel["shipping_method"] == "express"
    assert [event["type"] for event in panel["timeline"]] == ["shipping_quoted", "cart_updated"]
    assert CartEvent.objects.filter(cart=cart).count() == 2


def test_saved_replies_are_the_sites_general_ones_and_those_for_the_stall_reason(site):
    # given
    agent = make_agent(site)
    other_site = make_site(name="Other Shop")
    SavedReply.objects.create(site=site, title="Greeting", text="Hi!")
    SavedReply.objects.create(
        site=site, title="Delivery", text="About delivery…", stall_reason=StallReason.SHIPPING_SHOCK
    )
    SavedReply.objects.create(
        site=site, title="Payment", text="About payment…", stall_reason=StallReason.PAYMENT_FAILED
    )
    SavedReply.objects.create(site=other_site, title="Elsewhere", text="Not ours")

    # when
    response = logged_in(agent.user).get("/console/api/saved-replies?stall_reason=shipping_shock")

    # then
    assert response.status_code == 200
    assert [(r["title"], r["stall_reason"]) for r in response.json()["saved_replies"]] == [
        ("Delivery", "shipping_shock"),
        ("Greeting", ""),
    ]


def test_agents_lists_the_sites_colleagues_with_status_and_load(site):
    # given
    ada = make_agent(site, name="Ada", capacity=3)
    bob = make_agent(site, name="Bob", online=False, capacity=2)
    make_agent(make_site(name="Other Shop"), name="Elsewhere")
    make_conversation(site, agent=ada, cart=make_stalled_cart(site))

    # when
    response = logged_in(ada.user).get("/console/api/agents")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "agents": [
            {"id": ada.pk, "display_name": "Ada", "status": "online", "load": 1, "capacity": 3},
            {"id": bob.pk, "display_name": "Bob", "status": "offline", "load": 0, "capacity": 2},
        ]
    }
    assert AgentProfile.objects.count() == 3


# --- the remedies panel and the approvals list ---------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_remedies_and_approvals_refuse_non_agents(site, who):
    # given
    chat = make_chat(site)
    client = Client() if who == "anonymous" else logged_in(outsider())

    # when
    remedies = client.get(f"/console/api/conversations/{chat.conversation.pk}/remedies")
    approvals = client.get("/console/api/approvals")

    # then
    assert (remedies.status_code, remedies.json()) == (403, {"detail": "Log in as an agent."})
    assert (approvals.status_code, approvals.json()) == (403, {"detail": "Supervisors only."})


def test_approvals_refuse_an_agent_who_is_not_a_supervisor(site):
    # given
    agent = make_agent(site)

    # when
    response = logged_in(agent.user).get("/console/api/approvals")

    # then
    assert (response.status_code, response.json()) == (403, {"detail": "Supervisors only."})


def test_approvals_of_a_supervisor_with_nothing_pending_are_empty(site):
    # given
    supervisor = make_agent(site, name="Sam", supervisor=True)

    # when
    response = logged_in(supervisor.user).get("/console/api/approvals")

    # then
    assert (response.status_code, response.json()) == (200, {"approvals": []})


def test_remedies_show_what_the_agent_may_offer_in_their_chat(site):
    # given: a policy that waives delivery for shipping-shock stalls
    make_policy(site)
    chat = make_chat(site)

    # when
    response = logged_in(chat.agent.user).get(
        f"/console/api/conversations/{chat.conversation.pk}/remedies"
    )

    # then
    assert response.status_code == 200
    panel = response.json()
    assert panel["conversation_id"] == chat.conversation.pk
    assert [(r["kind"], r["allowed"]) for r in panel["remedies"]] == [
        ("waive_delivery", True),
        ("reduce_delivery", False),
        ("discount", False),
        ("free_gift", False),
        ("hold_stock", False),
    ]
    assert panel["offers"] == []


def test_remedies_of_another_agents_chat_are_not_found(site):
    # given
    chat = make_chat(site)
    other = make_agent(site, name="Other")

    # when
    response = logged_in(other.user).get(
        f"/console/api/conversations/{chat.conversation.pk}/remedies"
    )

    # then
    assert (response.status_code, response.json()) == (404, {"detail": "No such conversation."})


def test_remedies_of_a_chat_without_a_cart_are_not_found(site):
    # given: a chat the shopper started with no cart
    agent = make_agent(site)
    conversation = make_conversation(site, agent=agent)

    # when
    response = logged_in(agent.user).get(f"/console/api/conversations/{conversation.pk}/remedies")

    # then
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "This conversation has no cart."},
    )

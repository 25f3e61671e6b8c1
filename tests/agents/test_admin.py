"""The live-chat admin (agents/admin.py) and the demo seed's agents part.

Merchandisers edit invitation copy and saved replies, and read agents, invitations and
conversations; supervisors read conversations; agents have no admin. The Intervention
admin of the carts app shows the invitation outcome.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from agents.models import (
    AgentProfile,
    Conversation,
    Invitation,
    InvitationCopy,
    InvitationStatus,
    Message,
    SavedReply,
    Sender,
)
from agents.permissions import console_agent
from cartassist.demo.seed import (
    AGENT_LOGIN,
    MERCHANDISER_LOGIN,
    SUPERVISOR_LOGIN,
    DemoSeed,
    demo_seed,
)
from cartassist.models import Decision, Intervention, StallReason, SuppressionReason
from tests.fixtures.agents import (
    make_agent,
    make_conversation,
    make_intervention,
    make_invitation,
    make_stalled_cart,
)

pytestmark = pytest.mark.django_db

ORIGINS = ["http://127.0.0.1:8000"]


@pytest.fixture
def seeded() -> DemoSeed:
    return demo_seed(origins=ORIGINS)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client() -> Client:
    return logged_in(User.objects.create_superuser("root", "root@example.com", "root-pass"))


def add_message(conversation: Conversation, seq: int, text: str) -> Message:
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq)
    return Message.objects.create(
        conversation=conversation,
        seq=seq,
        sender=Sender.VISITOR,
        client_message_id=f"m{seq}",
        text=text,
        created_at=timezone.now(),
    )


# --- registration -----------------------------------------------------------------------


def test_messages_are_shown_inside_conversations_not_on_their_own():
    # then
    assert Message not in admin.site._registry
    assert type(admin.site._registry[Intervention]).__name__ == "InterventionWithInvitationAdmin"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/agents/agentprofile/",
        "/admin/agents/invitationcopy/",
        "/admin/agents/savedreply/",
        "/admin/agents/invitation/",
        "/admin/agents/conversation/",
        "/admin/agents/invitation/?status__exact=accepted",
        "/admin/agents/conversation/?status__exact=closed&disposition__exact=converted",
        "/admin/cartassist/intervention/",
        "/admin/cartassist/intervention/?invitation__status=accepted",
        "/admin/agents/agentprofile/add/",
        "/admin/agents/invitationcopy/add/",
        "/admin/agents/savedreply/add/",
    ],
)
def test_admin_pages_render_for_a_superuser(site, superuser_client, path):
    # given: one of everything
    agent = make_agent(site)
    cart = make_stalled_cart(site)
    invitation = make_invitation(cart)
    conversation = make_conversation(site, agent=agent, cart=cart)
    Conversation.objects.filter(pk=conversation.pk).update(invitation=invitation)
    add_message(conversation, 1, "Hello")
    SavedReply.objects.create(site=site, title="Greeting", text="Hi")
    InvitationCopy.objects.create(site=site, stall_reason=StallReason.IDLE, headline="Need help?")

    # when
    response = superuser_client.get(path)

    # then
    assert response.status_code == 200


def test_change_pages_render_for_a_superuser(site, superuser_client):
    # given
    agent = make_agent(site)
    cart = make_stalled_cart(site)
    invitation = make_invitation(cart)
    conversation = make_conversation(site, agent=agent, cart=cart)
    reply = SavedReply.objects.create(site=site, title="Greeting", text="Hi")
    copy = InvitationCopy.objects.create(
        site=site, stall_reason=StallReason.IDLE, headline="Need help?"
    )
    paths = [
        f"/admin/agents/agentprofile/{agent.pk}/change/",
        f"/admin/agents/invitationcopy/{copy.pk}/change/",
        f"/admin/agents/savedreply/{reply.pk}/change/",
        f"/admin/agents/invitation/{invitation.pk}/change/",
        f"/admin/agents/conversation/{conversation.pk}/change/",
        f"/admin/cartassist/intervention/{invitation.intervention_id}/change/",
    ]

    # when
    responses = [superuser_client.get(path) for path in paths]

    # then
    assert [r.status_code for r in responses] == [200] * len(paths)


def test_conversation_page_shows_its_messages_read_only_and_escaped(site, superuser_client):
    # given
    conversation = make_conversation(site, agent=make_agent(site), cart=make_stalled_cart(site))
    add_message(conversation, 1, "Is delivery <b>free</b>?")
    add_message(conversation, 2, "Second message")

    # when
    response = superuser_client.get(f"/admin/agents/conversation/{conversation.pk}/change/")

    # then
    page = response.text
    assert "Is delivery &lt;b&gt;free&lt;/b&gt;?" in page
    assert "Second message" in page
    assert 'name="messages-0-text"' not in page  # shown, not editable
    assert 'name="messages-MAX_NUM_FORMS" value="0"' in page  # nothing can be added


def test_conversations_cannot_be_changed_even_by_a_superuser(site, superuser_client):
    # given
    conversation = make_conversation(site, agent=make_agent(site), cart=make_stalled_cart(site))

    # when
    response = superuser_client.post(
        f"/admin/agents/conversation/{conversation.pk}/change/", {"status": "closed"}
    )

    # then
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == "active"


def test_intervention_list_shows_the_invitation_outcome(site, superuser_client):
    # given
    accepted = make_invitation(make_stalled_cart(site, external_id="cart-accepted"))
    Invitation.objects.filter(pk=accepted.pk).update(status=InvitationStatus.ACCEPTED)
    make_intervention(
        make_stalled_cart(site, external_id="cart-suppressed"),
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.NO_AGENT_AVAILABLE,
    )

    # when
    response = superuser_client.get("/admin/cartassist/intervention/")
    filtered = superuser_client.get("/admin/cartassist/intervention/?invitation__status=accepted")

    # then
    assert response.status_code == 200
    assert '<th scope="col" class="sortable column-invitation_status">' in response.text
    assert '<td class="field-invitation_status">Accepted</td>' in response.text
    assert '<td class="field-invitation_status">—</td>' in response.text
    assert list(filtered.context["cl"].result_list) == [accepted.intervention]


def test_agent_list_shows_presence_with_one_query_per_page(
    site, superuser_client, django_assert_max_num_queries
):
    # given
    for name in ["Ada", "Bob", "Cy"]:
        make_agent(site, name=name)

    # when: session, user, count(s), the page of profiles with site and user joined
    with django_assert_max_num_queries(8):
        response = superuser_client.get("/admin/agents/agentprofile/")

    # then
    assert response.status_code == 200
    assert response.text.count('<td class="field-presence">online</td>') == 3


# --- the seeded roles ------------------------------------------------------------------


def test_seeded_merchandiser_edits_invitation_copy(seeded):
    # given
    merchandiser = User.objects.get(username=MERCHANDISER_LOGIN[0])
    copy = InvitationCopy.objects.get(site=seeded.site, stall_reason=StallReason.SHIPPING_SHOCK)
    client = logged_in(merchandiser)

    # when
    page = client.get(f"/admin/agents/invitationcopy/{copy.pk}/change/")
    response = client.post(
        f"/admin/agents/invitationcopy/{copy.pk}/change/",
        {
            "site": seeded.site.pk,
            "stall_reason": StallReason.SHIPPING_SHOCK,
            "language": "en",
            "headline": "Delivery charge a surprise?",
            "body": "{agent} can look at your delivery options.",
        },
    )

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    copy.refresh_from_db()
    assert copy.headline == "Delivery charge a surprise?"


def test_seeded_merchandiser_adds_a_saved_reply(seeded):
    # given
    client = logged_in(User.objects.get(username=MERCHANDISER_LOGIN[0]))
    before = SavedReply.objects.count()

    # when
    response = client.post(
        "/admin/agents/savedreply/add/",
        {
            "site": seeded.site.pk,
            "stall_reason": StallReason.COUPON_REJECTED,
            "title": "Coupon expired",
            "text": "That code expired last week; here is what applies today.",
        },
    )

    # then
    assert response.status_code == 302
    assert SavedReply.objects.count() == before + 1
    assert SavedReply.objects.get(title="Coupon expired").stall_reason == "coupon_rejected"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/agents/agentprofile/",
        "/admin/agents/invitationcopy/",
        "/admin/agents/savedreply/",
        "/admin/agents/invitation/",
        "/admin/agents/conversation/",
        "/admin/cartassist/intervention/",
    ],
)
def test_seeded_merchandiser_sees_the_chat_admin_pages(seeded, path):
    # given
    client = logged_in(User.objects.get(username=MERCHANDISER_LOGIN[0]))

    # when
    response = client.get(path)

    # then
    assert response.status_code == 200


def test_seeded_merchandiser_reads_but_cannot_change_agents_or_conversations(seeded):
    # given
    profile = AgentProfile.objects.get(user__username=AGENT_LOGIN[0])
    conversation = make_conversation(seeded.site, agent=profile)
    add_message(conversation, 1, "Where is my parcel?")
    client = logged_in(User.objects.get(username=MERCHANDISER_LOGIN[0]))

    # when
    profile_page = client.get(f"/admin/agents/agentprofile/{profile.pk}/change/")
    conversation_page = client.get(f"/admin/agents/conversation/{conversation.pk}/change/")
    profile_post = client.post(
        f"/admin/agents/agentprofile/{profile.pk}/change/",
        {"display_name": "Changed", "capacity": 50, "site": seeded.site.pk},
    )

    # then
    assert profile_page.status_code == 200
    assert conversation_page.status_code == 200
    assert "Where is my parcel?" in conversation_page.text  # the inline follows the parent
    assert profile_post.status_code == 403
    profile.refresh_from_db()
    assert (profile.display_name, profile.capacity) == ("Alex from Demo Storefront", 3)


def test_seeded_supervisor_reads_conversations_but_not_saved_replies(seeded):
    # given
    client = logged_in(User.objects.get(username=SUPERVISOR_LOGIN[0]))

    # when
    conversations = client.get("/admin/agents/conversation/")
    replies = client.get("/admin/agents/savedreply/")

    # then
    assert conversations.status_code == 200
    assert replies.status_code == 403


def test_seeded_agent_has_no_admin(seeded):
    # given
    client = logged_in(User.objects.get(username=AGENT_LOGIN[0]))

    # when
    response = client.get("/admin/agents/conversation/")

    # then: not staff, sent to the admin login
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- the seed --------------------------------------------------------------------------


def test_seed_gives_the_agent_and_the_supervisor_console_profiles(seeded):
    # given
    agent = User.objects.get(username=AGENT_LOGIN[0])
    supervisor = User.objects.get(username=SUPERVISOR_LOGIN[0])

    # when
    agent_profile = console_agent(agent)
    supervisor_profile = console_agent(supervisor)

    # then
    assert agent_profile is not None
    assert (
        agent_profile.site_id,
        agent_profile.display_name,
        agent_profile.capacity,
        agent_profile.is_supervisor,
    ) == (seeded.site.pk, "Alex from Demo Storefront", 3, False)
    assert supervisor_profile is not None
    assert (supervisor_profile.site_id, supervisor_profile.is_supervisor) == (seeded.site.pk, True)
    assert supervisor.check_password(SUPERVISOR_LOGIN[1])
    assert supervisor.is_staff is True
    assert list(supervisor.groups.values_list("name", flat=True)) == ["Supervisors"]
    assert console_agent(User.objects.get(username=MERCHANDISER_LOGIN[0])) is None


def test_seed_writes_copy_for_every_stall_reason_and_replies_for_each(seeded):
    # then
    assert sorted(
        InvitationCopy.objects.filter(site=seeded.site).values_list("stall_reason", flat=True)
    ) == sorted(StallReason.values)
    assert sorted(
        SavedReply.objects.filter(site=seeded.site).values_list("stall_reason", flat=True)
    ) == sorted(["", "", *StallReason.values])
    assert InvitationCopy.objects.get(
        site=seeded.site, stall_reason=StallReason.SHIPPING_SHOCK
    ).headline == ("Questions about the delivery charge?")


def _group_permissions() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.all()
    }


def test_seed_group_permissions(seeded):
    # when
    permissions = _group_permissions()

    # then
    assert permissions["Agents"] == {"cartassist.view_cart", "cartassist.view_cartevent"}
    assert permissions["Supervisors"] == {
        "cartassist.view_cart",
        "cartassist.view_cartevent",
        "agents.view_conversation",
        "agents.view_invitation",
    }
    agents_part = {p for p in permissions["Merchandisers"] if p.startswith("agents.")}
    assert agents_part == {
        "agents.view_invitationcopy",
        "agents.add_invitationcopy",
        "agents.change_invitationcopy",
        "agents.delete_invitationcopy",
        "agents.view_savedreply",
        "agents.add_savedreply",
        "agents.change_savedreply",
        "agents.delete_savedreply",
        "agents.view_agentprofile",
        "agents.view_invitation",
        "agents.view_conversation",
    }


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "groups": Group.objects.count(),
        "profiles": AgentProfile.objects.count(),
        "copy": InvitationCopy.objects.count(),
        "replies": SavedReply.objects.count(),
    }


def test_seed_is_idempotent():
    # given
    demo_seed(origins=ORIGINS)
    first = _counts()
    permissions = _group_permissions()

    # when
    demo_seed(origins=ORIGINS)

    # then
    assert first == {"users": 3, "groups": 3, "profiles": 2, "copy": 4, "replies": 6}
    assert _counts() == first
    assert _group_permissions() == permissions


def test_reseeding_keeps_what_a_merchandiser_edited(seeded):
    # given
    AgentProfile.objects.filter(user__username=AGENT_LOGIN[0]).update(
        display_name="Alex", capacity=5
    )
    SavedReply.objects.filter(title="Greeting").update(text="Hello there!")
    InvitationCopy.objects.filter(stall_reason=StallReason.IDLE).update(headline="Stuck?")

    # when
    demo_seed(origins=ORIGINS)

    # then
    profile = AgentProfile.objects.get(user__username=AGENT_LOGIN[0])
    assert (profile.display_name, profile.capacity) == ("Alex", 5)
    assert SavedReply.objects.get(title="Greeting").text == "Hello there!"
    assert InvitationCopy.objects.get(stall_reason=StallReason.IDLE).headline == "Stuck?"

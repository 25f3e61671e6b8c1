"""A chat the shopper starts after outreach, in the console: the agent sees the outreach it
follows (recognise returners) and classifies why the shopper came back
(``follow_up.classify``, docs/REALTIME.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.models import Conversation, InvitationStatus
from agents.payloads import _iso
from cartassist.models import FollowUpContact, FollowUpReason, Intervention
from cartassist.outcomes.services.analytics import analytics_compute
from tests.fixtures.agents import (
    FRAME_TIMEOUT,
    console_receive,
    make_agent,
    make_conversation,
    make_invitation,
    make_stalled_cart,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def shopper_was_invited(site, *, visitor_id: str = "visitor-1") -> Intervention:
    """The shopper was invited about the delivery charge an hour ago and dismissed it."""
    then = timezone.now() - timedelta(hours=1)
    cart = make_stalled_cart(site, visitor_id=visitor_id, external_id="cart-7", now=then)
    invitation = make_invitation(cart, now=then)
    invitation.status = InvitationStatus.DISMISSED
    invitation.save(update_fields=["status"])
    return invitation.intervention


def reasons() -> list[str]:
    return list(FollowUpContact.objects.order_by("pk").values_list("reason", flat=True))


async def follow_up_chat(site, sockets, agent):
    """The invited shopper starts a chat from the launcher; it goes to ``agent``'s
    console. Returns (console, widget, the widget's frame, the console's frame)."""
    console, _ = await sockets.console(agent)
    widget, _ = await sockets.widget(site, "visitor-1")
    await widget.send_json_to({"type": "chat.start", "cart_id": "cart-7"})
    opened = await widget.receive_json_from(timeout=FRAME_TIMEOUT)
    agent_sees = await console_receive(console)
    return console, widget, opened, agent_sees


async def classify(console, conversation_id: int, reason: str) -> dict:
    await console.send_json_to(
        {"type": "follow_up.classify", "conversation_id": conversation_id, "reason": reason}
    )
    return await console_receive(console)


async def still_usable(console) -> None:
    await console.send_json_to({"type": "ping"})
    assert await console_receive(console) == {"type": "pong"}


# --- what the agent sees ----------------------------------------------------------------


async def test_the_agent_sees_the_outreach_the_chat_follows_and_the_shopper_does_not(site, sockets):
    # given: an invited shopper, Ada online
    intervention = await db(shopper_was_invited)(site)
    agent = await db(make_agent)(site, name="Ada")

    # when: the shopper comes back through the launcher
    console, _, opened, agent_sees = await follow_up_chat(site, sockets, agent)

    # then: Ada's frame names the outreach, its date, reason and what became of it
    contact = await db(FollowUpContact.objects.get)()
    assert agent_sees["type"] == "conversation"
    assert agent_sees["conversation"]["follow_up"] == {
        "reason": "other",
        "occurred_at": _iso(contact.occurred_at),
        "outreach": {
            "intervention_id": intervention.pk,
            "decided_at": _iso(intervention.decided_at),
            "decision": "invited",
            "trigger": "sweep",
            "stall_reason": "shipping_shock",
            "invitation_result": "dismissed",
            "offer_accepted": False,
            "remedy_kind": "",
            "converted": False,
        },
    }
    # the widget's frame is the same conversation without the agent-only part
    assert "follow_up" not in opened["conversation"]
    assert {k: v for k, v in agent_sees["conversation"].items() if k != "follow_up"} == opened[
        "conversation"
    ]


async def test_a_reconnecting_console_gets_the_follow_up_in_hello(site, sockets):
    # given: a follow-up chat with Ada
    await db(shopper_was_invited)(site)
    agent = await db(make_agent)(site, name="Ada")
    console, _, _, agent_sees = await follow_up_chat(site, sockets, agent)
    await console.disconnect()

    # when
    _, hello = await sockets.console(agent)

    # then
    assert [c.get("follow_up") for c in hello["conversations"]] == [
        agent_sees["conversation"]["follow_up"]
    ]


async def test_a_chat_that_is_no_follow_up_has_no_follow_up_in_the_console(site, sockets):
    # given: a shopper nobody reached out to
    agent = await db(make_agent)(site, name="Ada")
    console, _ = await sockets.console(agent)
    widget, _ = await sockets.widget(site, "visitor-1")

    # when
    await widget.send_json_to({"type": "chat.start"})
    opened = await widget.receive_json_from(timeout=FRAME_TIMEOUT)
    agent_sees = await console_receive(console)

    # then
    assert agent_sees == opened
    assert "follow_up" not in agent_sees["conversation"]


# --- classifying ------------------------------------------------------------------------


async def test_the_agent_classifies_the_follow_up(site, sockets):
    # given: a follow-up chat with Ada
    intervention = await db(shopper_was_invited)(site)
    agent = await db(make_agent)(site, name="Ada")
    console, _, _, agent_sees = await follow_up_chat(site, sockets, agent)
    conversation_id = agent_sees["conversation"]["id"]

    # when
    answer = await classify(console, conversation_id, "checking_genuine")

    # then: stored, confirmed, and the outcome's follow-up count is unchanged
    assert answer == {
        "type": "follow_up.classified",
        "conversation_id": conversation_id,
        "follow_up": {**agent_sees["conversation"]["follow_up"], "reason": "checking_genuine"},
    }
    assert await db(reasons)() == ["checking_genuine"]
    await db(intervention.refresh_from_db)()
    assert intervention.follow_ups == 1

    # and: the console's next view of the chat carries the new reason
    await console.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
    frame = await console_receive(console)
    assert frame["type"] == "conversation"
    assert frame["conversation"]["follow_up"]["reason"] == "checking_genuine"


async def test_analytics_counts_the_follow_up_under_the_agents_reason(site, sockets):
    # given: a follow-up chat with Ada
    await db(shopper_was_invited)(site)
    agent = await db(make_agent)(site, name="Ada")
    console, _, _, agent_sees = await follow_up_chat(site, sockets, agent)

    # when
    await classify(console, agent_sees["conversation"]["id"], "needed_confirmation")

    # then
    today = timezone.localdate()
    report = await db(analytics_compute)(
        site_ids=[site.pk],
        date_from=today - timedelta(days=1),
        date_to=today,
        tz=timezone.get_current_timezone(),
    )
    assert {line.key: line.invited for line in report.follow_ups.by_reason if line.invited} == {
        FollowUpReason.NEEDED_CONFIRMATION: 1
    }


async def test_a_closed_follow_up_chat_can_still_be_classified(site, sockets):
    # given: Ada closed the follow-up chat
    await db(shopper_was_invited)(site)
    agent = await db(make_agent)(site, name="Ada")
    console, _, _, agent_sees = await follow_up_chat(site, sockets, agent)
    conversation_id = agent_sees["conversation"]["id"]
    await console.send_json_to(
        {
            "type": "conversation.close",
            "conversation_id": conversation_id,
            "disposition": "resolved",
        }
    )
    while (await console_receive(console))["type"] != "conversation.closed":
        pass

    # when
    answer = await classify(console, conversation_id, "unresolved")

    # then
    assert answer["type"] == "follow_up.classified"
    assert await db(reasons)() == ["unresolved"]


# --- refusals: an error frame, nothing changes, the socket stays usable -------------------


@pytest.mark.parametrize("reason", ["spam", "", "OTHER"])
async def test_an_unknown_reason_is_refused(site, sockets, reason):
    # given: a follow-up chat with Ada
    await db(shopper_was_invited)(site)
    agent = await db(make_agent)(site, name="Ada")
    console, _, _, agent_sees = await follow_up_chat(site, sockets, agent)

    # when
    answer = await classify(console, agent_sees["conversation"]["id"], reason)

    # then
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "invalid_frame", "reason")
    assert await db(reasons)() == ["other"]
    await still_usable(console)


async def test_another_agents_follow_up_is_refused_like_a_missing_chat(site, sockets):
    # given: Ada's follow-up chat; Bob online too
    await db(shopper_was_invited)(site)
    ada = await db(make_agent)(site, name="Ada")
    _, _, _, agent_sees = await follow_up_chat(site, sockets, ada)
    bob = await db(make_agent)(site, name="Bob")
    bob_console, _ = await sockets.console(bob)
    conversation_id = agent_sees["conversation"]["id"]

    # when: Bob classifies Ada's chat, and a chat id that does not exist
    foreign = await classify(bob_console, conversation_id, "unresolved")
    missing = await classify(bob_console, conversation_id + 1000, "unresolved")

    # then: both look the same; nothing changed
    assert (foreign["type"], foreign["code"]) == ("error", "not_found")
    assert foreign == missing
    assert await db(reasons)() == ["other"]
    await still_usable(bob_console)


async def test_a_supervisor_may_classify_an_agents_follow_up(site, sockets):
    # given: Ada's follow-up chat; a supervisor online
    await db(shopper_was_invited)(site)
    ada = await db(make_agent)(site, name="Ada")
    _, _, _, agent_sees = await follow_up_chat(site, sockets, ada)
    boss = await db(make_agent)(site, name="Boss", supervisor=True)
    boss_console, _ = await sockets.console(boss)

    # when
    answer = await classify(boss_console, agent_sees["conversation"]["id"], "needed_confirmation")

    # then
    assert answer["type"] == "follow_up.classified"
    assert await db(reasons)() == ["needed_confirmation"]


async def test_a_chat_that_is_no_follow_up_cannot_be_classified(site, sockets):
    # given: Ada's chat with a shopper nobody reached out to
    agent = await db(make_agent)(site, name="Ada")
    conversation = await db(make_conversation)(site, agent=agent)
    console, _ = await sockets.console(agent)

    # when
    answer = await classify(console, conversation.pk, "unresolved")

    # then
    assert (answer["type"], answer["code"]) == ("error", "no_follow_up")
    assert await db(FollowUpContact.objects.count)() == 0
    assert await db(Conversation.objects.filter(pk=conversation.pk).exists)()
    await still_usable(console)

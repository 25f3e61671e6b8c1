"""A transfer tells the agent who gave the chat away (their console drops it)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.fixtures.agents import console_receive, make_agent, make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


async def test_transfer_sends_the_new_owner_to_the_previous_agents_console(site, sockets):
    # given: Ada has a chat and Bob is online with a free seat
    ada = await database_sync_to_async(make_agent)(site, name="Ada")
    bob = await database_sync_to_async(make_agent)(site, name="Bob")
    conversation = await database_sync_to_async(make_conversation)(site, agent=ada)
    ada_ws, ada_hello = await sockets.console(ada)
    assert [c["id"] for c in ada_hello["conversations"]] == [conversation.pk]

    # when
    await ada_ws.send_json_to(
        {"type": "transfer", "conversation_id": conversation.pk, "agent_id": bob.pk}
    )

    # then: Ada's console learns that the chat is Bob's now (next to the system message
    # that announces it)
    frames = [await console_receive(ada_ws), await console_receive(ada_ws)]
    assert sorted(f["type"] for f in frames) == ["conversation", "message"]
    (frame,) = [f for f in frames if f["type"] == "conversation"]
    assert (frame["conversation"]["id"], frame["conversation"]["agent_id"]) == (
        conversation.pk,
        bob.pk,
    )
    assert frame["conversation"]["agent_name"] == "Bob"

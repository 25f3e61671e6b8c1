"""Data for the chat benchmark, run in a child process with the bench environment:
``python -m bench.chat_seed <idle visitors> [<pairs>]``. Creates a site, an online agent
with a console session, an active conversation, and visitor tokens; for the throughput
run, ``pairs`` more agents, each with a console session and an active chat with a
shopper of its own; prints one JSON line."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import django

BENCH_ORIGIN = "https://shop.bench.test"


def main(idle_visitors: int, pairs: int = 0) -> dict[str, object]:
    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.utils import timezone

    from agents.models import AgentProfile, AgentStatus, Conversation, ConversationStatus
    from agents.tokens import visitor_token_issue
    from cartassist.models import Site

    now = timezone.now()
    site = Site.objects.create(
        name="Bench chat shop",
        allowed_origins=[BENCH_ORIGIN],
        currency="EUR",
        timezone="Europe/Berlin",
        holdout_share=Decimal("0"),
    )

    def agent_with_chat(username: str, visitor_id: str) -> tuple[Conversation, str]:
        """An online agent, its console session cookie, and its active chat."""
        user = User.objects.create_user(username=username, password=None)
        user.groups.add(Group.objects.get_or_create(name="Agents")[0])
        agent = AgentProfile.objects.create(
            user=user,
            site=site,
            display_name="Bench agent",
            capacity=5,
            status=AgentStatus.ONLINE,
            last_heartbeat_at=now,
        )
        conversation = Conversation.objects.create(
            site=site,
            visitor_id=visitor_id,
            agent=agent,
            status=ConversationStatus.ACTIVE,
            urgency=50,
            cart_value=Decimal("60.00"),
            created_at=now,
            assigned_at=now,
            visitor_last_seen_at=now,
        )
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        return conversation, f"{settings.SESSION_COOKIE_NAME}={cookie}"

    conversation, console_cookie = agent_with_chat("bench-agent", "bench-shopper")
    chats = [agent_with_chat(f"bench-agent-{n}", f"bench-pair-{n}") for n in range(pairs)]

    def token(visitor_id: str) -> str:
        return visitor_token_issue(site_id=site.pk, visitor_id=visitor_id, now=now)[0]

    return {
        "origin": BENCH_ORIGIN,
        "conversation_id": conversation.pk,
        "shopper_token": token("bench-shopper"),
        "console_cookie": console_cookie,
        "idle_tokens": [token(f"idle-{n}") for n in range(idle_visitors)],
        "pairs": [
            {
                "conversation_id": chat.pk,
                "shopper_token": token(chat.visitor_id),
                "console_cookie": cookie,
            }
            for chat, cookie in chats
        ],
    }


if __name__ == "__main__":
    print(json.dumps(main(*(int(arg) for arg in sys.argv[1:3]))))

"""Error frames speak the socket's language: the shopper's on the widget (the language
the widget session stored), the agent's on the console (language cookie, else
Accept-Language). Clients key on ``code``; ``message`` is for people."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.consumers.base import scope_language
from cartassist.models import Visitor
from tests.fixtures.agents import FRAME_TIMEOUT, console_communicator, make_agent

db = database_sync_to_async


@pytest.mark.django_db(transaction=True)
async def test_the_widget_answers_errors_in_the_shoppers_language(site, sockets):
    # given: the shopper's widget said German
    site.languages = ["en", "de"]
    await db(site.save)()
    await db(Visitor.objects.create)(site=site, external_id="visitor-1", language="de")
    ws, _ = await sockets.widget(site, "visitor-1")

    # when: a chat that is not theirs, and an empty message
    await ws.send_json_to({"type": "sync", "conversation_id": 999, "after_seq": 0})
    missing = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    await ws.send_json_to(
        {"type": "message.send", "conversation_id": 1, "client_message_id": "c1", "text": " "}
    )
    empty = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then: same codes, German words
    assert (missing["code"], missing["message"]) == ("not_found", "Dieses Gespräch gibt es nicht.")
    assert (empty["code"], empty["message"]) == ("invalid_frame", "Die Nachricht ist leer.")


@pytest.mark.django_db(transaction=True)
async def test_the_widget_speaks_the_sites_first_language_to_an_unknown_shopper(site, sockets):
    # given: a French-first shop; nothing stored for this visitor
    site.languages = ["fr", "en"]
    await db(site.save)()
    ws, _ = await sockets.widget(site, "visitor-new")

    # when
    await ws.send_json_to({"type": "invitation.accept", "invitation_id": 999})
    error = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert (error["code"], error["message"]) == ("not_found", "Cette invitation n’existe pas.")


@pytest.mark.django_db(transaction=True)
async def test_the_console_answers_errors_in_the_agents_browser_language(site, sockets):
    # given: Ada's browser prefers Spanish
    ada = await db(make_agent)(site, name="Ada")
    ws = await console_communicator(await db(lambda: ada.user)())
    ws.scope["headers"].append((b"accept-language", b"es-ES,es;q=0.9,en;q=0.5"))
    sockets.opened.append(ws)
    connected, _ = await ws.connect(timeout=FRAME_TIMEOUT)
    assert connected
    assert (await ws.receive_json_from(timeout=FRAME_TIMEOUT))["type"] == "hello"

    # when
    await ws.send_json_to({"type": "queue.claim", "conversation_id": 999})
    frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)
    while frame["type"] != "error":
        frame = await ws.receive_json_from(timeout=FRAME_TIMEOUT)

    # then
    assert (frame["code"], frame["message"]) == ("not_found", "Esa conversación no existe.")


@pytest.mark.parametrize(
    ("cookies", "accept_language", "language"),
    [
        ({}, "", "en"),
        ({}, "de-AT,de;q=0.9", "de"),
        ({}, "it-IT, fr;q=0.8, es;q=0.9", "es"),
        ({}, "*, fr;q=0", "en"),
        ({"django_language": "fr"}, "de", "fr"),
        ({"django_language": "xx"}, "de", "de"),
        ({}, "de;q=nonsense, es", "es"),
    ],
)
def test_a_sockets_language_is_chosen_as_for_a_page(cookies, accept_language, language):
    scope = {"cookies": cookies, "headers": [(b"accept-language", accept_language.encode())]}
    assert scope_language(scope) == language

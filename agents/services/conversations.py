"""Conversations and messages: persist first, then fan out (docs/adr/0005).

Every function here that changes what a client sees publishes through
``agents.realtime.publish_on_commit``, so a frame is sent only for committed state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from channels.db import database_sync_to_async
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from agents import realtime
from agents.errors import ChatError, NotFound
from agents.models import (
    AgentProfile,
    Conversation,
    ConversationStatus,
    Invitation,
    Message,
    MessageKind,
    Sender,
)
from agents.payloads import conversation_payload, message_payload
from agents.services.published import published_marks
from cartassist.core import async_db
from cartassist.core.locks import for_update

logger = logging.getLogger(__name__)

SYSTEM_NAME = "CartAssist"
VISITOR_NAME = "You"


def author_name(message: Message, agent: AgentProfile | None) -> str:
    if message.sender == Sender.AGENT:
        return agent.display_name if agent else "Agent"
    if message.sender == Sender.SYSTEM:
        return SYSTEM_NAME
    return VISITOR_NAME


def conversation_for_visitor(
    *, site_id: int, visitor_id: str, conversation_id: int
) -> Conversation:
    """The visitor's own conversation; another visitor's looks exactly like a missing one."""
    conversation = (
        Conversation.objects.select_related("agent")
        .filter(pk=conversation_id, site_id=site_id, visitor_id=visitor_id)
        .first()
    )
    if conversation is None:
        raise NotFound("conversation")
    return conversation


def conversation_for_agent(
    *, agent: AgentProfile, conversation_id: int, lock: bool = False
) -> Conversation:
    """A conversation the agent may act on: assigned to them, or any of their site's
    conversations for a supervisor. ``lock``: its row locked (``for_update``, inside the
    caller's transaction), with its invitation loaded."""
    rows = Conversation.objects.select_related("agent", "invitation")
    qs = (for_update(rows) if lock else rows).filter(pk=conversation_id, site_id=agent.site_id)
    if not agent.is_supervisor:
        qs = qs.filter(agent=agent)
    conversation = qs.first()
    if conversation is None:
        raise NotFound("conversation")
    return conversation


def conversation_publish(conversation: Conversation) -> None:
    """Tell everyone who follows ``conversation`` its new state (on commit)."""
    payload = {"conversation": conversation_payload(conversation)}
    realtime.publish_on_commit(
        realtime.visitor_group(conversation.site_id, conversation.visitor_id),
        realtime.CONVERSATION_UPDATED,
        payload,
    )
    realtime.publish_on_commit(
        realtime.conversation_group(conversation.pk), realtime.CONVERSATION_UPDATED, payload
    )
    if conversation.agent_id:
        realtime.publish_on_commit(
            realtime.agent_group(conversation.agent_id), realtime.CONVERSATION_UPDATED, payload
        )
        realtime.publish_on_commit(
            realtime.console_supervisors_group(conversation.site_id),
            realtime.CONVERSATION_UPDATED,
            payload,
        )
    realtime.publish_on_commit(
        realtime.console_site_group(conversation.site_id), realtime.QUEUE_CHANGED, {}
    )


@dataclass(frozen=True)
class PostedMessage:
    message: Message
    author_name: str
    created: bool


def _may_post(
    conversation: Conversation,
    *,
    sender: Sender,
    agent: AgentProfile | None,
    site_id: int | None,
    visitor_id: str | None,
) -> bool:
    """Whether this sender may post to ``conversation`` (the same rule as the one-statement
    send's WHERE clause, ``_SEND_SQL``)."""
    if sender == Sender.AGENT:
        return (
            agent is not None
            and conversation.site_id == agent.site_id
            and (conversation.agent_id == agent.pk or agent.is_supervisor)
        )
    if sender == Sender.VISITOR and site_id is not None:
        return conversation.site_id == site_id and conversation.visitor_id == visitor_id
    return True  # system messages; visitor messages posted by trusted code (tests, simulator)


def conversation_message_post(
    *,
    conversation_id: int,
    sender: Sender,
    client_message_id: str,
    text: str,
    now: datetime,
    agent: AgentProfile | None = None,
    site_id: int | None = None,
    visitor_id: str | None = None,
) -> PostedMessage:
    """Persist a message with the next sequence number, then fan it out (the ORM path:
    SQLite, system messages, code already in a transaction; sockets call
    ``conversation_message_send``, which has the same rules in one statement).

    1. Lock the conversation row (the sequence is per conversation).
    2. The sender must be allowed to post: an agent of the site assigned to the chat (or
       a supervisor); a shopper (``site_id`` and ``visitor_id`` given) only to their own
       chat. Anything else looks like a missing conversation.
    3. A ``client_message_id`` already used by this sender returns the stored message:
       sending is idempotent, a retry never duplicates.
    4. Refuse closed conversations.
    5. Store the message and the new ``last_seq`` (an agent's first message also sets
       ``first_agent_message_at``, a shopper's ``visitor_last_seen_at``); on commit,
       publish what is not yet published, in seq order (``conversation_messages_publish``).
    """
    with transaction.atomic():
        conversation = (
            for_update(Conversation.objects.select_related("agent"))
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None or not _may_post(
            conversation, sender=sender, agent=agent, site_id=site_id, visitor_id=visitor_id
        ):
            # To a shopper, exactly what a missing id gets (no ``ref``): nothing tells
            # another shopper's chat from none; an agent's refusal names their message.
            ref = client_message_id if conversation and sender == Sender.AGENT else ""
            raise NotFound("conversation", ref=ref)
        conversation_id = conversation.pk
        existing = (
            Message.objects.filter(
                conversation=conversation, sender=sender, client_message_id=client_message_id
            )
            .select_related("agent")
            .first()
        )
        if existing is not None:
            return PostedMessage(existing, author_name(existing, conversation.agent), created=False)
        if conversation.status == ConversationStatus.CLOSED:
            raise ChatError("closed", _("This conversation is closed."), ref=client_message_id)
        conversation.last_seq += 1
        message = Message.objects.create(
            conversation=conversation,
            seq=conversation.last_seq,
            sender=sender,
            agent=agent if sender == Sender.AGENT else None,
            client_message_id=client_message_id,
            text=text,
            created_at=now,
        )
        update_fields = ["last_seq"]
        if sender == Sender.AGENT and conversation.first_agent_message_at is None:
            conversation.first_agent_message_at = now
            update_fields.append("first_agent_message_at")
        if sender == Sender.VISITOR:
            conversation.visitor_last_seen_at = now
            update_fields.append("visitor_last_seen_at")
        conversation.save(update_fields=update_fields)
        name = author_name(message, agent if sender == Sender.AGENT else conversation.agent)
        transaction.on_commit(
            lambda: conversation_messages_publish(conversation_id=conversation_id),
            robust=True,
        )
    return PostedMessage(message, name, created=True)


# The socket's send in one statement (ADR 0017), PostgreSQL: lock the conversation row
# if this sender may post to it and it is not closed (``{auth}``: the socket's cached
# identity, checked here, in the write, so a chat closed or reassigned since is refused),
# insert the message with last_seq + 1 unless this sender already used this client
# message id (then nothing is inserted and no seq is consumed: seqs stay gap-free), and
# move last_seq and the conversation's activity times with it, and published_seq up to
# what this process has published (``hint``, agents/services/published.py). Nothing
# returned: a duplicate or a refusal, told apart by ``conversation_message_post``.
_SEND_SQL = """
WITH conv AS (
    SELECT id, last_seq, published_seq FROM {conversation}
    WHERE id = %(conversation_id)s AND status <> 'closed' AND {auth}
    FOR NO KEY UPDATE
), ins AS (
    INSERT INTO {message} (conversation_id, seq, sender, agent_id, client_message_id, text,
                           kind, meta, created_at)
    SELECT id, last_seq + 1, %(sender)s, %(agent_id)s, %(client_message_id)s, %(text)s,
           'text', '{{}}'::jsonb, %(now)s
    FROM conv
    ON CONFLICT (conversation_id, sender, client_message_id) DO NOTHING
    RETURNING id, seq
), upd AS (
    UPDATE {conversation} AS c
    SET last_seq = ins.seq,
        published_seq = GREATEST(c.published_seq, %(hint)s),
        first_agent_message_at = CASE WHEN %(sender)s = 'agent'
            THEN COALESCE(c.first_agent_message_at, %(now)s) ELSE c.first_agent_message_at END,
        visitor_last_seen_at = CASE WHEN %(sender)s = 'visitor'
            THEN %(now)s ELSE c.visitor_last_seen_at END
    FROM ins
    WHERE c.id = %(conversation_id)s
    RETURNING c.id
)
SELECT ins.id, ins.seq, conv.published_seq FROM ins CROSS JOIN conv CROSS JOIN upd
"""
_SEND_SQL_VISITOR = _SEND_SQL.format(
    conversation=Conversation._meta.db_table,
    message=Message._meta.db_table,
    auth="site_id = %(site_id)s AND visitor_id = %(visitor_id)s",
)
_SEND_SQL_AGENT = _SEND_SQL.format(
    conversation=Conversation._meta.db_table,
    message=Message._meta.db_table,
    auth="site_id = %(site_id)s AND (agent_id = %(agent_id)s OR %(supervisor)s)",
)
_MARK_PUBLISHED = (
    "UPDATE {conversation} SET published_seq = %s WHERE id = %s AND published_seq < %s"
)
_MARK_PUBLISHED_SQL = _MARK_PUBLISHED.format(conversation=Conversation._meta.db_table)


async def conversation_message_send(
    *,
    conversation_id: int,
    sender: Sender,
    client_message_id: str,
    text: str,
    now: datetime,
    site_id: int,
    visitor_id: str | None = None,
    agent: AgentProfile | None = None,
) -> PostedMessage:
    """A message from a socket: a shopper's (``site_id``, ``visitor_id``) or an agent's
    (``agent``). The rules of ``conversation_message_post``; on PostgreSQL in one
    statement on the event loop (``_SEND_SQL``, ADR 0017), then published.

    Publishing keeps ADR 0011's order without a second transaction in the usual case:
    when everything before this message is known to be published (``published_seq`` read
    under the statement's row lock, or what this process published since, is seq - 1),
    this message is published at once; the next send records it (``agents/services/
    published.py``). A message that finds the chat behind cannot know whether an earlier
    publish is under way elsewhere, so it publishes under the row lock, in order,
    everything not yet recorded as published (``conversation_messages_publish``):
    subscribers may get a seq twice in that race, never out of order, and sockets drop
    what they have sent (``ChatConsumer.deliver``). A publish that fails is left to the
    next message of the chat, as in ADR 0011.
    """
    # The ORM path, behind a thread hop: the same rules, and the row lock.
    post_by_orm = partial(
        database_sync_to_async(conversation_message_post),
        conversation_id=conversation_id,
        sender=sender,
        client_message_id=client_message_id,
        text=text,
        now=now,
        agent=agent,
        site_id=site_id,
        visitor_id=visitor_id,
    )
    if sender == Sender.SYSTEM or not async_db.available():
        return await post_by_orm()
    marks = published_marks()
    hint = marks.hint(conversation_id)
    params = {
        "hint": hint,
        "conversation_id": conversation_id,
        "sender": sender.value,
        "client_message_id": client_message_id,
        "text": text,
        "now": now,
        "site_id": site_id,
        "visitor_id": visitor_id,
        "agent_id": agent.pk if agent is not None else None,
        "supervisor": bool(agent and agent.is_supervisor),
    }
    sql = _SEND_SQL_AGENT if sender == Sender.AGENT else _SEND_SQL_VISITOR
    rows = await async_db.fetch(sql, params)
    if not rows:
        # A duplicate (the stored message, idempotent), or a refusal (closed, not this
        # sender's chat): told apart, with the row lock, by the ORM path.
        posted = await post_by_orm()
        if not posted.created:
            # A retry may follow a first attempt that stored the message but stopped
            # before publishing it (a lost connection): publish what is left, in order,
            # after recording what this process has published.
            if hint:
                await _published_record(conversation_id, hint)
                marks.on_recorded(conversation_id, hint)
            await database_sync_to_async(conversation_messages_publish)(
                conversation_id=conversation_id
            )
        return posted
    message_id, seq, published_seq = rows[0]
    marks.on_recorded(conversation_id, hint)
    message = Message(
        pk=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender=sender,
        agent=agent if sender == Sender.AGENT else None,
        client_message_id=client_message_id,
        text=text,
        kind=MessageKind.TEXT,
        meta={},
        created_at=now,
    )
    name = author_name(message, agent)
    await _message_publish(message, name, published=max(published_seq, hint))
    return PostedMessage(message, name, created=True)


async def _message_publish(message: Message, name: str, *, published: int) -> None:
    """Publish ``message`` now if everything before it is published (``published``:
    recorded, or published by this process), else through ADR 0011's ordered publish."""
    conversation_id = message.conversation_id
    if published != message.seq - 1:
        await database_sync_to_async(conversation_messages_publish)(conversation_id=conversation_id)
        return
    try:
        await realtime.apublish(
            realtime.conversation_group(conversation_id),
            realtime.MESSAGE_CREATED,
            {"conversation_id": conversation_id, "message": message_payload(message, name)},
        )
    except realtime.PublishFailed:
        logger.warning(
            "conversation %s: seq %s not published; the next publish of the chat sends it, "
            "and clients resync",
            conversation_id,
            message.seq,
            exc_info=True,
        )
        return
    published_marks().on_published(conversation_id, message.seq, _published_record)


async def _published_record(conversation_id: int, seq: int) -> None:
    await async_db.fetch(_MARK_PUBLISHED_SQL, (seq, conversation_id, seq))


async def conversation_published_flush() -> None:
    """Store now how far this process has published each chat (``published_seq``), which
    it otherwise does with the chat's next message or a moment later (tests)."""
    await published_marks().flush(_published_record)


def invitation_message_post(*, conversation: Conversation, invitation: Invitation) -> Message:
    """The invitation the shopper accepted, stored as the conversation's first message.

    Runs inside the transaction that opens ``conversation`` (which has no messages yet):
    seq 1, from the invitation's agent (from CartAssist, ``system``, when it named
    nobody), ``kind`` "invitation", the headline and body as its text and, in ``meta``,
    what the widget and the console show of it: headline, body, verification code and
    the verification page. Sent at the invitation's time; it is not an agent's reply
    (``first_agent_message_at`` stays unset). Published on commit like any message.
    The client message id holds a character clients may not send (``frames.CLIENT_ID``),
    so no message of theirs can ever be taken for it.
    """
    conversation.last_seq += 1
    message = Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=Sender.AGENT if invitation.agent_id else Sender.SYSTEM,
        agent=invitation.agent,
        client_message_id=f"@invitation-{invitation.pk}",
        kind=MessageKind.INVITATION,
        text=f"{invitation.headline}\n\n{invitation.body}"
        if invitation.body
        else invitation.headline,
        meta={
            "headline": invitation.headline,
            "body": invitation.body,
            "verification_code": invitation.verification_code,
            "verify_url": reverse("verify-page", args=[invitation.verification_code]),
        },
        created_at=invitation.sent_at,
    )
    conversation.save(update_fields=["last_seq"])
    conversation_id = conversation.pk
    transaction.on_commit(
        lambda: conversation_messages_publish(conversation_id=conversation_id), robust=True
    )
    return message


def conversation_messages_publish(*, conversation_id: int) -> int:
    """Publish the conversation's stored messages that are not yet published, in seq
    order; return how many were published (ADR 0011).

    Publishing after commit from several threads and processes does not keep seq order
    by itself: the process that committed seq 5 may publish after the one that committed
    seq 6. So publishing goes through the database:

    1. Lock the conversation row (the lock posting takes): publishers of one chat take
       turns, and each sees every message committed before it got the lock.
    2. Publish every message after ``published_seq``, in order; the publisher that comes
       second finds nothing left (or only newer messages).
    3. Stop at the first publish that fails (after the retries in ``realtime.publish``)
       and store how far it got: the next publish of the chat sends the rest, in order,
       and subscribers that lost their connection meanwhile resync their sockets.
    """
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .only("pk", "last_seq", "published_seq")
            .get(pk=conversation_id)
        )
        if conversation.published_seq >= conversation.last_seq:
            return 0
        published = conversation.published_seq
        group = realtime.conversation_group(conversation_id)
        try:
            for payload in conversation_messages_since(
                conversation_id=conversation_id, after_seq=published
            ):
                realtime.publish(
                    group,
                    realtime.MESSAGE_CREATED,
                    {"conversation_id": conversation_id, "message": payload},
                )
                published = payload["seq"]
        except realtime.PublishFailed:
            logger.warning(
                "conversation %s: messages after seq %s not published; the next publish "
                "of the chat sends them, and clients resync",
                conversation_id,
                published,
                exc_info=True,
            )
        count = published - conversation.published_seq
        if count:
            Conversation.objects.filter(pk=conversation_id).update(published_seq=published)
    return count


def system_message_post(*, conversation: Conversation, text: str, key: str, now: datetime) -> None:
    """A message from CartAssist itself (transfers, re-queues), persisted like any other."""
    conversation_message_post(
        conversation_id=conversation.pk,
        sender=Sender.SYSTEM,
        client_message_id=f"system-{key}"[:64],
        text=text,
        now=now,
    )


def conversation_messages_since(*, conversation_id: int, after_seq: int) -> list[dict]:
    """Every message with ``seq > after_seq``, in order, as payloads: what a client that
    saw ``after_seq`` last has missed."""
    messages = list(
        Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
        .select_related("agent")
        .order_by("seq")
    )
    return [message_payload(m, author_name(m, m.agent)) for m in messages]


def conversation_read(*, conversation: Conversation, reader: Sender, seq: int) -> int:
    """Record that ``reader`` has read up to ``seq`` (never backwards, never past the end)."""
    seq = min(seq, conversation.last_seq)
    field = "visitor_read_seq" if reader == Sender.VISITOR else "agent_read_seq"
    with transaction.atomic():
        updated = Conversation.objects.filter(pk=conversation.pk, **{f"{field}__lt": seq}).update(
            **{field: seq}
        )
        if updated:
            realtime.publish_on_commit(
                realtime.conversation_group(conversation.pk),
                realtime.READ,
                {"conversation_id": conversation.pk, "reader": reader.value, "seq": seq},
            )
    return seq


def conversation_typing(*, conversation: Conversation, sender: Sender) -> None:
    """Typing indicators are ephemeral: published, never stored."""
    realtime.publish_on_commit(
        realtime.conversation_group(conversation.pk),
        realtime.TYPING,
        {"conversation_id": conversation.pk, "sender": sender.value},
    )


def visitor_seen(*, site_id: int, visitor_id: str, now: datetime) -> None:
    """The shopper is still there (socket connected or pinging)."""
    Conversation.objects.filter(
        site_id=site_id,
        visitor_id=visitor_id,
        status__in=[ConversationStatus.QUEUED, ConversationStatus.ACTIVE],
    ).update(visitor_last_seen_at=now)


def open_conversations_for_visitor(*, site_id: int, visitor_id: str) -> list[Conversation]:
    return list(
        Conversation.objects.select_related("agent")
        .filter(
            site_id=site_id,
            visitor_id=visitor_id,
            status__in=[ConversationStatus.QUEUED, ConversationStatus.ACTIVE],
        )
        .order_by("created_at")
    )

"""How far this process has published each chat, ahead of ``Conversation.published_seq``
(ADR 0017, after ADR 0011).

The one-statement send publishes a message at once when everything before it is known to
be published: ``published_seq`` in the database, or a higher seq this process published
itself and has not recorded yet (its ``hint``). Recording that seq costs no statement of
its own in a busy chat: the next send from this process passes it as ``hint`` and its
statement moves ``published_seq`` on with the message (``GREATEST``). Only a chat whose
next message does not come from this process within ``RECORD_DELAY`` seconds gets a
separate ``UPDATE`` (so that a send from another process finds it recorded; if it comes
sooner, it publishes under the row lock instead, ADR 0011: in order, maybe once more).

One state per event loop (a realtime process has one; tests have one per test).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable

# Seconds after a publish before it is recorded by a statement of its own, unless a later
# send from this process has recorded it by then.
RECORD_DELAY = 1.0


class PublishedMarks:
    def __init__(self) -> None:
        self.published: dict[int, int] = {}  # conversation → highest seq published here
        self.recorded: dict[int, int] = {}  # conversation → highest seq known recorded
        self.pending: set[asyncio.Task[None]] = set()

    def hint(self, conversation_id: int) -> int:
        return self.published.get(conversation_id, 0)

    def on_recorded(self, conversation_id: int, seq: int) -> None:
        """A statement has stored ``published_seq >= seq``."""
        if seq > self.recorded.get(conversation_id, 0):
            self.recorded[conversation_id] = seq
        self._forget_if_done(conversation_id)

    def on_published(
        self, conversation_id: int, seq: int, record: Callable[[int, int], Awaitable[None]]
    ) -> None:
        """This process published ``seq``; ``record(conversation_id, seq)`` stores it
        unless a later send does so within ``RECORD_DELAY``."""
        if seq > self.published.get(conversation_id, 0):
            self.published[conversation_id] = seq
        loop = asyncio.get_running_loop()
        loop.call_later(RECORD_DELAY, self._record_later, conversation_id, seq, record)

    def _record_later(
        self, conversation_id: int, seq: int, record: Callable[[int, int], Awaitable[None]]
    ) -> None:
        if self.recorded.get(conversation_id, 0) >= seq:
            self._forget_if_done(conversation_id)
            return
        task = asyncio.get_running_loop().create_task(self._record(conversation_id, seq, record))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _record(
        self, conversation_id: int, seq: int, record: Callable[[int, int], Awaitable[None]]
    ) -> None:
        await record(conversation_id, seq)
        self.on_recorded(conversation_id, seq)

    def _forget_if_done(self, conversation_id: int) -> None:
        if self.recorded.get(conversation_id, 0) >= self.published.get(conversation_id, 0):
            self.published.pop(conversation_id, None)
            self.recorded.pop(conversation_id, None)

    async def flush(self, record: Callable[[int, int], Awaitable[None]]) -> None:
        """Record now everything published here and not yet recorded (tests; shutdown)."""
        for conversation_id, seq in list(self.published.items()):
            if self.recorded.get(conversation_id, 0) < seq:
                await self._record(conversation_id, seq, record)
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)


_marks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PublishedMarks] = (
    weakref.WeakKeyDictionary()
)


def published_marks() -> PublishedMarks:
    """The running loop's state."""
    loop = asyncio.get_running_loop()
    marks = _marks.get(loop)
    if marks is None:
        marks = _marks[loop] = PublishedMarks()
    return marks

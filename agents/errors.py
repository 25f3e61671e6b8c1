from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

# "No such …" for what a client may name (another visitor's or agent's looks the same).
NOT_FOUND = {
    "agent": _("No such agent."),
    "cart": _("No such cart."),
    "conversation": _("No such conversation."),
    "invitation": _("No such invitation."),
    "offer": _("No such offer."),
}


class ChatError(Exception):
    """A refusal to report to the client as an ``error`` frame; the socket stays open.

    Codes: invalid_frame, too_long, not_found, closed, rate_limited, invalid_state,
    forbidden (docs/REALTIME.md).

    ``message`` may be lazy (``gettext_lazy``, ``format_lazy``): the error frame says it
    in the socket's language (``ChatConsumer.language``); clients key on ``code``.
    """

    def __init__(
        self, code: str, message: str | Promise, *, field: str = "", ref: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.text = message
        self.field = field
        self.ref = ref

    @property
    def message(self) -> str:
        """The message in the active language."""
        return str(self.text)

    def as_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field:
            frame["field"] = self.field
        if self.ref:
            frame["ref"] = self.ref
        return frame


class NotFound(ChatError):
    """``what`` does not exist, or the caller may not see it (the two look alike)."""

    def __init__(self, what: str, *, ref: str = "", message: str | Promise = "") -> None:
        default = NOT_FOUND.get(what) or format_lazy(_("No such {what}."), what=what)
        super().__init__("not_found", message or default, ref=ref)

from __future__ import annotations

from typing import Any


class ChatError(Exception):
    """A refusal to report to the client as an ``error`` frame; the socket stays open.

    Codes: invalid_frame, too_long, not_found, closed, rate_limited, invalid_state,
    forbidden (docs/REALTIME.md).
    """

    def __init__(self, code: str, message: str, *, field: str = "", ref: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.ref = ref

    def as_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field:
            frame["field"] = self.field
        if self.ref:
            frame["ref"] = self.ref
        return frame


class NotFound(ChatError):
    """``what`` does not exist, or the caller may not see it (the two look alike)."""

    def __init__(self, what: str, *, ref: str = "", message: str = "") -> None:
        super().__init__("not_found", message or f"No such {what}.", ref=ref)

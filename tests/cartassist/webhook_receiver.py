"""For webhook tests: a real HTTP receiver, and the verification recipe of the docs.

The receiver is http.server on 127.0.0.1, on an ephemeral port. It records every request
(headers and raw body) and can be told to answer the next N requests with an error, or be
stopped (then the port refuses connections) and started again on the same port.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"


@dataclass(frozen=True)
class Received:
    path: str
    headers: Message
    body: bytes
    answered: int


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/cartassist"

    def fail_next(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def _answer(self) -> int:
        with self._lock:
            return self._failures.pop(0) if self._failures else 200

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._answer()
                with receiver._lock:
                    receiver.requests.append(Received(self.path, self.headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the port: connections are refused until ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def delivery_ids(self) -> list[str]:
        return [r.headers["CartAssist-Delivery"] for r in self.requests]


def documented_verifier() -> Callable[..., bool]:
    """The Python verification recipe, taken verbatim from docs/WEBHOOKS.md: the test
    checks the signature with what shops copy, not with the service's code."""
    text = DOC.read_text()
    section = text[text.index("## Verifying a delivery") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "docs/WEBHOOKS.md has no Python verification recipe"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_cartassist_webhook"]

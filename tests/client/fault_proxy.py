"""A tiny stdlib HTTP proxy in front of the real CartAssist (``live_server``) that can
inject faults: it only ever breaks or relays requests, every success comes from the real
API. Each request is recorded with its headers, so a test can see that a retry carried a
new signature.

Scripted answers, one per incoming request (then everything is relayed):

- ``("fail", status, headers)``: answer ``status`` with ``{"detail": …}``, relay nothing;
- ``("lose", status, headers)``: relay to CartAssist (it stores), then answer ``status``
  instead of its answer, as if the answer had been lost on the way back.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RELAYED_HEADERS = (
    "Content-Type",
    "X-CartAssist-Key",
    "X-CartAssist-Timestamp",
    "X-CartAssist-Signature",
    "Idempotency-Key",
)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    upstream_status: int | None  # None: not relayed
    answered: int

    @property
    def signature(self) -> str:
        return self.headers.get("X-CartAssist-Signature", "")


@dataclass
class FaultProxy:
    upstream: str
    script: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def then(self, action: str, status: int, **headers: str) -> FaultProxy:
        self.script.append((action, status, {k.replace("_", "-"): v for k, v in headers.items()}))
        return self

    def _next(self) -> tuple[str, int, dict[str, str]] | None:
        with self._lock:
            return self.script.pop(0) if self.script else None

    def _relay(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        request = urllib.request.Request(
            self.upstream + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length) if length else b""
        headers = {
            name: handler.headers[name] for name in RELAYED_HEADERS if name in handler.headers
        }
        step = self._next()
        upstream_status = None
        if step is None or step[0] == "lose":
            upstream_status, answer_headers, answer = self._relay(
                method, handler.path, headers, body if method != "GET" else None
            )
        if step is None:
            status = upstream_status or 502
            extra = {k: v for k, v in answer_headers.items() if k.lower() == "retry-after"}
        else:
            status, extra = step[1], step[2]
            answer = json.dumps({"detail": f"injected {status}"}).encode()
        with self._lock:
            self.seen.append(Seen(method, handler.path, headers, body, upstream_status, status))
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(answer)))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(answer)

    def run(self) -> Iterator[FaultProxy]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                proxy.handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                proxy.handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)

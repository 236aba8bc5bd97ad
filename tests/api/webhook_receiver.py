"""A CRM's webhook endpoint for tests: a real HTTP server on 127.0.0.1 (an ephemeral port) in a
thread, recording every request to its own path and answering from a script of status codes.

The path is random per receiver: a port the system hands out again to a later test cannot bring
it another test's deliveries (those answer 404 and are not recorded)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at_monotonic: float


@dataclass
class Receiver:
    """Answers `script`'s codes in turn, then `then`; `received` holds every request."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    then: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    path: str = field(default_factory=lambda: f"/hooks/{secrets.token_hex(8)}")

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def answer_next(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else self.then

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """The requests once there are `count` of them (fails after timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"the receiver got {len(self.received)} request(s), not {count}")

    def reset(self, *, script: list[int] | None = None, then: int = 200) -> None:
        with self.lock:
            self.received.clear()
            self.script = list(script or [])
            self.then = then


def _handler(receiver_box: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            receiver = receiver_box[0]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path != receiver.path:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
            code = receiver.answer_next()
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return  # keep the test output clean

    return Handler


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    """A receiver serving in a thread until the block ends."""
    box: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    box.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running

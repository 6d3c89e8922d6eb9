"""A webhook receiver on loopback, as a user's would be: it records every delivery and answers
with the status codes a test scripts for each path (the last one repeats)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import WEBHOOK_RECEIVER_PORT


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    def __init__(self, port: int) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._answers: dict[str, list[int]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        with self._lock:
            self._answers[path] = list(statuses)

    def deliveries(self, path: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if d.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 30) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.deliveries(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{path} got {len(self.deliveries(path))} deliveries, not {count}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _status_for(self, path: str) -> int:
        with self._lock:
            statuses = self._answers.get(path, [200])
            return statuses.pop(0) if len(statuses) > 1 else statuses[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver._deliveries.append(
                        Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                status = receiver._status_for(self.path)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver(WEBHOOK_RECEIVER_PORT)  # a port the stack's allowlist names
    yield server
    server.close()

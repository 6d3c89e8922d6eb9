"""Slow clients cost the API a buffer, not a thread (issue 12, item 3).

Hundreds of connections that send half their headers or a body shorter than their
Content-Length, held open against the real gunicorn, must leave /healthz and a real
synchronous generation answering at once; a stalled request is answered 408 and closed
after the documented deadline (app.server.ReadLimits, README "Slow clients").
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests

from app.server import ReadLimits
from tests.conftest import Stack
from tests.integration.conftest import Api

SLOW_CLIENTS = 200  # more than the stack's 32 threads, as many as a script opens at once
PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: "
PARTIAL_BODY = (
    b"POST /v1/images/generations HTTP/1.1\r\nHost: slow\r\n"
    b"Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
    b'{"prompt": "never finis'
)


def _connect(stack: Stack, first_bytes: bytes) -> socket.socket:
    address = urlsplit(stack.base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=5)
    sock.sendall(first_bytes)
    return sock


@contextmanager
def slow_clients(stack: Stack, count: int) -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        for index in range(count):
            socks.append(_connect(stack, PARTIAL_HEADERS if index % 2 else PARTIAL_BODY))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _still_waiting(sock: socket.socket) -> bool:
    """The server has neither answered nor closed the connection."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def _timed(call: object) -> tuple[float, requests.Response]:
    started = time.monotonic()
    response = call()  # type: ignore[operator]
    return time.monotonic() - started, response


def test_slow_clients_leave_health_and_generation_answering(stack: Stack, api: Api) -> None:
    body = {"prompt": "a lighthouse at dusk", "model": "amazon.titan-image-generator-v2:0"}
    # Warm up (first model call, connection pools), so the timings below measure only the
    # effect of the slow clients.
    assert api.generate(body).status_code == 200

    with slow_clients(stack, SLOW_CLIENTS) as socks:
        time.sleep(0.5)  # let the server take in every connection's first bytes
        for _ in range(3):
            elapsed, health = _timed(lambda: requests.get(f"{stack.base_url}/healthz", timeout=5))
            assert health.status_code == 200
            assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s"
        elapsed, generated = _timed(lambda: api.generate(body, timeout=5))
        assert generated.status_code == 200, generated.text
        assert generated.json()["status"] == "completed", generated.text
        assert elapsed < 1.0, f"the synchronous generation took {elapsed:.2f} s"
        # The slow clients were really holding their connections meanwhile.
        assert all(_still_waiting(sock) for sock in socks)


def _read_answer(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def test_a_stalled_request_is_answered_408_after_its_deadline(stack: Stack) -> None:
    limits = ReadLimits()
    started = time.monotonic()
    partial_body = _connect(stack, PARTIAL_BODY)
    partial_headers = _connect(stack, PARTIAL_HEADERS)
    try:
        body_answer = _read_answer(partial_body, limits.body_idle_seconds + 3)
        body_after = time.monotonic() - started
        headers_answer = _read_answer(partial_headers, limits.header_seconds + 3)
        headers_after = time.monotonic() - started
    finally:
        partial_body.close()
        partial_headers.close()

    # The event loop checks deadlines at least once a second.
    assert limits.body_idle_seconds - 0.5 <= body_after <= limits.body_idle_seconds + 1.5
    assert limits.header_seconds - 0.5 <= headers_after <= limits.header_seconds + 1.5
    for answer in (body_answer, headers_answer):
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert b"Content-Type: application/json" in head
        error = json.loads(payload)
        assert error["status"] == 408
        assert error["error"]["code"] == "IMG302"

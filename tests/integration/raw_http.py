"""Talking to the API over a bare socket, for requests a client library will not send
(chunked bodies it never finishes, a Content-Length it never delivers)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from tests.conftest import Stack


def connect(stack: Stack, timeout: float) -> socket.socket:
    address = urlsplit(stack.base_url)
    return socket.create_connection((address.hostname, address.port), timeout=timeout)


def read_head(conn: socket.socket) -> bytes:
    """What the server sent up to the end of its answer's header section (or its close)."""
    received = b""
    while b"\r\n\r\n" not in received:
        data = conn.recv(65536)
        if not data:
            break
        received += data
    return received

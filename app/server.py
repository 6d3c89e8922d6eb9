"""The gunicorn worker the API runs under: gthread, made to read each request whole before
a thread serves it.

gunicorn's gthread worker hands a connection to one of its threads as soon as the first
byte arrives and the thread then blocks reading the rest: a client that sends half its
headers, or a Content-Length it never delivers, holds that thread for as long as it likes,
and a few dozen of them stop /healthz. Here the worker's event loop reads the request line,
the headers and the body (Content-Length or chunked) without blocking, the way a buffering
proxy would, and a thread is given only a request that is all there. Reading has deadlines
(ReadLimits): a request that misses one is answered 408 and closed.

Threads stay the unit of concurrency because the work behind a request is blocking by
design: a synchronous generation waits on a Redis BLPOP for up to a minute, boto3 and
SQLite block, Pillow decodes with the GIL released.

The worker also answers the HTTP errors gunicorn raises itself (malformed request 400,
URI too long 414, header fields too large 431, ...) in the API's JSON error envelope
instead of gunicorn's HTML page.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

from app.errors import code_for_status, envelope
from imagegen.config import Settings
from imagegen.errors import ServiceError

_RECV_BYTES = 64 * 1024
# A connection holding less than this is never paused for the buffer budget: small
# requests (health checks, JSON bodies) keep flowing while large uploads wait their turn.
_ALWAYS_READ_BYTES = 64 * 1024
# How long a closed-for-writing connection is drained, so the client reads the answer
# before the kernel would reset the connection over unread request bytes (RFC 9112 9.6).
_LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class ReadLimits:
    """How long and how much the event loop reads for one request before a thread gets it."""

    # From the connection opening (or the first byte after keep-alive) to the last header.
    header_seconds: float = 10.0
    # Most time between two pieces of a body, and for the whole body.
    body_idle_seconds: float = 10.0
    body_seconds: float = 120.0
    # A body larger than this is handed to the app unread, which refuses it (413) from
    # its Content-Length; the API's largest accepted body, image requests, sets it.
    body_bytes: int = 32 * 1024 * 1024
    # Bytes all connections of one worker process may hold in buffers; past it, large
    # requests are read only as others finish.
    buffer_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        body = max(settings.max_request_bytes, settings.max_image_request_bytes)
        return cls(body_bytes=body, buffer_bytes=max(cls.buffer_bytes, 2 * body))


class RequestBuffer:
    """The bytes of one HTTP/1.1 request as they arrive, and whether they are all there.

    Framing only (RFC 9112 section 6): where the header section ends, then Content-Length
    or chunked coding. Anything it cannot frame (an unknown or contradictory framing,
    a header section over gunicorn's limits) is handed on as it is, and gunicorn's parser
    answers it, from these bytes alone.
    """

    def __init__(self, data: bytes, line_limit: int, header_limit: int, body_limit: int):
        self.data = bytearray(data)
        self._line_limit = line_limit
        self._header_limit = header_limit
        self._body_limit = body_limit
        self.header_end = -1  # index just past the blank line
        self.expects_continue = False
        self.oversized = False
        self._content_length: int | None = None
        self._chunked = False
        self._chunk_pos = 0  # where the next chunk-size line starts
        self._done = False

    def feed(self, chunk: bytes) -> None:
        self.data += chunk

    @property
    def headers_complete(self) -> bool:
        return self.header_end >= 0

    def ready(self) -> bool:
        """True when a thread can serve the request without reading the socket."""
        if self._done:
            return True
        # Framing the headers may settle it at once (a refused or oversized request).
        if self.header_end < 0 and (not self._find_header_end() or self._done):
            return self._done
        if self._chunked:
            self._done = self._chunks_complete()
        elif self._content_length is not None:
            self._done = len(self.data) - self.header_end >= self._content_length
        else:
            self._done = True
        return self._done

    def _find_header_end(self) -> bool:
        # One empty line may precede the request line (RFC 9112 section 2.2).
        start = 2 if self.data.startswith(b"\r\n") else 0
        line_end = self.data.find(b"\r\n", start)
        if (line_end < 0 and len(self.data) > start + self._line_limit + 2) or (
            line_end - start > self._line_limit
        ):
            self._done = True  # gunicorn answers 414
            return False
        end = self.data.find(b"\r\n\r\n", start)
        if end < 0:
            if len(self.data) > self._header_limit:
                self._done = True  # gunicorn answers 431
            return False
        self.header_end = end + 4
        self._frame(bytes(self.data[line_end + 2 : end]).split(b"\r\n"), self.data[:line_end])
        return True

    def _frame(self, lines: list[bytes], request_line: bytearray) -> None:
        lengths: list[bytes] = []
        codings: list[bytes] = []
        expect = b""
        for line in lines:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                codings += [c.strip().lower() for c in value.split(b",")]
            elif name == b"expect":
                expect = value.strip().lower()
        if codings:
            if lengths or codings[-1] != b"chunked":
                self._done = True  # gunicorn refuses the framing (400 or 501)
                return
            self._chunked = True
            self._chunk_pos = self.header_end
        elif lengths:
            if len(set(lengths)) != 1 or not lengths[0].isdigit() or not lengths[0].isascii():
                self._done = True  # gunicorn answers 400
                return
            self._content_length = int(lengths[0])
            if self._content_length > self._body_limit:
                self.oversized = True
                self._done = True
                return
        body_follows = self._chunked or bool(self._content_length)
        # HTTP/1.0 clients never wait for 100 Continue (RFC 9110 section 10.1.1).
        self.expects_continue = (
            body_follows and expect == b"100-continue" and request_line.endswith(b"HTTP/1.1")
        )

    def _chunks_complete(self) -> bool:
        data = self.data
        while True:
            line_end = data.find(b"\r\n", self._chunk_pos)
            if line_end < 0:
                return False
            size_text = bytes(data[self._chunk_pos : line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return True  # gunicorn answers 400
            if size == 0:
                # The trailer section ends with an empty line, at once when there is none.
                rest = line_end + 2
                return data.startswith(b"\r\n", rest) or data.find(b"\r\n\r\n", rest) >= 0
            next_pos = line_end + 2 + size + 2
            if next_pos - self.header_end > self._body_limit:
                self.oversized = True  # the app reads on from the socket and refuses it
                return True
            if len(data) < next_pos:
                return False
            self._chunk_pos = next_pos


@dataclass(eq=False)
class _Reading:
    conn: Any
    buffer: RequestBuffer
    deadline: float
    body_started: float = 0.0
    paused: bool = False


class BufferingWorker(ThreadWorker):
    """gthread with each request read whole on the event loop (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = ReadLimits.from_settings(Settings.from_env())
        # gunicorn's own limits (0: its defaults), so that anything larger is surely refused.
        cfg = self.cfg
        self._line_limit = cfg.limit_request_line if cfg.limit_request_line > 0 else 1024 * 1024
        fields = cfg.limit_request_fields if cfg.limit_request_fields > 0 else 32768
        field_size = cfg.limit_request_field_size if cfg.limit_request_field_size > 0 else 8190
        self._header_limit = self._line_limit + 2 + fields * (field_size + 2) + 4
        self._reading: dict[Any, _Reading] = {}
        self._paused: deque[_Reading] = deque()
        self._lingering: dict[socket.socket, float] = {}
        self._buffered = 0  # bytes held for requests being read or served

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        super().check_config(cfg, log)
        # The event loop reads plain HTTP/1.1; TLS ends at the load balancer.
        if cfg.is_ssl or "h2" in cfg.http_protocols:
            raise RuntimeError("BufferingWorker serves plain HTTP/1.1 only: no TLS, no HTTP/2")

    # Every way a connection reaches a thread (new, kept alive, pipelined) comes here.
    def enqueue_req(self, conn: Any) -> None:
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        buffer = RequestBuffer(
            leftover, self._line_limit, self._header_limit, self.limits.body_bytes
        )
        reading = _Reading(conn, buffer, time.monotonic() + self.limits.header_seconds)
        self._buffered += len(leftover)
        if self._advance(reading):
            return
        conn.sock.setblocking(False)
        self._reading[conn] = reading
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, reading))

    def _on_readable(self, reading: _Reading, _sock: Any) -> None:
        try:
            chunk = reading.conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before finishing its request
            self._drop(reading)
            return
        had_headers = reading.buffer.headers_complete
        reading.buffer.feed(chunk)
        self._buffered += len(chunk)
        if self._advance(reading):
            return
        if had_headers:  # the body moved on
            reading.deadline = min(
                time.monotonic() + self.limits.body_idle_seconds,
                reading.body_started + self.limits.body_seconds,
            )
        if (
            self._buffered >= self.limits.buffer_bytes
            and len(reading.buffer.data) >= _ALWAYS_READ_BYTES
        ):
            self.poller.unregister(reading.conn.sock)
            reading.paused = True
            self._paused.append(reading)

    def _advance(self, reading: _Reading) -> bool:
        """Hand the request to a thread if it is all there; True when it was."""
        buffer = reading.buffer
        had_headers = buffer.headers_complete
        if buffer.ready():
            self._hand_off(reading)
            return True
        if buffer.headers_complete and not had_headers:
            reading.body_started = time.monotonic()
            reading.deadline = reading.body_started + self.limits.body_idle_seconds
            if buffer.expects_continue:
                # The client holds its body back until told to send it.
                self._send_now(reading.conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        return False

    def _hand_off(self, reading: _Reading) -> None:
        conn = reading.conn
        if self._reading.pop(conn, None) is not None and not reading.paused:
            self.poller.unregister(conn.sock)
        conn.imagegen_request = bytes(reading.buffer.data)
        conn.imagegen_held = len(conn.imagegen_request)
        # 100 Continue went out already, or must not: an oversized body is refused unread.
        conn.imagegen_no_continue = reading.buffer.expects_continue or reading.buffer.oversized
        conn.imagegen_oversized = reading.buffer.oversized
        super().enqueue_req(conn)

    def _drop(self, reading: _Reading, answer: bytes = b"") -> None:
        conn = reading.conn
        del self._reading[conn]
        if reading.paused:
            self._paused.remove(reading)
        else:
            self.poller.unregister(conn.sock)
        self._release(len(reading.buffer.data))
        self.nr_conns -= 1
        if answer:
            self._send_now(conn.sock, answer)
            self._linger(conn.sock)
        else:
            conn.close()

    def _release(self, size: int) -> None:
        self._buffered -= size
        while self._paused and self._buffered < self.limits.buffer_bytes:
            reading = self._paused.popleft()
            reading.paused = False
            self.poller.register(
                reading.conn.sock, selectors.EVENT_READ, partial(self._on_readable, reading)
            )

    # Runs on the event loop after every wake-up, at least once a second.
    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for reading in [r for r in self._reading.values() if r.deadline <= now]:
            if not reading.buffer.data:  # an idle connection, not a request: just close it
                self._drop(reading)
                continue
            self.log.info("Request not received in time from %s", reading.conn.client)
            self._drop(
                reading, error_answer(408, "Request Timeout", "request not received in time")
            )
        for sock in [s for s, until in self._lingering.items() if until <= now]:
            self._close_lingering(sock)

    def handle(self, conn: Any) -> Any:
        """Runs in a thread: serve the request from the bytes the event loop read."""
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(conn.imagegen_request)
        conn.imagegen_request = b""
        conn.data_ready = True
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        # Whatever the app still reads or writes (an oversized body, a slow reader of the
        # answer) may not hold this thread forever.
        conn.sock.settimeout(self.limits.body_idle_seconds)
        if conn.imagegen_no_continue:
            req._expected_100_continue = False
        return super().handle_request(req, conn)

    def _keepalive_after(self, conn: Any, keepalive: bool) -> Any:
        # An oversized body is not drained: the connection closes after the 413.
        if conn.imagegen_oversized:
            return False
        return super()._keepalive_after(conn, keepalive)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self._release(conn.imagegen_held)
        conn.imagegen_held = 0
        if not fs.cancelled() and fs.exception() is None and fs.result() is False:
            # gthread would close gracefully on this thread, the event loop, blocking it
            # for up to 2 s per connection; lingering is done by the poller instead.
            self.nr_conns -= 1
            self._linger(conn.sock)
            return
        super().finish_request(conn, fs)

    def _linger(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        self._lingering[sock] = time.monotonic() + _LINGER_SECONDS
        self.poller.register(sock, selectors.EVENT_READ, self._on_lingering_readable)

    def _on_lingering_readable(self, sock: socket.socket) -> None:
        try:
            if sock.recv(_RECV_BYTES):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._close_lingering(sock)

    def _close_lingering(self, sock: socket.socket) -> None:
        del self._lingering[sock]
        self.poller.unregister(sock)
        sock.close()

    @staticmethod
    def _send_now(sock: socket.socket, data: bytes) -> None:
        # A few hundred bytes on a fresh socket fit its send buffer; a client whose buffer
        # is full is not waited for.
        with contextlib.suppress(OSError):
            sock.send(data)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's own error answers, in the error envelope rather than an HTML page."""
        status, reason = _error_status(exc)
        ip = (addr or ("",))[0]
        if status < 500:
            self.log.warning("Invalid request from ip=%s: %s", ip, exc)
            message = f"{reason.lower()}: {exc}"
        else:
            self.log.exception("Error handling request %s", getattr(req, "uri", ""))
            message = "internal error"
        try:
            client.setblocking(False)
            client.send(error_answer(status, reason, message))
        except OSError:
            self.log.debug("Failed to send error message.")


def _error_status(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, http_errors.LimitRequestLine):
        return 414, "URI Too Long"
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return 431, "Request Header Fields Too Large"
    if isinstance(exc, http_errors.ExpectationFailed):
        return 417, "Expectation Failed"
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        return 501, "Not Implemented"
    if isinstance(exc, http_errors.ParseException) and not isinstance(
        exc, (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName)
    ):
        return 400, "Bad Request"
    return 500, "Internal Server Error"


def error_answer(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response carrying the error envelope, closing the connection."""
    request_id = "req_" + uuid.uuid4().hex
    body = json.dumps(
        envelope(ServiceError(code_for_status(status), message), status, request_id)
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    )
    return head.encode("latin-1") + body

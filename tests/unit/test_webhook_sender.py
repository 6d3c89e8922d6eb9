"""One delivery attempt against real loopback HTTP servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from imagegen.webhooks import sender, signing
from imagegen.webhooks.destinations import DestinationPolicy, UnsafeDestination, check_destination
from imagegen.webhooks.sender import DeliveryResult, connection_order, deliver, retry_delay
from tests.conftest import free_port

SECRET = signing.tenant_secret("master-secret-for-tests", "tenant_a")
BODY = signing.encode_event(SECRET, {"event": "job.completed", "job_id": "job_123"})


def loopback(port: int) -> DestinationPolicy:
    """A policy that lets deliveries reach this loopback port (and no other)."""
    return DestinationPolicy(False, frozenset({("127.0.0.1", port), ("::1", port)}))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    host: str = "127.0.0.1"

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                Webhook(SECRET).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            receiver.requests.append(Received(self.path, headers, body, verified))
            if self.path == "/slow":
                time.sleep(2.0)
            if self.path == "/endless":
                self._stream_for(seconds=5.0)
                return
            if self.path == "/redirect":
                self._answer(302, {"location": receiver.url("/landing")})
            elif self.path == "/fail":
                self._answer(500)
            else:
                self._answer(200 if verified else 401)

        def _answer(self, status: int, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def _stream_for(self, seconds: float) -> None:
            self.send_response(200)
            self.send_header("content-length", str(1 << 30))
            self.end_headers()
            deadline = time.monotonic() + seconds
            try:
                while time.monotonic() < deadline:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass  # the client stopped reading, as it should

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _serve(host: str, port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(port=port, host=host)

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = Server((host, port), _handler(receiver))
    receiver.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def receiver_v6() -> Iterator[Receiver]:
    yield from _serve("::1")


@pytest.fixture
def receiver_v6_same_port(receiver: Receiver) -> Iterator[Receiver]:
    """A second receiver on [::1] at the IPv4 receiver's port: one name, two live addresses."""
    yield from _serve("::1", receiver.port)


def test_a_2xx_answer_is_a_delivery_the_receiver_can_verify(receiver):
    result = deliver(
        receiver.url("/hooks?token=t1"), "msg_1", BODY, SECRET, loopback(receiver.port)
    )
    assert result.delivered
    assert (result.status_code, result.error, result.address) == (200, None, "127.0.0.1")
    assert result.duration_ms > 0
    [request] = receiver.requests
    assert request.verified
    assert request.path == "/hooks?token=t1"
    assert request.body == BODY
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "imagegen-webhooks/1"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_a_receiver_with_another_secret_does_not_accept_it(receiver):
    other = signing.tenant_secret("master-secret-for-tests", "tenant_b")
    result = deliver(receiver.url("/hooks"), "msg_1", BODY, other, loopback(receiver.port))
    assert (result.status_code, result.delivered) == (401, False)
    assert not receiver.requests[0].verified


def test_a_500_is_not_a_delivery(receiver):
    result = deliver(receiver.url("/fail"), "msg_1", BODY, SECRET, loopback(receiver.port))
    assert (result.status_code, result.error, result.delivered) == (500, None, False)


def test_a_redirect_is_recorded_and_not_followed(receiver):
    result = deliver(receiver.url("/redirect"), "msg_1", BODY, SECRET, loopback(receiver.port))
    assert (result.status_code, result.delivered) == (302, False)
    assert receiver.paths() == ["/redirect"]


def test_only_the_start_of_a_response_body_is_read(receiver):
    result = deliver(receiver.url("/endless"), "msg_1", BODY, SECRET, loopback(receiver.port))
    assert result.status_code == 200
    assert result.duration_ms < 2000


def test_error_descriptions_leave_out_the_query_string():
    destination = check_destination(
        "http://127.0.0.1:8000/hooks?token=s3cr3t", loopback(8000), resolve=no_dns
    )
    error = OSError("failed POST /hooks?token=s3cr3t")
    assert sender._describe(error, destination) == "OSError: failed POST /hooks?..."


def test_a_receiver_slower_than_the_timeout_is_an_error_not_an_exception(receiver):
    started = time.monotonic()
    result = deliver(
        receiver.url("/slow"), "msg_1", BODY, SECRET, loopback(receiver.port), timeout_seconds=0.5
    )
    assert time.monotonic() - started < 1.8
    assert result.status_code is None
    assert not result.delivered
    assert result.error is not None and "timed out" in result.error
    assert result.error.startswith("ReadTimeoutError: ")
    assert result.address == "127.0.0.1"


def test_connection_refused_is_an_error_not_an_exception():
    port = free_port()
    result = deliver(
        f"http://127.0.0.1:{port}/hooks?token=s3cr3t", "m", BODY, SECRET, loopback(port)
    )
    assert (result.status_code, result.delivered) == (None, False)
    assert result.error is not None and "refused" in result.error.lower()
    assert "s3cr3t" not in result.error


def test_https_to_a_plain_http_receiver_fails_the_handshake_without_raising(receiver):
    url = f"https://127.0.0.1:{receiver.port}/hooks"
    result = deliver(url, "m", BODY, SECRET, loopback(receiver.port), timeout_seconds=2.0)
    assert result.status_code is None
    assert result.error is not None and "SSL" in result.error
    assert receiver.requests == []


def test_a_refused_destination_is_never_contacted(receiver):
    strict = DestinationPolicy(require_https=False)
    result = deliver(receiver.url("/hooks?token=s3cr3t"), "m", BODY, SECRET, strict)
    assert result == DeliveryResult(None, result.error, result.duration_ms, None)
    assert result.error is not None
    assert result.error.startswith("refused: webhook_url resolves to 127.0.0.1")
    assert "s3cr3t" not in result.error
    assert receiver.requests == []


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should not have been resolved")


class Rebinding:
    """A name that resolves to a public address once, then to loopback."""

    def __init__(self) -> None:
        self.answers = [["93.184.215.14"], ["127.0.0.1"]]

    def __call__(self, host: str, port: int) -> list[str]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_dns_rebinding_after_the_check_is_caught_at_delivery(receiver):
    url = f"http://rebind.example.test:{receiver.port}/hooks"
    policy = DestinationPolicy(require_https=False)
    resolve = Rebinding()
    assert check_destination(url, policy, resolve).addresses == ("93.184.215.14",)
    result = deliver(url, "m", BODY, SECRET, policy, resolve=resolve)
    assert result.error == "refused: webhook_url resolves to 127.0.0.1, a loopback address"
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(receiver):
    def resolve(host: str, port: int) -> list[str]:
        if host != "hooks.example.test":
            raise UnsafeDestination(f"webhook_url host {host} does not resolve")
        return ["127.0.0.1"]

    policy = DestinationPolicy(False, frozenset({("hooks.example.test", receiver.port)}))
    url = f"http://hooks.example.test:{receiver.port}/x"
    result = deliver(url, "m", BODY, SECRET, policy, resolve=resolve)
    assert result.delivered
    assert result.address == "127.0.0.1"
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"


def test_an_ipv6_address_is_connected_to_bare(receiver_v6):
    result = deliver(receiver_v6.url("/v6"), "m", BODY, SECRET, loopback(receiver_v6.port))
    assert (result.status_code, result.address) == (200, "::1")
    assert receiver_v6.requests[0].headers["host"] == f"[::1]:{receiver_v6.port}"


def answering(name: str, *addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        if host != name:
            raise UnsafeDestination(f"webhook_url host {host} does not resolve")
        return list(addresses)

    return resolve


def allowing(name: str, port: int) -> DestinationPolicy:
    return DestinationPolicy(False, frozenset({(name, port)}))


def refuses_connections(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as probe:
        return probe.connect_ex((address, port)) != 0


def test_a_name_whose_first_address_refuses_the_connection_is_delivered_to_the_next(receiver):
    # localhost as many resolvers answer it: ::1 first; the receiver listens on IPv4 only.
    assert refuses_connections("::1", receiver.port)
    resolve = answering("dual.example.test", "::1", "127.0.0.1")
    url = f"http://dual.example.test:{receiver.port}/both"
    policy = allowing("dual.example.test", receiver.port)
    result = deliver(url, "m", BODY, SECRET, policy, resolve=resolve)
    assert (result.status_code, result.error, result.address) == (200, None, "127.0.0.1")
    [request] = receiver.requests
    assert request.verified
    assert request.headers["host"] == f"dual.example.test:{receiver.port}"


def test_when_no_address_takes_the_connection_each_one_tried_is_named():
    port = free_port()
    resolve = answering("dual.example.test", "::1", "127.0.0.1")
    url = f"http://dual.example.test:{port}/hooks?token=s3cr3t"
    result = deliver(url, "m", BODY, SECRET, allowing("dual.example.test", port), resolve=resolve)
    assert (result.status_code, result.address) == (None, "127.0.0.1")
    assert result.error is not None and "s3cr3t" not in result.error
    first, second = result.error.split("; ")
    assert first.startswith("::1: NewConnectionError")
    assert second.startswith("127.0.0.1: NewConnectionError") and "refused" in second.lower()


def test_an_address_that_connected_decides_the_attempt(receiver, receiver_v6_same_port):
    # The first address timed out after the request went out: sending it to the second
    # address too could deliver the event twice.
    resolve = answering("dual.example.test", "127.0.0.1", "::1")
    url = f"http://dual.example.test:{receiver.port}/slow"
    policy = allowing("dual.example.test", receiver.port)
    result = deliver(url, "m", BODY, SECRET, policy, resolve=resolve, timeout_seconds=0.5)
    assert result.error is not None and result.error.startswith("ReadTimeoutError: ")
    assert result.address == "127.0.0.1"
    assert receiver.paths() == ["/slow"]
    assert receiver_v6_same_port.requests == []
    answered = deliver(url.replace("/slow", "/fail"), "m", BODY, SECRET, policy, resolve=resolve)
    assert (answered.status_code, answered.address) == (500, "127.0.0.1")
    assert receiver_v6_same_port.requests == []


def test_at_most_four_addresses_are_tried_in_one_attempt():
    port = free_port()
    addresses = [f"127.0.0.{last}" for last in range(2, 9)]
    resolve = answering("many.example.test", *addresses)
    url = f"http://many.example.test:{port}/"
    result = deliver(url, "m", BODY, SECRET, allowing("many.example.test", port), resolve=resolve)
    assert result.error is not None
    assert [part.split(": ")[0] for part in result.error.split("; ")] == addresses[:4]
    assert result.address == addresses[3]


@pytest.mark.parametrize(
    ("addresses", "order"),
    [
        (("::1",), ["::1"]),
        (("::1", "127.0.0.1"), ["::1", "127.0.0.1"]),
        (("127.0.0.1", "::1"), ["127.0.0.1", "::1"]),
        (("2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1", "192.0.2.2"),
         ["2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"]),
        (("192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"),
         ["192.0.2.1", "2001:db8::1", "192.0.2.2", "192.0.2.3"]),
        (tuple(f"192.0.2.{last}" for last in range(1, 9)),
         ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]),
    ],
)  # fmt: skip
def test_connection_order_alternates_families_from_the_resolvers_first(addresses, order):
    assert connection_order(addresses) == order


def test_each_attempt_has_a_fresh_timestamp_and_the_same_id(receiver):
    now = time.time()
    ticks = iter([now, now + 7])
    for _ in range(2):
        result = deliver(
            receiver.url("/h"),
            "msg_1",
            BODY,
            SECRET,
            loopback(receiver.port),
            clock=lambda: next(ticks),
        )
        assert result.delivered
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "msg_1"
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 7
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert first.verified and second.verified


def test_retry_delay_is_between_half_and_all_of_the_capped_backoff():
    for attempt, backoff in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (9, 30.0)]:
        assert retry_delay(attempt, 2.0, 30.0, rand=lambda: 0.0) == backoff / 2
        assert retry_delay(attempt, 2.0, 30.0, rand=lambda: 1.0) == backoff
        assert backoff / 2 <= retry_delay(attempt, 2.0, 30.0) <= backoff


def test_retry_delay_grows_with_the_attempt_until_the_cap():
    delays = [retry_delay(attempt, 0.5, 60.0, rand=lambda: 0.5) for attempt in range(1, 12)]
    assert delays == sorted(delays)
    assert delays[0] < delays[5] < delays[-1]
    assert max(delays) <= 60.0
    assert retry_delay(10_000, 0.5, 60.0, rand=lambda: 1.0) == 60.0


def test_retry_delay_counts_attempts_from_one():
    with pytest.raises(ValueError):
        retry_delay(0, 1.0, 10.0)

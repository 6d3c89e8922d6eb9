"""One webhook delivery attempt. The URL is checked again at delivery time and the connection
goes to a checked address itself, so a DNS answer that changes after the check (rebinding)
cannot steer the request somewhere internal. A name with several addresses is tried address
by address until one accepts the connection."""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest

import certifi
import urllib3

from imagegen.webhooks import signing
from imagegen.webhooks.destinations import (
    DEFAULT_PORTS,
    Destination,
    DestinationPolicy,
    Resolver,
    UnsafeDestination,
    check_destination,
    system_resolver,
)

USER_AGENT = "imagegen-webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024
# Each address tried may take the whole connect timeout; this bounds an attempt (and the
# dispatcher thread it holds) for a name with dozens of unreachable addresses.
MAX_ADDRESSES_PER_ATTEMPT = 4


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt did. `error` is set only when no HTTP response arrived (refused by the
    guard, or a network failure); otherwise `status_code` says what the receiver answered.
    `address` is the one that answered, or the last one tried."""

    status_code: int | None
    error: str | None
    duration_ms: float
    address: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _host_header(destination: Destination) -> str:
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    if destination.port == DEFAULT_PORTS[destination.scheme]:
        return host
    return f"{host}:{destination.port}"


def _pool(
    destination: Destination, address: str, timeout: urllib3.Timeout
) -> urllib3.HTTPConnectionPool:
    if destination.scheme == "http":
        return urllib3.HTTPConnectionPool(address, destination.port, timeout=timeout, maxsize=1)
    # Connect to the address, but verify the certificate (and send SNI) for the host name.
    return urllib3.HTTPSConnectionPool(
        address,
        destination.port,
        timeout=timeout,
        maxsize=1,
        server_hostname=destination.host,
        assert_hostname=destination.host,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
    )


def _describe(error: Exception, destination: Destination) -> str:
    message = f"{type(error).__name__}: {error}"
    # urllib3 messages can quote the request target; its query may hold the receiver's token.
    query_start = destination.path_and_query.find("?")
    if query_start != -1:
        message = message.replace(destination.path_and_query[query_start:], "?...")
    return message


def connection_order(addresses: tuple[str, ...]) -> list[str]:
    """The addresses to try, at most MAX_ADDRESSES_PER_ATTEMPT: the resolver's order (it puts
    the preferred family first), with the families alternating (RFC 8305, section 4), so a
    worker without an IPv6 route reaches an IPv4 address on its second try whatever the
    name's AAAA records number."""
    first_family: list[str] = []
    other_family: list[str] = []
    for address in addresses:
        same = (":" in address) == (":" in addresses[0])
        (first_family if same else other_family).append(address)
    interleaved = [
        address
        for pair in zip_longest(first_family, other_family)
        for address in pair
        if address is not None
    ]
    return interleaved[:MAX_ADDRESSES_PER_ATTEMPT]


def _post(
    destination: Destination,
    address: str,
    timeout: urllib3.Timeout,
    body: bytes,
    request_headers: dict[str, str],
) -> int:
    """The receiver's status code; raises what urllib3 raises when no answer arrives."""
    with _pool(destination, address, timeout) as pool:
        response = pool.urlopen(
            "POST",
            destination.path_and_query,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
        )
        try:
            # Only drained, never kept; the cap stops a receiver from streaming at us.
            response.read(MAX_RESPONSE_BYTES)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError):
            pass  # the status line already answered whether the event was accepted
        finally:
            response.release_conn()
        return response.status


def deliver(
    url: str,
    msg_id: str,
    body: bytes,
    secret: str,
    policy: DestinationPolicy,
    *,
    timeout_seconds: float = 10.0,
    resolve: Resolver = system_resolver,
    clock: Callable[[], float] = time.time,
) -> DeliveryResult:
    """POST body to url once, signed for this attempt; never raises for network problems.

    The checked addresses are tried in `connection_order`; only a connection that could not
    be opened (refused, unreachable, connect timeout) moves on to the next, since the request
    has not been sent. Once one connects, its outcome (an answer, a TLS failure, a read
    timeout) is the attempt's: trying another could deliver the event twice.

    Redirects are not followed (a 3xx is recorded as a non-delivery): following one would
    connect to an address the guard never saw.
    """
    started = time.monotonic()

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000.0

    try:
        destination = check_destination(url, policy, resolve)
    except UnsafeDestination as exc:
        return DeliveryResult(None, f"refused: {exc.reason}", elapsed_ms(), None)

    # Standard Webhooks: the id is stable across retries, the timestamp is this attempt's.
    request_headers = signing.headers(secret, msg_id, int(clock()), body)
    request_headers["host"] = _host_header(destination)
    request_headers["user-agent"] = USER_AGENT
    timeout = urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds)
    addresses = connection_order(destination.addresses)
    unreachable: list[str] = []
    for address in addresses:
        try:
            status = _post(destination, address, timeout, body, request_headers)
        except urllib3.exceptions.ConnectTimeoutError as exc:  # NewConnectionError too
            unreachable.append(f"{address}: {_describe(exc, destination)}")
            continue
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            return DeliveryResult(None, _describe(exc, destination), elapsed_ms(), address)
        return DeliveryResult(status, None, elapsed_ms(), address)
    return DeliveryResult(None, "; ".join(unreachable), elapsed_ms(), addresses[-1])


def retry_delay(
    attempt: int,
    base_seconds: float,
    cap_seconds: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): capped exponential backoff
    with equal jitter, so retries spread out but never come sooner than half the backoff."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    try:
        delay = min(cap_seconds, base_seconds * 2.0 ** (attempt - 1))
    except OverflowError:
        delay = cap_seconds
    return delay / 2 + rand() * delay / 2

"""The SSRF guard: a webhook URL is a tenant-chosen address our workers connect to, so it must
not reach anything inside our network (metadata service, Redis, internal load balancers)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from imagegen import errors
from imagegen.errors import ServiceError

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UnsafeDestination(Exception):
    """A webhook URL we refuse to connect to; `reason` is safe to show the tenant and to log
    (it never carries the URL's query string, which may hold the receiver's token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DestinationPolicy:
    """What a deployment accepts. `allowed_hosts` holds (host, port) pairs, as
    `parse_allowed_hosts` makes them, that skip only the address-class check, so local
    development can target a receiver on loopback. A pair names one port, never a whole host:
    exempting a host on every port would let a webhook reach the service's own Redis or model
    endpoint on that host."""

    require_https: bool
    allowed_hosts: frozenset[tuple[str, int]] = frozenset()


@dataclass(frozen=True)
class Destination:
    """A checked URL, with the addresses that were judged so the caller connects to one of
    them and not to whatever the name resolves to a moment later."""

    url: str
    scheme: str
    host: str
    port: int
    path_and_query: str
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host, in its order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeDestination(f"webhook_url host {host} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _networks(
    *pairs: tuple[str, str],
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), label) for cidr, label in pairs)


_METADATA = "the cloud instance metadata address"
# Explicit, because `is_global` misses some of these (multicast, 192.0.0.0/24, NAT64, 6to4,
# site-local) and its answers differ between Python versions. First match names the reason.
_V4_REFUSED = _networks(
    ("169.254.169.254/32", _METADATA),
    ("0.0.0.0/32", "the unspecified address"),
    ("0.0.0.0/8", "a 'this network' address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol assignment address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a 6to4 relay anycast address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
)
_V6_REFUSED = _networks(
    ("fd00:ec2::254/128", _METADATA),
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("::/96", "an IPv4-compatible (deprecated) address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    ("2001::/23", "an IETF protocol assignment address"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("fc00::/7", "a private (unique local) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address routes to (mapped, 6to4, Teredo, NAT64), each of which
    must be acceptable on its own."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _v4_problem(ip: ipaddress.IPv4Address) -> str | None:
    for network, label in _V4_REFUSED:
        if ip in network:
            return label
    return None if ip.is_global else "not a globally routable address"


def _address_problem(ip: IPAddress) -> str | None:
    """Why this address is not one a public webhook receiver can have, or None."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_problem(ip)
    for embedded in _embedded_v4(ip):
        problem = _v4_problem(embedded)
        if problem is not None:
            return f"which embeds {embedded}, {problem}"
    if ip.ipv4_mapped is not None:
        # Sockets send a mapped address over IPv4, so the IPv4 verdict is the whole verdict
        # (and `is_global` calls every mapped address non-global).
        return None
    for network, label in _V6_REFUSED:
        if ip in network:
            return label
    if ip.is_multicast or ip.is_reserved or not ip.is_global:
        return "not a globally routable address"
    return None


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _host_key(host: str) -> str:
    """The spelling a host is compared in: IP literals in their canonical form (so "::0:1" is
    "::1"), names lower-case and in their ASCII (IDNA) form."""
    address = _parse_address(host)
    if address is not None:
        return str(address)
    host = host.lower()
    return host if host.isascii() else host.encode("idna").decode("ascii")


def parse_allowed_hosts(text: str) -> frozenset[tuple[str, int]]:
    """The (host, port) pairs of a comma-separated "host:port" list ("[::1]:9000" for IPv6).

    A bare host is a ValueError, not "every port" (what the list used to mean) or "the
    default ports": a list written for the old meaning should stop the process with a clear
    message, not quietly stop matching.
    """
    allowed: set[tuple[str, int]] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        problem = f"{entry!r} is not host:port (e.g. 127.0.0.1:9000, localhost:9000, [::1]:9000)"
        try:
            parts = urlsplit(f"//{entry}")
            port = parts.port
            host = _host_key(parts.hostname or "")
        except (ValueError, UnicodeError) as exc:
            raise ValueError(problem) from exc
        if not host or port is None or parts.netloc != entry or "@" in entry:
            raise ValueError(problem)
        if not 1 <= port <= 65535:
            raise ValueError(f"{entry!r}: port {port} is outside 1-65535")
        allowed.add((host, port))
    return frozenset(allowed)


def check_destination(
    url: str, policy: DestinationPolicy, resolve: Resolver = system_resolver
) -> Destination:
    """The checked destination for url, or UnsafeDestination saying why not.

    Every resolved address is judged, not only the first: the delivery may connect to any of
    them. One that fails refuses the whole name, even among public ones: a public name that
    also answers with an internal address looks like an attempt to reach it, and refusing
    the name says so at creation rather than leaving it to depend on which address answers.
    IP literals are judged as written; anything else (including odd IPv4 spellings such as
    "0x7f.1" that resolvers accept) is judged by what it resolves to.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"webhook_url is longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise UnsafeDestination("webhook_url contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination("webhook_url is not a valid URL (bad host or port)") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeDestination("webhook_url must be an absolute http or https URL")
    if "@" in parts.netloc:
        raise UnsafeDestination("webhook_url must not contain credentials")
    host = parts.hostname or ""
    if not host:
        raise UnsafeDestination("webhook_url has no host")
    if scheme == "http" and policy.require_https:
        raise UnsafeDestination("webhook_url must use https")
    if port is None:
        port = DEFAULT_PORTS[scheme]
    elif not 1 <= port <= 65535:
        raise UnsafeDestination(f"webhook_url port {port} is outside 1-65535")

    if _parse_address(host) is not None:
        resolved = [host]
    else:
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise UnsafeDestination("webhook_url host is not a valid hostname") from exc
        resolved = resolve(host, port)
    # Kept as the resolver wrote them (Python's str() of a mapped IPv6 address varies by
    # version), de-duplicated in resolver order.
    texts = list(dict.fromkeys(text.strip() for text in resolved))
    if not texts:
        raise UnsafeDestination(f"webhook_url host {host} does not resolve")

    checked: list[tuple[str, IPAddress]] = []
    for text in texts:
        address = _parse_address(text)
        if address is None:
            raise UnsafeDestination(f"webhook_url host {host} resolves to an unusable address")
        checked.append((text, address))
    if (_host_key(host), port) not in policy.allowed_hosts:
        for text, address in checked:
            problem = _address_problem(address)
            if problem is not None:
                raise UnsafeDestination(f"webhook_url resolves to {text}, {problem}")

    path = parts.path or "/"
    return Destination(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path_and_query=f"{path}?{parts.query}" if parts.query else path,
        addresses=tuple(texts),
    )


def check_webhook_url(url: str | None, policy: DestinationPolicy) -> None:
    """IMG302 for a webhook URL a request may not give: one we would not deliver to. It is
    checked again at each delivery, as its host may resolve differently by then."""
    if url is None:
        return
    try:
        check_destination(url, policy)
    except UnsafeDestination as refused:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"webhook_url is not allowed: {refused.reason}",
            {"parameter": "webhook_url"},
        ) from None

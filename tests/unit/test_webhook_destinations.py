"""The SSRF guard: which webhook URLs a worker may connect to."""

from __future__ import annotations

import pytest

from imagegen.config import ConfigError, Settings
from imagegen.webhooks.destinations import (
    Destination,
    DestinationPolicy,
    UnsafeDestination,
    check_destination,
    parse_allowed_hosts,
    system_resolver,
)

STRICT = DestinationPolicy(require_https=True)
LAX = DestinationPolicy(require_https=False)
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should not have been resolved")


def resolving(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise UnsafeDestination(f"webhook_url host {host} does not resolve")
        return table[host]

    return resolve


def refused(url: str, policy: DestinationPolicy = LAX, resolve=no_dns) -> str:
    with pytest.raises(UnsafeDestination) as caught:
        check_destination(url, policy, resolve)
    return caught.value.reason


# (address, a word the reason must contain)
FORBIDDEN = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("169.254.169.254", "metadata"),
    ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fd00:ec2::254", "metadata"),
    ("100.64.1.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fec0::1", "site-local"),
    ("192.0.0.9", "IETF"),
    ("192.0.2.10", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("2001:db8::1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("192.88.99.1", "6to4"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("2002:7f00:1::", "embeds 127.0.0.1"),  # 6to4
    ("2002:a9fe:a9fe::1", "embeds 169.254.169.254"),  # 6to4
    ("64:ff9b::a00:5", "embeds 10.0.0.5"),  # NAT64
    ("64:ff9b:1::1", "NAT64"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2"),  # Teredo
    ("2001:0:a00:1::1", "embeds 10.0.0.1"),  # Teredo whose server is private
]


def url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize(("address", "word"), FORBIDDEN)
def test_ip_literals_of_every_non_public_class_are_refused(address, word):
    reason = refused(f"http://{url_host(address)}:8080/hook")
    assert word in reason
    assert reason.startswith("webhook_url resolves to ")


@pytest.mark.parametrize(("address", "word"), FORBIDDEN)
def test_names_resolving_to_every_non_public_class_are_refused(address, word):
    resolve = resolving({"hooks.example.test": [address]})
    assert word in refused("https://hooks.example.test/hook", resolve=resolve)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "017700000001", "0x7f000001", "127.1"])
def test_odd_ipv4_spellings_are_judged_by_what_the_system_resolves_them_to(host):
    reason = refused(f"http://{host}/hook", resolve=system_resolver)
    assert "127.0.0.1" in reason
    assert "loopback" in reason


def test_localhost_is_refused_through_the_system_resolver():
    assert "loopback" in refused("http://localhost:8000/hook", resolve=system_resolver)


@pytest.mark.parametrize(
    "addresses", [[PUBLIC_V4, "10.0.0.5"], ["10.0.0.5", PUBLIC_V4], [PUBLIC_V6, "::1"]]
)
def test_a_name_with_one_public_and_one_private_address_is_refused(addresses):
    reason = refused(
        "https://hooks.example.test/", resolve=resolving({"hooks.example.test": addresses})
    )
    assert addresses[0] in reason or addresses[1] in reason
    assert PUBLIC_V4 not in reason and PUBLIC_V6 not in reason


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6, f"::ffff:{PUBLIC_V4}", "8.8.8.8"])
def test_public_addresses_are_accepted(address):
    resolve = resolving({"hooks.example.test": [address]})
    destination = check_destination("https://hooks.example.test/in", STRICT, resolve)
    assert destination.addresses == (address,)


def test_the_checked_destination_describes_where_to_connect():
    resolve = resolving({"hooks.example.test": [PUBLIC_V4, PUBLIC_V6, PUBLIC_V4]})
    url = "https://Hooks.Example.Test:8443/in/bound?token=t1&x=2#fragment"
    assert check_destination(url, STRICT, resolve) == Destination(
        url=url,
        scheme="https",
        host="hooks.example.test",
        port=8443,
        path_and_query="/in/bound?token=t1&x=2",
        addresses=(PUBLIC_V4, PUBLIC_V6),
    )


@pytest.mark.parametrize(
    ("url", "port", "path_and_query"),
    [
        ("https://hooks.example.test", 443, "/"),
        ("http://hooks.example.test", 80, "/"),
        ("https://hooks.example.test?x=1", 443, "/?x=1"),
        ("HTTPS://hooks.example.test:1/", 1, "/"),
        ("https://hooks.example.test:65535/a", 65535, "/a"),
    ],
)
def test_default_ports_and_paths(url, port, path_and_query):
    destination = check_destination(url, LAX, resolving({"hooks.example.test": [PUBLIC_V4]}))
    assert (destination.port, destination.path_and_query) == (port, path_and_query)


def test_public_ip_literals_are_accepted_without_resolving():
    destination = check_destination(f"https://[{PUBLIC_V6}]/in", STRICT, no_dns)
    assert destination.host == PUBLIC_V6
    assert destination.addresses == (PUBLIC_V6,)


def test_http_is_refused_when_https_is_required():
    resolve = resolving({"hooks.example.test": [PUBLIC_V4]})
    assert "https" in refused("http://hooks.example.test/", STRICT, resolve)
    assert check_destination("http://hooks.example.test/", LAX, resolve).scheme == "http"


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2@hooks.example.test/",
        "https://user@hooks.example.test/",
        "https://:hunter2@hooks.example.test/",
        "https://@hooks.example.test/",
    ],
)
def test_credentials_in_the_url_are_refused(url):
    reason = refused(url, resolve=resolving({"hooks.example.test": [PUBLIC_V4]}))
    assert "credentials" in reason
    assert "hunter2" not in reason


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.test/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://hooks.example.test:6379/_FLUSHALL",
        "hooks.example.test/hook",
        "//hooks.example.test/hook",
        "/relative/path",
        "",
    ],
)
def test_anything_but_absolute_http_urls_is_refused(url):
    assert "absolute http" in refused(url)


@pytest.mark.parametrize("url", ["https:///nohost", "https://:443/", "http://?x=1"])
def test_urls_without_a_host_are_refused(url):
    assert "no host" in refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.test:0/",
        "https://hooks.example.test:65536/",
        "https://hooks.example.test:99999/",
        "https://hooks.example.test:http/",
        "https://hooks.example.test:-1/",
        "https://[::1/",
    ],
)
def test_bad_ports_and_malformed_hosts_are_refused(url):
    reason = refused(url, resolve=resolving({"hooks.example.test": [PUBLIC_V4]}))
    assert "port" in reason or "valid URL" in reason


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.test/a b",
        "https://hooks.example.test/a\r\nX-Injected: 1",
        "https://hooks.example.test/\x00",
        "https://hooks.example.test/\t",
    ],
)
def test_whitespace_and_control_characters_are_refused(url):
    assert "control characters" in refused(url)


def test_urls_longer_than_2048_characters_are_refused():
    resolve = resolving({"hooks.example.test": [PUBLIC_V4]})
    prefix = "https://hooks.example.test/"
    longest = prefix + "a" * (2048 - len(prefix))
    assert check_destination(longest, STRICT, resolve).path_and_query.endswith("a")
    assert "2048" in refused(longest + "a", resolve=resolve)


def allowing(*entries: str, require_https: bool = False) -> DestinationPolicy:
    return DestinationPolicy(require_https, parse_allowed_hosts(",".join(entries)))


def test_allowed_hosts_skip_only_the_address_check_and_only_for_themselves():
    resolve = resolving({"hooks.internal.test": ["10.0.0.5"], "other.internal.test": ["10.0.0.5"]})
    policy = allowing("hooks.internal.test:9000")
    destination = check_destination("http://HOOKS.internal.test:9000/in", policy, resolve)
    assert destination.addresses == ("10.0.0.5",)
    assert "private" in refused("http://other.internal.test:9000/in", policy, resolve)
    assert "credentials" in refused("http://u:p@hooks.internal.test:9000/", policy, resolve)


@pytest.mark.parametrize("port", [6379, 8000, 8010, 80, 9001])
def test_an_allowed_host_is_allowed_on_its_listed_port_only(port):
    policy = allowing("127.0.0.1:9000", "localhost:9000")
    assert check_destination("http://127.0.0.1:9000/in", policy, no_dns).port == 9000
    assert "loopback" in refused(f"http://127.0.0.1:{port}/in", policy)
    assert "loopback" in refused(f"http://localhost:{port}/in", policy, resolve=system_resolver)


def test_a_url_without_a_port_matches_its_schemes_default_port():
    resolve = resolving({"hooks.internal.test": ["10.0.0.5"]})
    policy = allowing("hooks.internal.test:443")
    assert check_destination("https://hooks.internal.test/in", policy, resolve).port == 443
    assert "private" in refused("http://hooks.internal.test/in", policy, resolve)


def test_an_allowed_name_does_not_allow_the_addresses_it_resolves_to():
    policy = allowing("localhost:9000")
    destination = check_destination("http://localhost:9000/in", policy)
    assert set(destination.addresses) <= {"127.0.0.1", "::1"}
    assert "loopback" in refused("http://127.0.0.1:9000/in", policy)


def test_ip_literals_match_in_any_spelling():
    policy = allowing("[0:0::1]:9000", "127.0.0.1:9000")
    assert check_destination("http://[::1]:9000/in", policy, no_dns).addresses == ("::1",)
    assert check_destination("http://[::0:1]:9000/", policy, no_dns).host == "::0:1"
    assert "loopback" in refused("http://[::1]:9001/in", policy)


def test_allowed_hosts_still_need_https_when_it_is_required():
    policy = allowing("127.0.0.1:8000", require_https=True)
    assert "https" in refused("http://127.0.0.1:8000/in", policy)
    assert check_destination("https://127.0.0.1:8000/in", policy, no_dns).addresses == (
        "127.0.0.1",
    )


def test_allowed_hosts_are_still_resolved():
    policy = allowing("gone.example.test:80")
    assert "does not resolve" in refused("http://gone.example.test/", policy, resolving({}))


def test_an_allowed_name_is_exempt_for_every_address_it_resolves_to():
    resolve = resolving({"hooks.internal.test": ["10.0.0.5", "fd00::5", PUBLIC_V4]})
    policy = allowing("hooks.internal.test:9000")
    destination = check_destination("http://hooks.internal.test:9000/", policy, resolve)
    assert destination.addresses == ("10.0.0.5", "fd00::5", PUBLIC_V4)


def test_every_address_of_a_name_is_checked_whatever_its_place():
    addresses = [PUBLIC_V6, PUBLIC_V4, "8.8.8.8", "2001:4860:4860::8888"]
    for place in range(len(addresses) + 1):
        answer = [*addresses[:place], "169.254.169.254", *addresses[place:]]
        resolve = resolving({"hooks.example.test": answer})
        assert "metadata" in refused("https://hooks.example.test/", resolve=resolve)
    resolve = resolving({"hooks.example.test": addresses})
    checked = check_destination("https://hooks.example.test/", STRICT, resolve)
    assert checked.addresses == tuple(addresses)


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("", set()),
        (" , ", set()),
        ("127.0.0.1:9000", {("127.0.0.1", 9000)}),
        (" LocalHost:9000 ,127.0.0.1:9000,", {("localhost", 9000), ("127.0.0.1", 9000)}),
        ("[::1]:9000,[0::1]:9000", {("::1", 9000)}),
        ("hooks.internal.test:1,hooks.internal.test:65535", {
            ("hooks.internal.test", 1), ("hooks.internal.test", 65535)}),
        ("bücher.test:443", {("xn--bcher-kva.test", 443)}),
    ],
)  # fmt: skip
def test_the_allowlist_is_host_port_pairs(text, pairs):
    assert parse_allowed_hosts(text) == pairs


@pytest.mark.parametrize(
    "entry",
    [
        "127.0.0.1",
        "localhost",
        "::1",
        "[::1]",
        "::1:9000",
        "localhost:",
        ":9000",
        "localhost:0",
        "localhost:65536",
        "localhost:http",
        "localhost:9000/x",
        "http://localhost:9000",
        "user@localhost:9000",
        "[::1:9000",
    ],
)
def test_a_bare_host_or_a_malformed_entry_stops_the_service_at_start(entry):
    with pytest.raises(ValueError):
        parse_allowed_hosts(f"localhost:9000,{entry}")
    with pytest.raises(ConfigError, match="IMAGEGEN_WEBHOOK_ALLOWED_HOSTS") as caught:
        Settings.from_env({"IMAGEGEN_WEBHOOK_ALLOWED_HOSTS": entry})
    assert "host:port" in str(caught.value) or "outside 1-65535" in str(caught.value)


def test_the_settings_carry_the_parsed_pairs():
    settings = Settings.from_env({"IMAGEGEN_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1:9000"})
    assert settings.webhook_allowed_hosts == {("127.0.0.1", 9000)}
    assert Settings.from_env({}).webhook_allowed_hosts == frozenset()


def test_a_host_that_does_not_resolve_is_refused():
    assert "does not resolve" in refused("https://nonexistent.invalid/", resolve=system_resolver)
    assert "does not resolve" in refused(
        "https://hooks.example.test/", resolve=resolving({"hooks.example.test": []})
    )


def test_a_resolver_answer_that_is_not_an_address_is_refused():
    resolve = resolving({"hooks.example.test": [PUBLIC_V4, "not-an-address"]})
    assert "unusable address" in refused("https://hooks.example.test/", resolve=resolve)


def test_system_resolver_answers_in_order_without_duplicates():
    answers = system_resolver("localhost", 80)
    assert answers
    assert len(answers) == len(set(answers))
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("url", "policy", "table"),
    [
        ("https://hooks.example.test/in?token=s3cr3t", LAX, {"hooks.example.test": ["10.0.0.5"]}),
        ("http://hooks.example.test/in?token=s3cr3t", STRICT, {"hooks.example.test": [PUBLIC_V4]}),
        ("https://u:p@hooks.example.test/in?token=s3cr3t", LAX, {}),
        ("https://hooks.example.test:0/in?token=s3cr3t", LAX, {}),
        ("https://nowhere.example.test/in?token=s3cr3t", LAX, {}),
        ("https://hooks.example.test/in?token=s3cr3t&pad=" + "a" * 2048, LAX, {}),
        ("https://hooks.example.test/in?token=s3cr3t x", LAX, {}),
        ("https://127.0.0.1/in?token=s3cr3t", LAX, {}),
    ],
)
def test_reasons_never_include_the_query_string(url, policy, table):
    reason = refused(url, policy, resolving(table))
    assert "s3cr3t" not in reason
    assert "token" not in reason

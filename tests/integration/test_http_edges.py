"""HTTP at the edge of the app, through the real gunicorn (issue 12, items 6 and 9).

gunicorn's own refusals carry the error envelope; "//" in a path is a 404, not a redirect;
the served OpenAPI document names the deployment's public URL; requests that arrive in
pieces (chunked, pipelined, after 100 Continue) are read whole before a thread serves them;
two instances on one machine share no control socket.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import (
    GUNICORN,
    Stack,
    Tenant,
    free_port,
    service_env,
    start_process,
    wait_until,
)
from tests.integration.conftest import Api

MODEL = "amazon.titan-image-generator-v2:0"


def _assert_envelope(response: requests.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == status
    assert body["error"]["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_a_request_line_over_the_limit_is_414_in_the_envelope(api: Api) -> None:
    response = api.request("GET", "/v1/images?tag=" + "a" * 5000)
    _assert_envelope(response, 414, "IMG302")


def test_header_fields_over_the_limit_are_431_in_the_envelope(api: Api) -> None:
    response = api.request("GET", "/v1/models", headers={"X-Big": "b" * 9000})
    _assert_envelope(response, 431, "IMG302")


def _exchange(stack: Stack, *pieces: bytes, pause: float = 0.0) -> bytes:
    """Send pieces (pause seconds apart) on one connection; everything until it closes."""
    address = urlsplit(stack.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        for index, piece in enumerate(pieces):
            if index and pause:
                time.sleep(pause)
            sock.sendall(piece)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw HTTP/1.1 responses framed by Content-Length."""
    found = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        length = int(headers.get("content-length", "0"))
        found.append((int(status_line.split()[1]), headers, raw[:length]))
        raw = raw[length:]
    return found


@pytest.mark.parametrize(
    "request_bytes",
    [b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"],
    ids=["request-line", "header-name"],
)
def test_a_malformed_request_is_400_in_the_envelope(stack: Stack, request_bytes: bytes) -> None:
    [(status, headers, body)] = _responses(_exchange(stack, request_bytes))
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "IMG302"


def test_a_double_slash_in_the_path_is_an_enveloped_404_not_a_redirect(api: Api) -> None:
    response = api.request("GET", "/v1//models", documented=False, allow_redirects=False)
    _assert_envelope(response, 404, "NOT_FOUND")


def _post_head(tenant: Tenant, *headers: str) -> bytes:
    """The head of a generation request: request line, headers, blank line."""
    lines = [
        "POST /v1/images/generations HTTP/1.1",
        "Host: x",
        f"Authorization: Bearer {tenant.key}",
        "Content-Type: application/json",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_body_in_pieces_chunked_or_after_100_continue_is_served_whole(
    stack: Stack, tenant: Tenant
) -> None:
    body = json.dumps({"prompt": "a kite over dunes", "model": MODEL, "async": True}).encode()
    half = len(body) // 2

    chunked = _post_head(tenant, "Transfer-Encoding: chunked", "Connection: close")
    pieces = [b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:])]
    answer = _exchange(stack, chunked, *pieces, b"0\r\n\r\n", pause=0.3)
    [(status, _, payload)] = _responses(answer)
    assert status == 202, payload

    expect = _post_head(tenant, f"Content-Length: {len(body)}", "Expect: 100-continue")
    address = urlsplit(stack.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(expect)
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body[:half])
        time.sleep(0.3)
        sock.sendall(body[half:])
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 202 "), head  # and no second 100 Continue


def test_pipelined_requests_are_each_answered_in_order(stack: Stack) -> None:
    one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    missing = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    # The second request arrives split, in the same segment as the end of the first.
    answer = _exchange(stack, one + missing[:10], missing[10:], pause=0.3)
    assert [status for status, _, _ in _responses(answer)] == [200, 404]


def test_two_instances_on_one_machine_share_no_control_socket(
    tmp_path: Path, redis_url: str, model_endpoint: str
) -> None:
    # Both see the same home and runtime directory, where gunicorn's default socket lives.
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    instances = []
    try:
        for name in ("first", "second"):
            data_dir = tmp_path / name
            data_dir.mkdir()
            port = free_port()
            env = service_env(data_dir, redis_url, model_endpoint, port)
            public = f"https://{name}.images.example"
            env |= {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
            env |= {"IMAGEGEN_PUBLIC_BASE_URL": public}
            process = start_process(
                [GUNICORN, "-c", "gunicorn.conf.py", "app.wsgi:app"], env, data_dir / "api.log"
            )
            base_url = f"http://127.0.0.1:{port}"
            instances.append((process, base_url, public))
        for _, base_url, _ in instances:
            wait_until(lambda url=base_url: requests.get(f"{url}/healthz", timeout=1).ok)

        assert not [path for path in tmp_path.rglob("*") if path.is_socket()]
        # Stopping one leaves the other serving; each serves its own public URL.
        instances[0][0].stop()
        _, base_url, public = instances[1]
        document = requests.get(f"{base_url}/openapi.json", timeout=5).json()
        assert document["servers"] == [{"url": public}]
    finally:
        for process, _, _ in instances:
            process.stop()

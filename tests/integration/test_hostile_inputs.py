"""Input images are hostile until proven otherwise: every bad one gets a clear 4xx with an
IMG code, through both routes that take images, and the API and worker keep serving."""

from __future__ import annotations

import io
import struct
import time
import zlib
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.integration.images import b64, encode, left_half_mask, scene
from tests.integration.raw_http import connect, read_head

MAX_IMAGE_BYTES = 4 * 1024 * 1024  # the stack's IMAGEGEN_MAX_IMAGE_BYTES
MAX_REQUEST_BYTES = 12 * 1024 * 1024  # its IMAGEGEN_MAX_IMAGE_REQUEST_BYTES


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb(side: int = 50_000) -> bytes:
    """A PNG of a few hundred bytes that declares side x side pixels (grey, 1 bit)."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    data = zlib.compress(row * 16)  # a few rows: the header's size is what matters
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def _noise_png(side: int) -> bytes:
    return encode(Image.effect_noise((side, side), 90).convert("RGB"))


GOOD_PNG = encode(scene((320, 320)))
HOSTILE = {
    "decompression_bomb": (bomb(), 400, "IMG301"),
    "truncated_png": (GOOD_PNG[: len(GOOD_PNG) // 2], 400, "IMG303"),
    "truncated_jpeg": (encode(scene((320, 320)), "JPEG")[:2000], 400, "IMG303"),
    "corrupt_png": (
        GOOD_PNG[:100] + bytes(b ^ 0xFF for b in GOOD_PNG[100:400]) + GOOD_PNG[400:],
        400,
        "IMG303",
    ),
    "text_named_png": (b"name,email\nalice,alice@example.com\n" * 20, 400, "IMG303"),
    "pdf": (b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", 400, "IMG303"),
    "gif": (encode(scene((64, 64)), "GIF"), 400, "IMG303"),
    "bmp": (encode(scene((64, 64)), "BMP"), 400, "IMG303"),
    "tiff": (encode(scene((64, 64)), "TIFF"), 400, "IMG303"),
    "empty": (b"", 400, "IMG303"),
}


@pytest.fixture(scope="module")
def too_big() -> bytes:
    data = _noise_png(1400)  # about 5.9 MB of incompressible pixels
    assert MAX_IMAGE_BYTES < len(data) < MAX_REQUEST_BYTES
    return data


def _error(response) -> dict:
    body = response.json()
    assert body["status"] == response.status_code
    return body["error"]


def assert_still_serving(api) -> None:
    assert api.request("GET", "/healthz").status_code == 200
    response = api.generate({"prompt": "a calm sea", "model": "amazon.titan-image-generator-v1"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_uploads_are_refused_clearly(api, name):
    data, status, code = HOSTILE[name]
    started = time.monotonic()
    response = api.request("POST", "/v1/uploads", files={"file": ("image.png", data, "image/png")})

    assert response.status_code == status, response.text
    error = _error(response)
    assert error["code"] == code
    assert error["details"]["field"] == "file"
    assert time.monotonic() - started < 5  # a bomb is refused from its header, not decoded
    if code == "IMG303" and name in ("gif", "bmp", "tiff"):
        assert name.upper() in error["message"]
        assert error["details"]["accepted_formats"] == ["png", "jpeg", "webp"]
    assert_still_serving(api)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inline_images_in_edits_are_refused_clearly(api, name):
    data, status, code = HOSTILE[name]
    response = api.request(
        "POST",
        "/v1/images/edits",
        json={"task": "remove_background", "input_image_base64": b64(data)},
    )
    assert response.status_code == status, response.text
    error = _error(response)
    assert error["code"] == code
    assert error["details"]["field"] == "input_image_base64"
    assert_still_serving(api)


@pytest.mark.parametrize("value", ["not base64 at all!", "aGVsbG8=\x00", "====", "****"])
def test_base64_that_is_not(api, value):
    response = api.request(
        "POST", "/v1/images/edits", json={"task": "remove_background", "input_image_base64": value}
    )
    assert response.status_code == 400, response.text
    assert _error(response)["code"] == "IMG303"


def test_a_file_over_the_image_limit_is_413(api, too_big):
    response = api.request("POST", "/v1/uploads", files={"file": ("big.png", too_big, "image/png")})
    assert response.status_code == 413, response.text
    error = _error(response)
    assert error["code"] == "IMG304"
    assert error["details"]["limit_bytes"] == MAX_IMAGE_BYTES
    inline = api.request(
        "POST", "/v1/images/edits",
        json={"task": "remove_background", "input_image_base64": b64(too_big)},
    )  # fmt: skip
    assert inline.status_code == 413
    assert _error(inline)["code"] == "IMG304"
    assert_still_serving(api)


def test_an_oversized_request_is_refused_before_its_body_is_sent(api, stack, tenant):
    """Only the headers and a few bytes go out; the 413 must come back anyway."""
    address = urlsplit(stack.base_url)
    with connect(stack, timeout=10) as conn:
        conn.sendall(
            b"POST /v1/uploads HTTP/1.1\r\n"
            + f"Host: {address.netloc}\r\n".encode()
            + f"Authorization: Bearer {tenant.key}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {MAX_REQUEST_BYTES * 10}\r\n\r\n".encode()
            + b"--x\r\n"
        )
        received = read_head(conn)
    status_line = received.split(b"\r\n", 1)[0]
    assert b" 413 " in status_line, received[:200]
    assert_still_serving(api)


def test_a_mask_of_the_wrong_size_is_img301(api):
    response = api.request(
        "POST",
        "/v1/images/edits",
        json={
            "task": "inpaint",
            "model": "amazon.nova-canvas-v1:0",
            "input_image_base64": b64(encode(scene((512, 512)))),
            "mask_image_base64": b64(encode(left_half_mask((512, 384)))),
        },
    )
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == "IMG301"
    assert error["details"]["mask_size"] == "512x384"


def test_a_bad_mask_file_in_a_form_is_refused(api):
    response = api.request(
        "POST",
        "/v1/images/edits",
        files={
            "image": ("image.png", GOOD_PNG, "image/png"),
            "mask": ("mask.png", b"GIF89a not really", "image/png"),
        },
        data={"prompt": "x", "model": "amazon.nova-canvas-v1:0"},
    )
    assert response.status_code == 400, response.text
    assert _error(response)["details"]["field"] == "mask_image_base64"


def test_every_supported_mode_is_accepted(api):
    """The awkward modes a real camera or editor produces: converted, not refused."""
    base = scene((320, 320))
    images = {
        "rgba": base.convert("RGBA"),
        "la": base.convert("LA"),
        "palette": base.convert("P"),
        "cmyk_jpeg": base.convert("CMYK"),
        "grey16": base.convert("I").point(lambda v: v * 256).convert("I;16"),
    }
    for name, image in images.items():
        fmt = "JPEG" if name == "cmyk_jpeg" else "PNG"
        response = api.request(
            "POST",
            "/v1/images/edits",
            json={"task": "remove_background", "input_image_base64": b64(encode(image, fmt))},
        )
        assert response.status_code == 200, (name, response.text)


def test_exif_orientation_is_applied(api):
    portrait = scene((480, 640))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    data = io.BytesIO()
    portrait.transpose(Image.Transpose.ROTATE_90).save(data, "JPEG", exif=exif)
    response = api.request(
        "POST", "/v1/uploads", files={"file": ("p.jpg", data.getvalue(), "image/jpeg")}
    )
    assert response.status_code == 201, response.text
    metadata = response.json()["metadata"]
    assert (metadata["width"], metadata["height"]) == (480, 640)

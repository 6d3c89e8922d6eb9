"""Input images: hostile files are refused with the right error, good ones are prepared.

Every fixture is made here, with Pillow or by hand, so that each test shows what it feeds in.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import time
import warnings
import zlib
from collections.abc import Callable

import pytest
from PIL import ExifTags, Image, ImageFile

from imagegen import catalog, errors
from imagegen import input_images as ii
from imagegen.errors import ServiceError

LIMITS = ii.ImageLimits(max_bytes=1_000_000, max_pixels=4_000_000)
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)

SDXL = catalog.MODELS["stability.stable-diffusion-xl-v1"]
SD35 = catalog.MODELS["stability.sd3-5-large-v1:0"]
TITAN = catalog.MODELS["amazon.titan-image-generator-v2:0"]
NOVA = catalog.MODELS["amazon.nova-canvas-v1:0"]


# --- Fixtures ------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def noise(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """An RGB image with no runs, so that any damage to its compressed data shows."""
    width, height = size
    return Image.frombytes("RGB", size, bytes((i * 7919) % 251 for i in range(width * height * 3)))


def halves(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_png(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header declares width x height (1-bit greyscale) but whose
    data holds a few rows only: what a decompression bomb's header looks like."""
    rows = (b"\0" + bytes((width + 7) // 8)) * 4
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def declared_webp(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP header declaring a width x height canvas, and nothing else."""
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", 10) + bytes(4) + size
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def error_of(call: Callable[[], object]) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


def open_error(data: bytes, limits: ii.ImageLimits = LIMITS) -> ServiceError:
    return error_of(lambda: ii.open_image(data, "image", limits))


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 3) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def values_of(mask: Image.Image) -> set[int]:
    return {value for value, count in enumerate(mask.histogram()) if count}


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if any image file's pixels are decoded."""

    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def refuse_image_open(monkeypatch) -> None:
    """Fail the test if Pillow is asked to open a file (for WebP: before libwebp allocates)."""

    def refuse(*args, **kwargs):
        raise AssertionError("Image.open was called")

    monkeypatch.setattr(Image, "open", refuse)


# --- decode_base64 ---------------------------------------------------------------------------


def test_base64_plain_prefixed_wrapped_and_unpadded_all_decode():
    data = bytes(range(256)) + b"x"  # 257 bytes: the encoding ends in == padding
    encoded = base64.b64encode(data).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\r\n"

    for value in (
        encoded,
        f"data:image/png;base64,{encoded}",
        f"  DATA:image/webp;base64,\n{wrapped}",
        wrapped,
        encoded.rstrip("="),
    ):
        assert ii.decode_base64(value, "image", LIMITS) == data


@pytest.mark.parametrize(
    "value",
    [
        "",
        " \n\t",
        "data:image/png;base64,",
        "====",
        "QUJD$REVG",  # not in the alphabet
        "QUJD-_EF",  # the URL-safe alphabet
        "QUJDR",  # 5 digits: no whole byte in the last one
        "QU=JD",  # padding in the middle
        "data:text/plain;base64,QUJD",  # only image data URLs
        bytes(range(256)).decode("latin-1"),  # binary garbage
        "QUJD\u00e9",
    ],
)
def test_anything_but_standard_base64_is_an_invalid_image(value):
    error = error_of(lambda: ii.decode_base64(value, "init_image", LIMITS))

    assert error.code == errors.INVALID_IMAGE
    assert error.http_status == 400
    assert error.details == {"field": "init_image"}


def test_base64_just_within_the_limit_decodes_and_one_byte_more_does_not():
    limits = ii.ImageLimits(max_bytes=100, max_pixels=LIMITS.max_pixels)
    for size in (98, 99, 100):  # padded with ==, =, and not at all
        assert len(ii.decode_base64(base64.b64encode(bytes(size)).decode(), "f", limits)) == size
        assert (
            len(ii.decode_base64(base64.b64encode(bytes(size)).decode().rstrip("="), "f", limits))
            == size
        )
    error = error_of(lambda: ii.decode_base64(base64.b64encode(bytes(101)).decode(), "f", limits))

    assert error.code == errors.IMAGE_TOO_LARGE
    assert error.http_status == 413
    assert error.details == {"field": "f", "limit_bytes": 100}


@pytest.mark.parametrize("payload", ["A" * 1400, "!" * 1400, "data:image/png;base64," + "$" * 1400])
def test_oversized_base64_is_refused_without_being_decoded(monkeypatch, payload):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(base64, "b64decode", refuse)
    limits = ii.ImageLimits(max_bytes=1000, max_pixels=LIMITS.max_pixels)

    error = error_of(lambda: ii.decode_base64(payload, "mask", limits))

    assert error.code == errors.IMAGE_TOO_LARGE
    assert error.details == {"field": "mask", "limit_bytes": 1000}


# --- open_image: good files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options", "name", "content_type"),
    [
        ("PNG", {}, "png", "image/png"),
        ("JPEG", {"quality": 95}, "jpeg", "image/jpeg"),
        ("WEBP", {"lossless": True}, "webp", "image/webp"),
        ("WEBP", {"quality": 90}, "webp", "image/webp"),
    ],
)
def test_png_jpeg_and_webp_are_decoded(fmt, options, name, content_type):
    source = halves((64, 48), RED, BLUE)

    result = ii.open_image(encode(source, fmt, **options), "image", LIMITS)

    assert (result.format, result.content_type) == (name, content_type)
    assert (result.width, result.height) == (64, 48) == result.image.size
    assert close_to(result.image.convert("RGB").getpixel((5, 5)), RED, 8)
    assert close_to(result.image.convert("RGB").getpixel((60, 40)), BLUE, 8)
    assert not result.has_alpha


def test_a_jpeg_with_extra_pictures_is_a_jpeg():
    # Phone cameras write the Multi-Picture Format; Pillow calls such files MPO.
    data = encode(Image.new("RGB", (32, 16), RED), "MPO", save_all=True, append_images=[noise()])

    result = ii.open_image(data, "image", LIMITS)

    assert (result.format, result.content_type, result.image.size) == (
        "jpeg",
        "image/jpeg",
        (32, 16),
    )


def test_has_alpha_means_some_pixel_is_not_opaque():
    opaque = Image.new("RGBA", (8, 8), (*RED, 255))
    holed = opaque.copy()
    holed.putpixel((3, 3), (0, 0, 0, 0))
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([*RED, *BLUE])

    def has_alpha(data: bytes) -> bool:
        return ii.open_image(data, "image", LIMITS).has_alpha

    assert has_alpha(encode(holed, "PNG"))
    assert has_alpha(encode(holed, "WEBP", lossless=True))
    assert not has_alpha(encode(opaque, "PNG"))  # an alpha band that is all opaque
    assert has_alpha(encode(palette, "PNG", transparency=1))
    assert not has_alpha(encode(palette, "PNG", transparency=0))  # no pixel uses index 0


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_an_animated_image_gives_its_first_frame(fmt):
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE, WHITE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 3

    result = ii.open_image(data, "image", LIMITS)

    assert result.image.convert("RGB").getpixel((8, 8)) == RED
    assert getattr(result.image, "n_frames", 1) == 1


def test_exif_orientation_is_applied():
    # Stored 40x20, red left and blue right; orientation 6 says "rotate 90 degrees clockwise
    # to display", which puts the left (red) half on top.
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = encode(halves((40, 20), RED, BLUE), "JPEG", exif=exif, quality=95)

    result = ii.open_image(data, "image", LIMITS)

    assert (result.width, result.height) == (20, 40) == result.image.size
    assert close_to(result.image.getpixel((10, 5)), RED, 8)
    assert close_to(result.image.getpixel((10, 35)), BLUE, 8)
    assert ExifTags.Base.Orientation not in result.image.getexif()


# --- open_image: hostile files -----------------------------------------------------------------


def test_a_file_over_the_byte_limit_is_too_large():
    data = encode(noise(), "PNG")
    limits = ii.ImageLimits(max_bytes=len(data) - 1, max_pixels=LIMITS.max_pixels)

    error = open_error(data, limits)

    assert error.code == errors.IMAGE_TOO_LARGE
    assert error.details == {
        "field": "image",
        "limit_bytes": len(data) - 1,
        "size_bytes": len(data),
    }
    assert ii.open_image(data, "image", ii.ImageLimits(len(data), LIMITS.max_pixels))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, saved as picture.png\n",
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
        b"\x89PNG\r\n\x1a\n" + bytes(64),  # a PNG signature and nothing sane after it
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(40),
        bytes(range(256)) * 8,
    ],
)
def test_something_that_is_not_an_image_is_an_invalid_image(data):
    error = open_error(data)

    assert error.code == errors.INVALID_IMAGE
    assert "not an image" in error.message
    assert error.details == {"field": "image", "accepted_formats": ["png", "jpeg", "webp"]}


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_an_image_in_another_format_is_refused_by_name(fmt):
    error = open_error(encode(Image.new("RGB", (16, 16), RED), fmt))

    assert error.code == errors.INVALID_IMAGE
    assert fmt in error.message
    assert "PNG, JPEG or WebP" in error.message
    assert error.details == {
        "field": "image",
        "format": fmt.lower(),
        "accepted_formats": ["png", "jpeg", "webp"],
    }


def test_a_decompression_bomb_is_refused_from_its_header_quickly():
    data = declared_png(40_000, 40_000)  # 1.6 gigapixels in a file of under a kilobyte
    assert len(data) < 1000

    started = time.perf_counter()
    error = open_error(data)

    assert time.perf_counter() - started < 1
    assert error.code == errors.INVALID_IMAGE_SIZE
    assert error.http_status == 400
    assert error.details == {
        "field": "image",
        "width": 40_000,
        "height": 40_000,
        "max_pixels": LIMITS.max_pixels,
    }


@pytest.mark.usefixtures("no_pixel_decoding")
def test_the_pixel_limit_is_checked_before_any_pixel_is_decoded():
    error = open_error(declared_png(2001, 2000))  # over the limit, under Pillow's own

    assert error.code == errors.INVALID_IMAGE_SIZE
    assert (error.details["width"], error.details["height"]) == (2001, 2000)


def test_an_image_at_the_pixel_limit_is_accepted():
    limits = ii.ImageLimits(LIMITS.max_bytes, max_pixels=64 * 48)

    assert ii.open_image(encode(noise((64, 48)), "PNG"), "image", limits).width == 64
    assert open_error(encode(noise((65, 48)), "PNG"), limits).code == errors.INVALID_IMAGE_SIZE


def test_pillows_decompression_bomb_warning_cannot_escape():
    # Between Pillow's limit and twice it, Pillow only warns; where warnings are errors the
    # warning is raised, and must still become our error.
    limits = ii.ImageLimits(LIMITS.max_bytes, max_pixels=10**12)
    assert Image.MAX_IMAGE_PIXELS is not None
    width = Image.MAX_IMAGE_PIXELS // 1000 + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        error = open_error(declared_png(width, 1000), limits)

    assert error.code == errors.INVALID_IMAGE_SIZE
    assert error.details["max_pixels"] == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("size", [(40, 30), (60, 50)], ids=["Pillow warns", "Pillow refuses"])
def test_pillows_lower_global_limit_is_reported_as_the_limit(monkeypatch, size):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = encode(noise(size), "PNG")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        error = open_error(data)

    assert error.code == errors.INVALID_IMAGE_SIZE
    assert error.details == {
        "field": "image",
        "width": size[0],
        "height": size[1],
        "max_pixels": 1000,
    }


def test_an_oversized_image_in_another_format_is_refused_for_its_format():
    gif = bytearray(encode(Image.new("P", (1, 1)), "GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)  # the logical screen: 4 gigapixels

    error = open_error(bytes(gif))

    assert error.code == errors.INVALID_IMAGE
    assert error.details["format"] == "gif"


def test_a_webp_is_size_checked_before_pillow_opens_it(monkeypatch):
    # libwebp allocates the whole canvas when Pillow opens the file, so the header is read first.
    refuse_image_open(monkeypatch)

    error = open_error(declared_webp(8000, 8000))

    assert error.code == errors.INVALID_IMAGE_SIZE
    assert (error.details["width"], error.details["height"]) == (8000, 8000)


@pytest.mark.parametrize(
    "options",
    [{"lossless": True}, {"quality": 80}, {"quality": 80, "exif": b"Exif\0\0"}],
    ids=["VP8L", "VP8", "VP8X"],
)
def test_every_kind_of_webp_header_is_read(monkeypatch, options):
    data = encode(Image.new("RGB", (123, 45), RED), "WEBP", **options)
    assert ii.open_image(data, "image", ii.ImageLimits(LIMITS.max_bytes, 123 * 45)).width == 123
    refuse_image_open(monkeypatch)

    error = open_error(data, ii.ImageLimits(LIMITS.max_bytes, 123 * 45 - 1))

    assert (error.details["width"], error.details["height"]) == (123, 45)


@pytest.mark.parametrize(
    ("fmt", "options"), [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 90})]
)
def test_a_truncated_image_is_invalid(fmt, options):
    data = encode(noise(), fmt, **options)

    error = open_error(data[: len(data) // 2])

    assert error.code == errors.INVALID_IMAGE
    assert error.details["field"] == "image"
    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # never switched on to get past this


def test_a_truncated_image_says_so():
    data = encode(noise(), "PNG")

    assert "truncated or corrupt" in open_error(data[: len(data) // 2]).message


def test_corrupt_data_in_the_middle_is_invalid():
    data = bytearray(encode(noise(), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 32] = b"\xff" * 32

    error = open_error(bytes(data))

    assert error.code == errors.INVALID_IMAGE
    assert "truncated or corrupt" in error.message


# --- to_rgb ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("1", 1, WHITE),
        ("L", 100, (100, 100, 100)),
        ("LA", (100, 255), (100, 100, 100)),
        ("LA", (100, 0), WHITE),
        ("La", (50, 128), (177, 177, 177)),  # premultiplied: 100 at half opacity, over white
        ("RGB", (1, 2, 3), (1, 2, 3)),
        ("RGBA", (*RED, 255), RED),
        ("RGBA", (*RED, 0), WHITE),
        ("RGBA", (0, 0, 0, 128), (127, 127, 127)),
        ("RGBa", (50, 0, 0, 128), (177, 127, 127)),
        ("CMYK", (0, 255, 255, 0), RED),
        ("CMYK", (0, 0, 0, 255), (0, 0, 0)),
        ("YCbCr", (76, 85, 255), RED),
        ("LAB", (255, 128, 128), WHITE),
        ("HSV", (170, 255, 255), BLUE),
        ("I", 65535, WHITE),
        ("I", 32768, (128, 128, 128)),
        ("I;16", 65535, WHITE),
        ("I;16", 32768, (128, 128, 128)),
        ("I;16B", 65535, WHITE),
        ("I;16L", 257, (1, 1, 1)),
        ("F", 1.0, WHITE),
        ("F", 0.5, (128, 128, 128)),
    ],
)
def test_to_rgb_gives_8_bit_rgb_for_every_mode(mode, value, expected):
    result = ii.to_rgb(Image.new(mode, (4, 4), value))

    assert result.mode == "RGB"
    assert result.size == (4, 4)
    assert close_to(result.getpixel((1, 1)), expected)


@pytest.mark.parametrize("transparency", [0, b"\x00\xff"], ids=["index", "per-entry"])
def test_to_rgb_puts_transparent_palette_entries_on_white(transparency):
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *BLUE])
    image.putpixel((1, 0), 1)
    image.info["transparency"] = transparency

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ii.to_rgb(image)

    assert [result.getpixel((x, 0)) for x in range(2)] == [WHITE, BLUE]


def test_to_rgb_honours_a_transparent_key_in_16_bit_greyscale():
    image = Image.new("I;16", (2, 1), 0)
    image.putpixel((1, 0), 40000)
    decoded = Image.open(io.BytesIO(encode(image, "PNG", transparency=40000)))

    result = ii.to_rgb(decoded)

    assert [result.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), WHITE]


def test_to_rgb_of_an_opened_16_bit_png_is_scaled_not_clipped():
    image = Image.new("I;16", (3, 1))
    for x, value in enumerate((0, 32768, 65535)):
        image.putpixel((x, 0), value)

    result = ii.to_rgb(ii.open_image(encode(image, "PNG"), "image", LIMITS).image)

    assert [result.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


# --- masks -----------------------------------------------------------------------------------


def test_a_black_and_white_mask_marks_white_for_replacement():
    source = Image.new("L", (4, 1))
    for x, value in enumerate((0, 127, 128, 255)):
        source.putpixel((x, 0), value)

    mask = ii.mask_from(source)

    assert mask.mode == "L"
    assert [mask.getpixel((x, 0)) for x in range(4)] == [0, 0, 255, 255]


def test_a_colour_mask_is_read_by_luminance_and_stays_binary():
    mask = ii.mask_from(noise())

    assert mask.mode == "L"
    assert values_of(mask) == {0, 255}
    assert ii.mask_from(Image.new("RGB", (2, 2), WHITE)).getpixel((0, 0)) == 255
    assert ii.mask_from(Image.new("RGB", (2, 2), BLUE)).getpixel((0, 0)) == 0  # dark


def test_in_an_openai_style_mask_alpha_wins_over_colour():
    source = Image.new("RGBA", (4, 1), (*WHITE, 255))  # opaque white: keep, despite white
    source.putpixel((1, 0), (0, 0, 0, 0))  # transparent black: replace, despite black
    source.putpixel((2, 0), (0, 0, 0, 127))
    source.putpixel((3, 0), (0, 0, 0, 128))

    mask = ii.mask_from(source)

    assert [mask.getpixel((x, 0)) for x in range(4)] == [0, 255, 255, 0]


def test_a_fully_opaque_alpha_band_falls_back_to_luminance():
    source = Image.new("RGBA", (2, 1), (*WHITE, 255))
    source.putpixel((1, 0), (0, 0, 0, 255))

    mask = ii.mask_from(source)

    assert [mask.getpixel((x, 0)) for x in range(2)] == [255, 0]


def test_a_16_bit_greyscale_mask_is_read_by_luminance():
    source = Image.new("I;16", (2, 1), 65535)
    source.putpixel((1, 0), 1000)

    mask = ii.mask_from(source)

    assert [mask.getpixel((x, 0)) for x in range(2)] == [255, 0]


def test_alpha_mask_marks_the_transparent_pixels():
    source = Image.new("RGBA", (3, 1), (*RED, 255))
    source.putpixel((1, 0), (*RED, 0))
    source.putpixel((2, 0), (*RED, 200))

    mask = ii.alpha_mask(source)

    assert mask is not None
    assert mask.mode == "L"
    assert [mask.getpixel((x, 0)) for x in range(3)] == [0, 255, 0]


def test_alpha_mask_of_a_transparent_palette_image():
    source = Image.new("P", (2, 1))
    source.putpalette([*RED, *BLUE])
    source.putpixel((1, 0), 1)
    source.info["transparency"] = 1

    mask = ii.alpha_mask(source)

    assert mask is not None
    assert [mask.getpixel((x, 0)) for x in range(2)] == [0, 255]


@pytest.mark.parametrize(
    "source",
    [
        Image.new("RGB", (4, 4)),
        Image.new("RGBA", (4, 4), (*RED, 255)),
        Image.new("RGBA", (4, 4), (*RED, 200)),  # translucent, but nowhere below half
        Image.new("LA", (4, 4), (10, 255)),
    ],
)
def test_alpha_mask_is_none_without_transparent_pixels(source):
    assert ii.alpha_mask(source) is None


# --- target_size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 1024), (1024, 1024)),
        ((3000, 3000), (1024, 1024)),
        ((8, 8), (1024, 1024)),  # tiny: upscaled to the one square size
        ((1920, 1080), (1344, 768)),
        ((1080, 1920), (768, 1344)),
        ((4000, 3000), (1152, 896)),
        ((3000, 4000), (896, 1152)),
        ((1000, 100), (1536, 640)),  # 10:1, beyond the widest allowed
        ((100, 1000), (640, 1536)),
        ((3, 1), (1536, 640)),
    ],
)
def test_sdxl_takes_the_allowed_size_of_the_closest_aspect_ratio(size, expected):
    assert ii.target_size(SDXL, *size) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((800, 1000), (896, 1088)),  # 4:5
        ((1000, 800), (1088, 896)),
        ((600, 400), (1216, 832)),  # 3:2
        ((2100, 900), (1536, 640)),  # 21:9
        ((1600, 900), (1344, 768)),
    ],
)
def test_sd35_takes_the_allowed_size_of_the_closest_aspect_ratio(size, expected):
    assert ii.target_size(SD35, *size) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((500, 500), (512, 512)),
        ((700, 700), (768, 768)),
        ((2000, 2000), (1024, 1024)),
        ((600, 400), (576, 384)),
        ((3000, 2000), (1152, 768)),
        ((1920, 1080), (1152, 640)),  # 1.78: 1152x640 (1.80) beats 1173x640 (1.83)
        ((20, 100), (320, 704)),
    ],
)
def test_titan_prefers_the_closest_pixel_count_among_equal_aspect_ratios(size, expected):
    assert ii.target_size(TITAN, *size) == expected


def test_nova_scales_a_big_image_down_within_its_rule():
    width, height = ii.target_size(NOVA, 8000, 6000)

    assert NOVA.size_rule is not None
    assert NOVA.size_rule.allows(width, height)
    assert width * height > 0.95 * NOVA.size_rule.max_pixels  # as large as allowed
    assert abs(width / height - 4 / 3) < 0.02


def test_nova_keeps_a_size_it_allows_up_to_rounding():
    assert ii.target_size(NOVA, 1280, 720) == (1280, 720)
    assert ii.target_size(NOVA, 1000, 1000) == (992, 992)


def test_nova_scales_a_small_image_up_to_its_smallest_side():
    assert ii.target_size(NOVA, 100, 100) == (320, 320)
    assert ii.target_size(NOVA, 100, 150) == (320, 480)


def test_nova_clamps_an_extreme_aspect_ratio_to_four_to_one():
    assert ii.target_size(NOVA, 10_000, 1_000) == (4096, 1024)
    assert ii.target_size(NOVA, 100, 1000) == (320, 1280)
    assert ii.target_size(NOVA, 1, 10_000) == (320, 1280)


def test_nova_sizes_always_satisfy_the_rule():
    rule = NOVA.size_rule
    assert rule is not None
    sides = [
        1,
        2,
        7,
        100,
        319,
        320,
        321,
        333,
        1000,
        1023,
        2047,
        2049,
        4095,
        4096,
        4097,
        9999,
        40_000,
    ]
    for width in sides:
        for height in sides:
            result = ii.target_size(NOVA, width, height)
            assert rule.allows(*result), (width, height, result)
            aspect = math.log(width / height)
            clamped = max(-math.log(4), min(math.log(4), aspect))
            assert abs(math.log(result[0] / result[1]) - clamped) < 0.1, (width, height, result)


# --- fit, extend_canvas, encode_png ------------------------------------------------------------


@pytest.mark.parametrize("size", [(1024, 1024), (640, 1536), (1536, 640), (333, 77)])
def test_fit_gives_the_exact_size_and_keeps_masks_binary_and_aligned(size):
    image = noise((300, 200))
    mask = Image.new("L", (300, 200), 0)
    mask.paste(255, (100, 50, 200, 150))

    fitted, fitted_mask = ii.fit(image, size), ii.fit(mask, size, mask=True)

    assert fitted.size == fitted_mask.size == size
    assert values_of(fitted_mask) == {0, 255}
    # The mask's square was in the middle of both; it stays there.
    assert fitted_mask.getpixel((size[0] // 2, size[1] // 2)) == 255


def test_fit_crops_the_overflow_around_the_centre():
    image = Image.new("RGB", (300, 100), RED)
    image.paste(BLUE, (100, 0, 200, 100))  # the middle third

    fitted = ii.fit(image, (50, 50))

    assert close_to(fitted.getpixel((25, 25)), BLUE)
    assert close_to(fitted.getpixel((2, 25)), BLUE)


def test_extend_canvas_stretches_the_edges_and_masks_the_new_area():
    image = Image.new("RGB", (4, 3), (10, 20, 30))
    image.putpixel((0, 0), RED)  # the top-left corner
    image.putpixel((3, 2), BLUE)  # the bottom-right corner
    image.putpixel((3, 1), WHITE)  # the right edge

    canvas, mask = ii.extend_canvas(image, left=2, top=1, right=3, bottom=2)

    assert canvas.mode == "RGB"
    assert canvas.size == mask.size == (4 + 2 + 3, 3 + 1 + 2)
    assert canvas.crop((2, 1, 6, 4)).tobytes() == image.tobytes()
    assert canvas.getpixel((0, 0)) == RED == canvas.getpixel((1, 1)) == canvas.getpixel((2, 0))
    assert canvas.getpixel((8, 5)) == BLUE == canvas.getpixel((6, 3)) == canvas.getpixel((5, 5))
    assert canvas.getpixel((8, 2)) == WHITE
    assert mask.mode == "L"
    assert values_of(mask.crop((2, 1, 6, 4))) == {0}
    assert mask.histogram()[255] == 9 * 6 - 4 * 3


def test_extend_canvas_on_one_side_only_and_on_none():
    image = noise((10, 8))

    canvas, mask = ii.extend_canvas(image, 0, 0, 6, 0)
    assert canvas.size == (16, 8)
    assert mask.getbbox() == (10, 0, 16, 8)

    canvas, mask = ii.extend_canvas(image, 0, 0, 0, 0)
    assert canvas.tobytes() == image.tobytes()
    assert mask.getbbox() is None


def test_extend_canvas_puts_transparency_on_white():
    canvas, _ = ii.extend_canvas(Image.new("RGBA", (2, 2), (0, 0, 0, 0)), 1, 1, 1, 1)

    assert values_of(canvas.convert("L")) == {255}


def test_extend_canvas_refuses_negative_extensions():
    with pytest.raises(ValueError):
        ii.extend_canvas(noise(), 0, -1, 0, 0)


def test_encode_png_is_lossless():
    image = noise()

    decoded = Image.open(io.BytesIO(ii.encode_png(image)))

    assert decoded.format == "PNG"
    assert decoded.tobytes() == image.tobytes()

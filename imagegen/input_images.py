"""Input images (uploads, image-to-image sources, inpainting masks): checked and prepared.

Every input image is hostile until proven otherwise. `decode_base64` and `open_image` turn
anything that is not a sane PNG, JPEG or WebP into a ServiceError (never a 500), and check the
declared pixel count before any pixel is decoded. The remaining functions are pure
transformations that prepare a decoded image (or mask) for a model.
"""

from __future__ import annotations

import base64
import io
import math
import re
import string
import struct
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from imagegen import catalog, errors
from imagegen.errors import ServiceError

# Pillow's format name -> (our format name, content type).
ACCEPTED_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpeg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
}
_ACCEPTED_NAMES = "PNG, JPEG or WebP"
# Pillow names a JPEG that carries extra pictures (the Multi-Picture Format phone cameras
# write) MPO; the file, and its first picture, is a plain JPEG.
_FORMAT_ALIASES = {"MPO": "JPEG"}

_WHITESPACE = str.maketrans("", "", string.whitespace)
_DATA_URL_PREFIX = re.compile(r"data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)

# Greyscale modes with more than 8 bits per pixel, which Pillow's convert() clips to 0-255.
_HIGH_BIT_GREY = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# Premultiplied-alpha modes and their straight-alpha form, which the other conversions need.
_PREMULTIPLIED = {"La": "LA", "RGBa": "RGBA"}
_WHITE = (255, 255, 255)
# 8-bit lookup tables for thresholding at the middle grey: 255 = replace the pixel.
_REPLACE_IF_LIGHT = [0] * 128 + [255] * 128
_REPLACE_IF_TRANSPARENT = [255] * 128 + [0] * 128
# Fixed sizes whose aspect ratios are within 1% of each other count as equally close.
_ASPECT_NEAR_TIE = math.log(1.01)


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int  # largest accepted file (encoded bytes)
    max_pixels: int  # largest accepted width*height (decompression-bomb guard)


@dataclass(frozen=True)
class InputImage:
    image: Image.Image  # fully decoded, EXIF orientation applied, first frame only
    format: str  # png | jpeg | webp: the file's real format, whatever its name or type said
    content_type: str
    width: int  # after EXIF orientation
    height: int
    has_alpha: bool  # some pixel is not fully opaque


# --- Decoding and checking ---------------------------------------------------------------


def decode_base64(value: str, field: str, limits: ImageLimits) -> bytes:
    """The bytes of a base64-encoded image.

    Accepts the standard alphabet only (no URL-safe - and _), optionally after a
    `data:image/<type>;base64,` prefix. Whitespace anywhere is ignored (encoders wrap lines),
    and missing `=` padding is tolerated (many encoders drop it; it carries no data).
    The decoded size is computed from the length first, so an oversized value is refused
    without being decoded, whatever it contains.
    """
    payload = value.translate(_WHITESPACE)
    prefix = _DATA_URL_PREFIX.match(payload)
    if prefix:
        payload = payload[prefix.end() :]
    digits = payload.rstrip("=")
    if not digits:
        raise ServiceError(
            errors.INVALID_IMAGE,
            f"{field} is empty: send a base64-encoded {_ACCEPTED_NAMES} image",
            {"field": field},
        )
    # Every 4 base64 digits carry 3 bytes; a final 2 or 3 digits carry 1 or 2.
    if len(digits) * 3 // 4 > limits.max_bytes:
        raise _too_large(field, limits)
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except ValueError as exc:  # binascii.Error (bad digit or padding), or non-ASCII text
        raise ServiceError(
            errors.INVALID_IMAGE,
            f"{field} is not valid base64: use the standard alphabet (A-Z, a-z, 0-9, +, /) "
            "with optional = padding, optionally prefixed with data:image/<type>;base64,",
            {"field": field},
        ) from exc


def open_image(data: bytes, field: str, limits: ImageLimits) -> InputImage:
    """Decode an untrusted image file, or raise the ServiceError that says what is wrong.

    Checked in order: file size, is it an image at all, is it PNG/JPEG/WebP, the pixel count
    its header declares (before any pixel is decoded), and whether it decodes completely.
    Animated images give their first frame; EXIF orientation is applied.
    """
    if len(data) > limits.max_bytes:
        raise _too_large(field, limits, len(data))
    with _open_checked(data, field, limits) as file:
        image = _decode(file, field)
        fmt, content_type = ACCEPTED_FORMATS[_format_name(file)]
    return InputImage(
        image=image,
        format=fmt,
        content_type=content_type,
        width=image.width,
        height=image.height,
        has_alpha=_transparency(image) is not None,
    )


def _open_checked(data: bytes, field: str, limits: ImageLimits) -> ImageFile.ImageFile:
    """The image file, opened (header read, no pixels decoded), of an accepted format and size."""
    max_pixels = _max_pixels(limits)
    webp_size = _webp_canvas_size(data)
    if webp_size is not None:
        _check_pixels(webp_size, field, max_pixels)
    try:
        file = _identify(data)
    except Exception as exc:  # Pillow's parsers fail in many ways on hostile headers
        raise ServiceError(
            errors.INVALID_IMAGE,
            f"{field} is not an image: send a {_ACCEPTED_NAMES} file",
            {"field": field, "accepted_formats": _accepted_list()},
        ) from exc
    try:
        _check_format(file, field)
        _check_pixels(file.size, field, max_pixels)
    except ServiceError:
        file.close()
        raise
    return file


def _max_pixels(limits: ImageLimits) -> int:
    """Our limit, or Pillow's global one (set elsewhere) when that is lower: Pillow refuses
    larger images anyway, and checking first lets us say so with the image's size."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    return limits.max_pixels if pillow_limit is None else min(limits.max_pixels, pillow_limit)


def _webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size a WebP file's header declares; None if data is not such a WebP.

    Pillow's WebP plugin creates libwebp's decoder, which allocates the whole canvas, while
    *opening* the file, so a WebP's size has to be checked before Image.open.
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return (
            int.from_bytes(data[24:27], "little") + 1,
            int.from_bytes(data[27:30], "little") + 1,
        )
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width-1 and height-1
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14-bit width and height
        return (
            int.from_bytes(data[26:28], "little") & 0x3FFF,
            int.from_bytes(data[28:30], "little") & 0x3FFF,
        )
    return None


def _identify(data: bytes) -> ImageFile.ImageFile:
    """Open the file lazily: Pillow reads the header and decodes no pixels yet."""
    try:
        return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's global limit refused the declared size (the warning is raised only where
        # warnings are errors). Read the header again without that check so that the caller
        # can report the format and size; this runs the very parser that has just run.
        return _open_without_size_check(data)


def _open_without_size_check(data: bytes) -> ImageFile.ImageFile:
    """What Image.open does, minus its decompression-bomb check: the first registered format
    parser that accepts the data. Used only on data Image.open has just parsed, so it runs no
    parser that has not already run on it."""
    prefix = data[:16]
    for name in Image.ID:
        parser, accept = Image.OPEN[name]
        if accept is None or accept(prefix) is True:
            try:
                return parser(io.BytesIO(data), "")
            except (SyntaxError, IndexError, TypeError, struct.error):
                continue  # not this format: what Image.open does too
    raise UnidentifiedImageError("no image format parser accepts the data")


def _format_name(file: ImageFile.ImageFile) -> str:
    name = file.format or "unknown"
    return _FORMAT_ALIASES.get(name, name)


def _check_format(file: ImageFile.ImageFile, field: str) -> None:
    name = _format_name(file)
    if name not in ACCEPTED_FORMATS:
        raise ServiceError(
            errors.INVALID_IMAGE,
            f"{field} is a {name} image; only {_ACCEPTED_NAMES} images are accepted",
            {"field": field, "format": name.lower(), "accepted_formats": _accepted_list()},
        )


def _check_pixels(size: tuple[int, int], field: str, max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ServiceError(
            errors.INVALID_IMAGE_SIZE,
            f"{field} is {width}x{height} pixels; images of at most {max_pixels} pixels "
            "(width times height) are accepted",
            {"field": field, "width": width, "height": height, "max_pixels": max_pixels},
        )


def _decode(file: ImageFile.ImageFile, field: str) -> Image.Image:
    """All pixels of the first frame, upright, detached from the file."""
    try:
        # Truncated data raises here as long as ImageFile.LOAD_TRUNCATED_IMAGES stays False,
        # its default, which this service never changes.
        file.load()
        return ImageOps.exif_transpose(file)  # a copy of the current (first) frame
    except Exception as exc:  # corrupt data surfaces as almost any exception type
        raise ServiceError(
            errors.INVALID_IMAGE,
            f"{field} is truncated or corrupt: send a complete {_ACCEPTED_NAMES} file",
            {"field": field},
        ) from exc


def _too_large(field: str, limits: ImageLimits, size: int | None = None) -> ServiceError:
    details: dict[str, object] = {"field": field, "limit_bytes": limits.max_bytes}
    if size is not None:
        details["size_bytes"] = size
    return ServiceError(
        errors.IMAGE_TOO_LARGE,
        f"{field} is larger than the {limits.max_bytes} bytes accepted for an image",
        details,
    )


def _accepted_list() -> list[str]:
    return [name for name, _ in ACCEPTED_FORMATS.values()]


# --- Preparation: colour, masks --------------------------------------------------------


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB for the models, transparency composited over white.

    White rather than black: transparent areas of logos and cut-outs are meant to be seen on
    a light page. Greyscale deeper than 8 bits is scaled, not clipped: I and I;16* as 0-65535
    (what Pillow decodes 16-bit files to), F as 0.0-1.0.
    """
    colour = _opaque_rgb(image)
    alpha = _transparency(image)
    if alpha is None:
        return colour
    return Image.composite(colour, Image.new("RGB", image.size, _WHITE), alpha)


def _opaque_rgb(image: Image.Image) -> Image.Image:
    """The image's colours as RGB, ignoring any transparency."""
    if image.mode in _HIGH_BIT_GREY:
        return _grey_to_8_bit(image).convert("RGB")
    if image.mode in _PREMULTIPLIED:
        image = image.convert(_PREMULTIPLIED[image.mode])
    if image.mode == "P":
        # Pillow warns when a palette image with per-entry transparency goes straight to RGB.
        image = image.convert("RGBA")
    return image.convert("RGB")


def _grey_to_8_bit(image: Image.Image) -> Image.Image:
    """Mode L from a high-bit greyscale image, scaled to the full 0-255 range (rounded)."""
    if image.mode == "F":
        scaled = image.point(lambda value: value * 255 + 0.5)
    else:
        scaled = image.convert("I").point(lambda value: value / 257 + 0.5)
    return scaled.convert("L")  # clips values outside the nominal range


def _alpha_channel(image: Image.Image) -> Image.Image | None:
    """Opacity as mode L (0 = transparent), or None when the image has no transparency at all."""
    last_band = image.getbands()[-1]
    if last_band in ("A", "a"):  # LA, La, PA, RGBA, RGBa; LAB's A is a colour axis, not last
        return image.getchannel(last_band)
    if "transparency" not in image.info:
        return None
    if image.mode in _HIGH_BIT_GREY:
        return _key_colour_alpha(image, image.info["transparency"])
    # Palette transparency, or a transparent key colour in 1/L/RGB: Pillow resolves both.
    return image.convert("RGBA").getchannel("A")


def _key_colour_alpha(image: Image.Image, key: object) -> Image.Image | None:
    """Opacity of a high-bit greyscale image whose pixels equal to `key` are transparent
    (PNG's tRNS for 16-bit greyscale), which Pillow's convert() ignores for these modes."""
    if not isinstance(key, int) or not 0 <= key <= 0xFFFF:
        return None  # no 16-bit pixel can have that value
    table = [255] * 0x10000
    table[key] = 0
    return image.convert("I").point(table, "L")


def _transparency(image: Image.Image) -> Image.Image | None:
    """The image's opacity (mode L), or None when every pixel is fully opaque."""
    alpha = _alpha_channel(image)
    if alpha is None or not any(alpha.histogram()[:255]):
        return None
    return alpha


def mask_from(image: Image.Image) -> Image.Image:
    """A binary mask, mode L, 255 = replace the pixel and 0 = keep it.

    Our convention is white (luminance >= 128) = replace, black = keep. An OpenAI-style mask,
    an image with transparency, is read by its alpha alone (alpha < 128 = replace): its opaque
    part is usually the original picture, whose colours mean nothing.
    """
    alpha = _transparency(image)
    if alpha is not None:
        return alpha.point(_REPLACE_IF_TRANSPARENT)
    return to_rgb(image).convert("L").point(_REPLACE_IF_LIGHT)


def alpha_mask(image: Image.Image) -> Image.Image | None:
    """The image's own transparency as a mask (255 where alpha < 128), or None when no pixel
    is that transparent, so that an image with only soft edges does not ask for an empty edit."""
    alpha = _transparency(image)
    if alpha is None:
        return None
    mask = alpha.point(_REPLACE_IF_TRANSPARENT)
    return mask if mask.getbbox() else None


# --- Preparation: geometry -------------------------------------------------------------


def target_size(spec: catalog.ModelSpec, width: int, height: int) -> tuple[int, int]:
    """The size an input image of width x height is resized to for this model."""
    if spec.size_rule is not None:
        return _size_within_rule(spec.size_rule, width, height)
    return _closest_fixed_size(spec.fixed_sizes, width, height)


def _closest_fixed_size(
    sizes: tuple[tuple[int, int], ...], width: int, height: int
) -> tuple[int, int]:
    """The allowed size closest in aspect ratio (as log ratios, so that 2:1 and 1:2 are equally
    far from 1:1), then, among near-ties, closest in scale: the least cropping, then the least
    resampling."""
    wanted = math.log(width / height)

    def aspect_error(size: tuple[int, int]) -> float:
        return abs(math.log(size[0] / size[1]) - wanted)

    best = min(aspect_error(size) for size in sizes)
    candidates = [size for size in sizes if aspect_error(size) <= best + _ASPECT_NEAR_TIE]
    pixels = width * height
    return min(candidates, key=lambda size: abs(math.log(size[0] * size[1] / pixels)))


def _size_within_rule(rule: catalog.NovaSizeRule, width: int, height: int) -> tuple[int, int]:
    """The input's size and aspect ratio, as far as the rule allows: the ratio clamped to the
    rule's limit (keeping the area), scaled down to fit, or up to reach the smallest side."""
    portrait = height > width
    long_in, short_in = (height, width) if portrait else (width, height)
    ratio = min(long_in / short_in, rule.max_ratio)
    area = width * height
    short = math.sqrt(area / ratio)
    long = short * ratio
    scale = min(1.0, math.sqrt(rule.max_pixels / area), rule.max_side / long)
    scale = max(scale, rule.min_side / short)
    short_px = _round_side(rule, short * scale)
    # Rounding the short side down may have pushed the ratio past the limit: cap the long side.
    long_px = _round_side(rule, min(long * scale, short_px * rule.max_ratio))
    return (short_px, long_px) if portrait else (long_px, short_px)


def _round_side(rule: catalog.NovaSizeRule, side: float) -> int:
    """Down to a multiple of rule.multiple (so limits stay met), but never below min_side."""
    smallest = math.ceil(rule.min_side / rule.multiple) * rule.multiple
    return max(int(side) // rule.multiple * rule.multiple, smallest)


def fit(image: Image.Image, size: tuple[int, int], *, mask: bool = False) -> Image.Image:
    """Resize to exactly `size`, covering it and cropping the overflow around the centre.

    The same call on an image and its mask keeps them aligned; masks are resampled with
    NEAREST so that they stay binary.
    """
    method = Image.Resampling.NEAREST if mask else Image.Resampling.LANCZOS
    return ImageOps.fit(image, size, method=method)


def extend_canvas(
    image: Image.Image, left: int, top: int, right: int, bottom: int
) -> tuple[Image.Image, Image.Image]:
    """For outpainting: the image on a canvas grown by the given pixels per side, and the mask
    of the new area (mode L, 255 = generate, 0 = original pixels).

    The new area repeats the image's edge pixels outward: a better start for the model than a
    flat colour, which it tends to leave visible.
    """
    if min(left, top, right, bottom) < 0:
        raise ValueError("canvas extensions must not be negative")
    rgb = to_rgb(image)
    wide = _stretch_edges_sideways(rgb, left, right)
    # Stretching the widened image's columns of the transpose stretches its rows, corners too.
    canvas = _stretch_edges_sideways(
        wide.transpose(Image.Transpose.TRANSPOSE), top, bottom
    ).transpose(Image.Transpose.TRANSPOSE)
    mask = Image.new("L", canvas.size, 255)
    mask.paste(0, (left, top, left + rgb.width, top + rgb.height))
    return canvas, mask


def _stretch_edges_sideways(image: Image.Image, left: int, right: int) -> Image.Image:
    """The image widened by `left` and `right` columns that repeat its first and last column."""
    width, height = image.size
    out = Image.new(image.mode, (left + width + right, height))
    out.paste(image, (left, 0))
    if left:
        out.paste(
            image.crop((0, 0, 1, height)).resize((left, height), Image.Resampling.NEAREST), (0, 0)
        )
    if right:
        out.paste(
            image.crop((width - 1, 0, width, height)).resize(
                (right, height), Image.Resampling.NEAREST
            ),
            (left + width, 0),
        )
    return out


def encode_png(image: Image.Image) -> bytes:
    """Lossless PNG bytes. Compression level 3: these are intermediate files, sent once, and
    higher levels cost far more time than the few bytes they save."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()

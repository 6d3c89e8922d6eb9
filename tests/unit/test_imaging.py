"""The worker's check of a model's image and its thumbnail, on real Pillow encodings."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.imaging import THUMBNAIL_MAX_SIDE, check_and_thumbnail


def _picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Coloured bands and a disc: enough structure that a bad downscale shows."""
    image = Image.new(mode, (width, height), (20, 40, 200, 255)[: len(mode)])
    draw = ImageDraw.Draw(image)
    for band in range(0, width, width // 8):
        draw.rectangle((band, 0, band + width // 16, height), fill=(230, 180, 30, 255)[: len(mode)])
    draw.ellipse(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(250,) * len(mode)
    )
    return image


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 80} if fmt == "WEBP" else {}))
    return out.getvalue()


def _mean_difference(image: Image.Image, reference: Image.Image) -> list[float]:
    stat = ImageStat.Stat(ImageChops.difference(image.convert("RGB"), reference))
    return list(stat.mean)


@pytest.mark.parametrize(
    ("width", "height", "thumb_size"),
    [
        (1024, 1024, (256, 256)),
        (1216, 832, (256, 175)),
        (640, 1536, (107, 256)),
        (200, 100, (200, 100)),
    ],
)
def test_thumbnail_is_a_webp_of_the_picture_at_most_256_px(
    width: int, height: int, thumb_size: tuple[int, int]
) -> None:
    source = _picture(width, height)

    checked = check_and_thumbnail(_encoded(source, "PNG"))

    assert (checked.width, checked.height, checked.format) == (width, height, "png")
    with Image.open(io.BytesIO(checked.thumbnail)) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == thumb_size
        assert max(thumb.size) <= THUMBNAIL_MAX_SIDE
        # The same picture, as good as the slow way: against a careful (Lanczos) downscale
        # of the source, it differs per channel by at most a level more (of 255) than
        # Pillow's default thumbnail saved as a WebP at the default effort does.
        careful = source.resize(thumb.size, Image.Resampling.LANCZOS)
        default = source.copy()
        default.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
        with Image.open(io.BytesIO(_encoded(default, "WEBP"))) as slow:
            baseline = _mean_difference(slow, careful)
        for got, allowed in zip(_mean_difference(thumb, careful), baseline, strict=True):
            assert got <= allowed + 1.0


def test_thumbnail_keeps_transparency() -> None:
    source = _picture(1024, 1024, "RGBA")
    source.putpixel((0, 0), (0, 0, 0, 0))
    Image.Image.paste(source, (0, 0, 0, 0), (0, 0, 512, 1024))

    checked = check_and_thumbnail(_encoded(source, "PNG"))

    with Image.open(io.BytesIO(checked.thumbnail)) as thumb:
        assert thumb.mode == "RGBA"
        alpha = thumb.getchannel("A")
        assert alpha.getpixel((10, 128)) == 0
        assert alpha.getpixel((250, 128)) == 255


def test_truncated_image_is_a_generation_failure() -> None:
    data = _encoded(_picture(512, 512), "PNG")

    with pytest.raises(ServiceError) as raised:
        check_and_thumbnail(data[: len(data) // 2])

    assert raised.value.code == errors.GENERATION_FAILED


def test_unexpected_format_is_a_generation_failure() -> None:
    with pytest.raises(ServiceError) as raised:
        check_and_thumbnail(_encoded(_picture(64, 64), "BMP"))

    assert raised.value.code == errors.GENERATION_FAILED
    assert "BMP" in str(raised.value)

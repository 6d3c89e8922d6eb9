"""SD3.5 Large image-to-image through boto3; Core and Ultra stay text-to-image only."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from tests.localbedrock.pictures import b64, mean_difference, scene, stripes

SD35 = "stability.sd3-5-large-v1:0"
CORE = "stability.stable-image-core-v1:1"
ULTRA = "stability.stable-image-ultra-v1:1"
SIZE = (640, 448)
INPUT = scene(SIZE)
INPUT_B64 = b64(INPUT)


def image_to_image(**extra: Any) -> dict[str, Any]:
    return {
        "prompt": "a harbour at dawn",
        "mode": "image-to-image",
        "image": INPUT_B64,
        "strength": 0.5,
        "seed": 9,
        **extra,
    }


@pytest.fixture
def output(invoke: Any, decode: Any) -> Any:
    """``output(body)``: the one image of a successful response."""

    def call(body: dict[str, Any]) -> Image.Image:
        result = invoke(SD35, body)
        assert result["finish_reasons"] == [None]
        assert result["seeds"] == [body["seed"]]
        [image_b64] = result["images"]
        return decode(image_b64)

    return call


def test_output_is_a_png_of_the_input_size(output: Any) -> None:
    image = output(image_to_image())
    assert (image.format, image.size, image.mode) == ("PNG", SIZE, "RGB")


@pytest.mark.parametrize(("output_format", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format_is_honoured(output: Any, output_format: str, pil_format: str) -> None:
    image = output(image_to_image(output_format=output_format, negative_prompt="fog"))
    assert (image.format, image.size) == (pil_format, SIZE)


def test_jpeg_and_odd_sized_inputs_are_accepted(output: Any) -> None:
    small = scene((64, 97))
    assert output(image_to_image(image=b64(small, "JPEG"))).size == (64, 97)


def test_output_is_deterministic_per_seed(invoke: Any) -> None:
    def image(seed: int) -> str:
        return invoke(SD35, image_to_image(seed=seed))["images"][0]

    assert image(5) == image(5)
    assert image(5) != image(6)


def test_output_derives_from_the_input(output: Any) -> None:
    image = output(image_to_image(strength=0.3))
    assert image.tobytes() != INPUT.tobytes()
    assert mean_difference(image, INPUT) < mean_difference(image, stripes(SIZE))


def test_strength_zero_returns_the_input(output: Any) -> None:
    assert output(image_to_image(strength=0)).tobytes() == INPUT.tobytes()


def test_strength_one_ignores_the_input(output: Any) -> None:
    from_scene = output(image_to_image(strength=1))
    from_stripes = output(image_to_image(strength=1, image=b64(stripes(SIZE))))
    assert from_scene.tobytes() == from_stripes.tobytes()


def test_text_to_image_mode_still_works(invoke: Any, decode: Any) -> None:
    result = invoke(SD35, {"prompt": "a fox", "mode": "text-to-image", "aspect_ratio": "16:9"})
    assert decode(result["images"][0]).size == (1344, 768)


TOO_MANY_PIXELS = b64(Image.new("RGB", (4097, 2304), (10, 20, 30)))  # 9,439,488 pixels


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"mode": "image-to-image", "image": INPUT_B64, "strength": 0.5},
            "#: required key [prompt] not found",
        ),
        (
            {"prompt": "x", "mode": "image-to-image", "strength": 0.5},
            "#: required key [image] not found",
        ),
        (
            {"prompt": "x", "mode": "image-to-image", "image": INPUT_B64},
            "#: required key [strength] not found",
        ),
        (image_to_image(strength=1.5), "#/strength: 1.5 is not less or equal to 1"),
        (image_to_image(strength=-0.5), "#/strength: -0.5 is not greater or equal to 0"),
        (image_to_image(strength="0.5"), "#/strength: expected type: Number, found: String"),
        (image_to_image(aspect_ratio="1:1"), "#: extraneous key [aspect_ratio] is not permitted"),
        (image_to_image(style_preset="anime"), "#: extraneous key [style_preset] is not permitted"),
        (image_to_image(cfg_scale=5), "#: extraneous key [cfg_scale] is not permitted"),
        (image_to_image(output_format="gif"), "#/output_format: gif is not a valid enum value"),
        (image_to_image(seed=4294967295), "#/seed: 4294967295 is not less or equal to"),
        (image_to_image(prompt="a" * 10_001), "#/prompt: expected maxLength: 10000"),
        (image_to_image(image="***"), "#/image: string is not valid base64"),
        (image_to_image(image="aGVsbG8="), "#/image: decoded data is not a PNG or JPEG image"),
        (image_to_image(image=["x"]), "#/image: expected type: String, found: JSONArray"),
        (
            image_to_image(image=b64(scene((63, 200)))),
            "#/image: image width 63 px is outside the allowed range (at least 64 px)",
        ),
        (
            image_to_image(image=b64(scene((200, 63)))),
            "#/image: image height 63 px is outside the allowed range (at least 64 px)",
        ),
        (
            image_to_image(image=TOO_MANY_PIXELS),
            "#/image: image 4097x2304 has 9439488 pixels, more than 9437184",
        ),
        (
            {"prompt": "x", "image": INPUT_B64, "strength": 0.5},
            "#: extraneous key [image] is not permitted",
        ),
        (
            {"prompt": "x", "mode": "text-to-image", "strength": 0.5},
            "#: extraneous key [strength] is not permitted",
        ),
    ],
)
def test_invalid_image_to_image_bodies_are_rejected(
    invoke_error: Any, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(SD35, body, "ValidationException", fragment)


@pytest.mark.parametrize(
    ("model_id", "body", "fragment"),
    [
        (CORE, image_to_image(), "#/mode: image-to-image is not a valid enum value"),
        (
            CORE,
            {"prompt": "x", "image": INPUT_B64, "strength": 0.5},
            "#: extraneous key [image] is not permitted",
        ),
        (ULTRA, image_to_image(), "Image-to-image (image, strength) is not supported by"),
        (ULTRA, {"prompt": "x", "strength": 0.5}, "Image-to-image (image, strength) is not"),
        (ULTRA, {"prompt": "x", "mode": "image-to-image"}, "image-to-image is not a valid enum"),
    ],
)
def test_core_and_ultra_reject_image_to_image(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)

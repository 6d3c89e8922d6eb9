"""SD3.5 Large, Stable Image Core and Ultra through boto3: shapes, sizes, formats, rules."""

from __future__ import annotations

from typing import Any

import pytest

SD35 = "stability.sd3-5-large-v1:0"
CORE = "stability.stable-image-core-v1:1"
ULTRA = "stability.stable-image-ultra-v1:1"
MODELS = (SD35, CORE, ULTRA)
SEED_MAX = {SD35: 4294967294, CORE: 4294967295, ULTRA: 4294967295}
ASPECT_RATIO_SIZES = {
    "16:9": (1344, 768),
    "1:1": (1024, 1024),
    "21:9": (1536, 640),
    "2:3": (832, 1216),
    "3:2": (1216, 832),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}


@pytest.mark.parametrize("model_id", MODELS)
def test_minimal_body_returns_one_png_and_its_seed(invoke: Any, decode: Any, model_id: str) -> None:
    result = invoke(model_id, {"prompt": "a lighthouse"})

    assert result["finish_reasons"] == [None]
    [seed] = result["seeds"]
    assert 0 < seed <= SEED_MAX[model_id]
    [image_b64] = result["images"]
    image = decode(image_b64)
    assert (image.format, image.size) == ("PNG", (1024, 1024))


@pytest.mark.parametrize(
    ("model_id", "extra", "image_format"),
    [
        (SD35, {"mode": "text-to-image", "output_format": "webp"}, "WEBP"),
        (CORE, {"mode": "text-to-image", "output_format": "jpeg"}, "JPEG"),
        (ULTRA, {"mode": "text-to-image", "output_format": "jpeg"}, "JPEG"),
    ],
)
def test_full_body_is_accepted(
    invoke: Any, decode: Any, model_id: str, extra: dict[str, Any], image_format: str
) -> None:
    body = {
        "prompt": "a lighthouse on a cliff at sunset",
        "negative_prompt": "fog",
        "aspect_ratio": "21:9",
        "seed": SEED_MAX[model_id],
        **extra,
    }
    result = invoke(model_id, body)

    assert result["seeds"] == [SEED_MAX[model_id]]
    image = decode(result["images"][0])
    assert (image.format, image.size) == (image_format, (1536, 640))


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.parametrize(("ratio", "size"), ASPECT_RATIO_SIZES.items())
def test_aspect_ratio_gives_the_documented_pixel_size(
    invoke: Any, decode: Any, model_id: str, ratio: str, size: tuple[int, int]
) -> None:
    result = invoke(model_id, {"prompt": "ratio", "aspect_ratio": ratio, "seed": 1})
    assert decode(result["images"][0]).size == size


@pytest.mark.parametrize("model_id", MODELS)
def test_same_seed_same_bytes_other_seed_other_bytes(invoke: Any, model_id: str) -> None:
    def image(seed: int) -> str:
        return invoke(model_id, {"prompt": "a red fox", "seed": seed})["images"][0]

    assert image(21) == image(21)
    assert image(21) != image(22)


@pytest.mark.parametrize("model_id", MODELS)
def test_seed_zero_means_random(invoke: Any, model_id: str) -> None:
    first, second = (invoke(model_id, {"prompt": "a red fox", "seed": 0}) for _ in range(2))
    assert first["seeds"] != [0]
    assert first["seeds"] != second["seeds"]
    assert first["images"] != second["images"]


@pytest.mark.parametrize("model_id", MODELS)
def test_prompt_at_max_length_is_accepted(invoke: Any, model_id: str) -> None:
    body = {"prompt": "a" * 10_000, "negative_prompt": "b" * 10_000, "seed": 1}
    assert len(invoke(model_id, body)["images"]) == 1


COMMON_INVALID = [
    ({"aspect_ratio": "1:1"}, "#: required key [prompt] not found"),
    ({"prompt": 42}, "#/prompt: expected type: String, found: Integer"),
    ({"prompt": "a" * 10_001}, "#/prompt: expected maxLength: 10000, actual: 10001"),
    (
        {"prompt": "ok", "negative_prompt": "b" * 10_001},
        "#/negative_prompt: expected maxLength: 10000, actual: 10001",
    ),
    ({"prompt": "ok", "negative_prompt": 1}, "#/negative_prompt: expected type: String"),
    ({"prompt": "ok", "aspect_ratio": "4:3"}, "#/aspect_ratio: 4:3 is not a valid enum value"),
    ({"prompt": "ok", "seed": -1}, "#/seed: -1 is not greater or equal to 0"),
    ({"prompt": "ok", "seed": "7"}, "#/seed: expected type: Integer, found: String"),
    ({"prompt": "ok", "output_format": "gif"}, "#/output_format: gif is not a valid enum value"),
    ({"prompt": "ok", "mode": "sketch"}, "#/mode: sketch is not a valid enum value"),
    ({"prompt": "ok", "cfg_scale": 5}, "#: extraneous key [cfg_scale] is not permitted"),
    ({"prompt": "ok", "text_prompts": []}, "#: extraneous key [text_prompts] is not permitted"),
]


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.parametrize(("body", "fragment"), COMMON_INVALID)
def test_invalid_bodies_are_rejected(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)


@pytest.mark.parametrize(
    ("model_id", "body", "fragment"),
    [
        (SD35, {"prompt": "ok", "seed": 4294967295}, "4294967295 is not less or equal to"),
        (CORE, {"prompt": "ok", "seed": 4294967296}, "4294967296 is not less or equal to"),
        (ULTRA, {"prompt": "ok", "seed": 4294967296}, "4294967296 is not less or equal to"),
        (CORE, {"prompt": "ok", "output_format": "webp"}, "webp is not a valid enum value"),
        (ULTRA, {"prompt": "ok", "output_format": "webp"}, "webp is not a valid enum value"),
        # AWS's Core page lists no style_preset, though Stability's own REST API takes one.
        (CORE, {"prompt": "ok", "style_preset": "anime"}, "extraneous key [style_preset]"),
        (SD35, {"prompt": "ok", "style_preset": "anime"}, "extraneous key [style_preset]"),
        (ULTRA, {"prompt": "ok", "style_preset": "anime"}, "extraneous key [style_preset]"),
        (CORE, {"prompt": "ok", "mode": "image-to-image"}, "image-to-image is not a valid enum"),
        (ULTRA, {"prompt": "ok", "mode": "image-to-image"}, "image-to-image is not a valid enum"),
        (CORE, {"prompt": "ok", "image": "aGVsbG8="}, "extraneous key [image] is not permitted"),
        (SD35, {"prompt": "ok", "mode": "image-to-image"}, "#: required key [image] not found"),
        (SD35, {"prompt": "ok", "image": "aGVsbG8=", "strength": 0.5}, "extraneous key [image]"),
        (ULTRA, {"prompt": "ok", "image": "aGVsbG8="}, "Image-to-image (image, strength)"),
    ],
)
def test_model_specific_rules(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)


def test_core_and_ultra_accept_the_seed_sd35_rejects(invoke: Any) -> None:
    for model_id in (CORE, ULTRA):
        assert invoke(model_id, {"prompt": "ok", "seed": 4294967295})["seeds"] == [4294967295]

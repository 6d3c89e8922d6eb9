"""Titan Image Generator v1 and v2 through boto3: shapes, sizes, seeds and every rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

TITAN_V1 = "amazon.titan-image-generator-v1"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
MODELS = (TITAN_V1, TITAN_V2)
PERMISSIBLE_SIZES = [
    (1024, 1024),
    (768, 768),
    (512, 512),
    (768, 1152),
    (384, 576),
    (1152, 768),
    (576, 384),
    (768, 1280),
    (384, 640),
    (1280, 768),
    (640, 384),
    (896, 1152),
    (448, 576),
    (1152, 896),
    (576, 448),
    (768, 1408),
    (384, 704),
    (1408, 768),
    (704, 384),
    (640, 1408),
    (320, 704),
    (1408, 640),
    (704, 320),
    (1152, 640),
    (1173, 640),
]


def text_image(text: str = "a lighthouse", **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": text}}
    if config:
        body["imageGenerationConfig"] = config
    return body


@pytest.mark.parametrize("model_id", MODELS)
def test_minimal_body_returns_one_png(invoke: Any, decode: Any, model_id: str) -> None:
    result = invoke(model_id, text_image())

    assert result["error"] is None
    [image_b64] = result["images"]
    image = decode(image_b64)
    assert (image.format, image.size) == ("PNG", (1024, 1024))


@pytest.mark.parametrize("model_id", MODELS)
def test_full_body_returns_n_distinct_images(invoke: Any, decode: Any, model_id: str) -> None:
    body = {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "a" * 512, "negativeText": "b" * 512},
        "imageGenerationConfig": {
            "numberOfImages": 5,
            "width": 1173,
            "height": 640,
            "cfgScale": 10,
            "seed": 2147483646,
            "quality": "premium",
        },
    }
    images = invoke(model_id, body)["images"]

    assert len(images) == 5
    assert len(set(images)) == 5
    assert {decode(image).size for image in images} == {(1173, 640)}


@pytest.mark.parametrize(("width", "height"), PERMISSIBLE_SIZES)
def test_every_permissible_size_is_rendered_at_that_size(
    invoke: Any, decode: Any, width: int, height: int
) -> None:
    result = invoke(TITAN_V2, text_image(width=width, height=height, seed=1))
    assert decode(result["images"][0]).size == (width, height)


@pytest.mark.parametrize("model_id", MODELS)
def test_same_seed_same_bytes_other_seed_other_bytes(invoke: Any, model_id: str) -> None:
    def image(seed: int) -> str:
        return invoke(model_id, text_image("a red fox", seed=seed))["images"][0]

    assert image(31) == image(31)
    assert image(31) != image(32)


@pytest.mark.parametrize("model_id", MODELS)
def test_batch_images_share_the_seed_yet_differ(invoke: Any, model_id: str) -> None:
    # Titan takes one seed per call and reports none per image: its images are not the
    # ones seed+1, seed+2 would give.
    batch = invoke(model_id, text_image("a red fox", seed=40, numberOfImages=3))["images"]
    singles = [invoke(model_id, text_image("a red fox", seed=s))["images"][0] for s in (40, 41, 42)]
    assert len(set(batch)) == 3
    assert batch[0] == singles[0]
    assert not set(batch[1:]) & set(singles)


@pytest.mark.parametrize("model_id", MODELS)
def test_absent_seed_uses_the_documented_default_42(invoke: Any, model_id: str) -> None:
    assert invoke(model_id, text_image("a red fox")) == invoke(
        model_id, text_image("a red fox", seed=42)
    )


@pytest.mark.parametrize("model_id", MODELS)
def test_negative_text_changes_the_image(invoke: Any, model_id: str) -> None:
    with_negative = copy.deepcopy(text_image("a red fox", seed=1))
    with_negative["textToImageParams"]["negativeText"] = "snow"
    assert invoke(model_id, text_image("a red fox", seed=1)) != invoke(model_id, with_negative)


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = text_image(seed=1)
    body.setdefault("imageGenerationConfig", {})
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


COMMON_INVALID = [
    ({"textToImageParams": {"text": "x"}}, "#: required key [taskType] not found"),
    ({"taskType": "TEXT_TO_IMAGE"}, "#/taskType: TEXT_TO_IMAGE is not a valid enum value"),
    ({"taskType": "TEXT_IMAGE"}, "#: required key [textToImageParams] not found"),
    (
        {"taskType": "TEXT_IMAGE", "textToImageParams": "x"},
        "#/textToImageParams: expected type: JSONObject, found: String",
    ),
    ({"taskType": "TEXT_IMAGE", "textToImageParams": {}}, "required key [text] not found"),
    (_with(("textToImageParams", "text"), ""), "text: expected minLength: 1, actual: 0"),
    (_with(("textToImageParams", "text"), "a" * 513), "expected maxLength: 512, actual: 513"),
    (
        _with(("textToImageParams", "negativeText"), ""),
        "#/textToImageParams/negativeText: expected minLength: 1, actual: 0",
    ),
    (
        _with(("textToImageParams", "negativeText"), "b" * 513),
        "#/textToImageParams/negativeText: expected maxLength: 512, actual: 513",
    ),
    (
        _with(("textToImageParams", "style"), "PHOTOREALISM"),
        "#/textToImageParams: extraneous key [style] is not permitted",
    ),
    (
        _with(("imageGenerationConfig", "numberOfImages"), 0),
        "#/imageGenerationConfig/numberOfImages: 0 is not greater or equal to 1",
    ),
    (
        _with(("imageGenerationConfig", "numberOfImages"), 6),
        "#/imageGenerationConfig/numberOfImages: 6 is not less or equal to 5",
    ),
    (
        _with(("imageGenerationConfig", "cfgScale"), 1.0),
        "#/imageGenerationConfig/cfgScale: 1.0 is not greater or equal to 1.1",
    ),
    (
        _with(("imageGenerationConfig", "cfgScale"), 10.5),
        "#/imageGenerationConfig/cfgScale: 10.5 is not less or equal to 10",
    ),
    (
        _with(("imageGenerationConfig", "seed"), -1),
        "#/imageGenerationConfig/seed: -1 is not greater or equal to 0",
    ),
    (
        _with(("imageGenerationConfig", "seed"), 2147483647),
        "#/imageGenerationConfig/seed: 2147483647 is not less or equal to 2147483646",
    ),
    (
        _with(("imageGenerationConfig", "quality"), "ultra"),
        "#/imageGenerationConfig/quality: ultra is not a valid enum value",
    ),
    (text_image(width=1000, height=1000), "width x height 1000x1000 is not a permissible size"),
    (
        _with(("imageGenerationConfig", "width"), 512),
        "width x height 512x1024 is not a permissible size",
    ),
    (
        _with(("imageGenerationConfig", "steps"), 50),
        "#/imageGenerationConfig: extraneous key [steps] is not permitted",
    ),
    (
        {**text_image(), "imageGenerationConfig": []},
        "#/imageGenerationConfig: expected type: JSONObject, found: JSONArray",
    ),
    ({**text_image(), "prompt": "x"}, "#: extraneous key [prompt] is not permitted"),
    (
        {**text_image(), "inPaintingParams": {}},
        "#: extraneous key [inPaintingParams] is not permitted",
    ),
    ({"taskType": "INPAINTING"}, "#: required key [inPaintingParams] not found"),
    ({"taskType": "OUTPAINTING"}, "#: required key [outPaintingParams] not found"),
    ({"taskType": "IMAGE_VARIATION"}, "#: required key [imageVariationParams] not found"),
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
        (TITAN_V2, {"taskType": "COLOR_GUIDED_GENERATION"}, "Task COLOR_GUIDED_GENERATION is not"),
        (TITAN_V2, {"taskType": "BACKGROUND_REMOVAL"}, "required key [backgroundRemovalParams]"),
        (TITAN_V1, {"taskType": "BACKGROUND_REMOVAL"}, "BACKGROUND_REMOVAL is not a valid enum"),
        (
            TITAN_V2,
            _with(("textToImageParams", "conditionImage"), "aGVsbG8="),
            "Image conditioning (conditionImage) is not supported",
        ),
        (
            TITAN_V1,
            _with(("textToImageParams", "conditionImage"), "aGVsbG8="),
            "extraneous key [conditionImage] is not permitted",
        ),
    ],
)
def test_version_specific_rules(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)

"""Nova Canvas through boto3: shapes, free sizes within limits, styles, seeds, every rule."""

from __future__ import annotations

from typing import Any

import pytest

NOVA = "amazon.nova-canvas-v1:0"
STYLES = (
    "3D_ANIMATED_FAMILY_FILM",
    "DESIGN_SKETCH",
    "FLAT_VECTOR_ILLUSTRATION",
    "GRAPHIC_NOVEL_ILLUSTRATION",
    "MAXIMALISM",
    "MIDCENTURY_RETRO",
    "PHOTOREALISM",
    "SOFT_DIGITAL_PAINTING",
)


def text_image(text: str = "a lighthouse", style: str | None = None, **config: Any) -> dict:
    params: dict[str, Any] = {"text": text}
    if style is not None:
        params["style"] = style
    body: dict[str, Any] = {"taskType": "TEXT_IMAGE", "textToImageParams": params}
    if config:
        body["imageGenerationConfig"] = config
    return body


def test_minimal_body_returns_one_png(invoke: Any, decode: Any) -> None:
    result = invoke(NOVA, text_image())

    assert result["error"] is None
    [image_b64] = result["images"]
    image = decode(image_b64)
    assert (image.format, image.size) == ("PNG", (1024, 1024))


def test_full_body_returns_n_distinct_images(invoke: Any, decode: Any) -> None:
    body = {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {
            "text": "a" * 1024,
            "negativeText": "b" * 1024,
            "style": "PHOTOREALISM",
        },
        "imageGenerationConfig": {
            "numberOfImages": 5,
            "width": 1280,
            "height": 720,
            "cfgScale": 1.1,
            "seed": 858993459,
            "quality": "premium",
        },
    }
    images = invoke(NOVA, body)["images"]

    assert len(images) == 5
    assert len(set(images)) == 5
    assert {decode(image).size for image in images} == {(1280, 720)}


@pytest.mark.parametrize(
    ("width", "height"),
    [(320, 320), (320, 1280), (1280, 320), (4096, 1024), (1024, 4096), (2048, 2048), (1920, 1088)],
)
def test_sizes_within_the_limits_are_rendered(
    invoke: Any, decode: Any, width: int, height: int
) -> None:
    result = invoke(NOVA, text_image(width=width, height=height, seed=1))
    assert decode(result["images"][0]).size == (width, height)


@pytest.mark.parametrize("style", STYLES)
def test_every_style_is_accepted_and_changes_the_image(invoke: Any, style: str) -> None:
    styled = invoke(NOVA, text_image("a red fox", style=style, seed=3))["images"][0]
    plain = invoke(NOVA, text_image("a red fox", seed=3))["images"][0]
    assert styled != plain


def test_same_seed_same_bytes_other_seed_other_bytes(invoke: Any) -> None:
    def image(seed: int) -> str:
        return invoke(NOVA, text_image("a red fox", seed=seed))["images"][0]

    assert image(51) == image(51)
    assert image(51) != image(52)


def test_batch_images_share_the_seed_yet_differ(invoke: Any) -> None:
    batch = invoke(NOVA, text_image("a red fox", seed=60, numberOfImages=2))["images"]
    singles = [invoke(NOVA, text_image("a red fox", seed=s))["images"][0] for s in (60, 61)]
    assert batch[0] == singles[0]
    assert batch[1] not in singles


def test_absent_seed_uses_the_documented_default_12(invoke: Any) -> None:
    assert invoke(NOVA, text_image("a red fox")) == invoke(NOVA, text_image("a red fox", seed=12))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"textToImageParams": {"text": "x"}}, "#: required key [taskType] not found"),
        ({"taskType": "TEXT_IMAGE"}, "#: required key [textToImageParams] not found"),
        (
            {"taskType": "TEXT_IMAGE", "textToImageParams": {"negativeText": "x"}},
            "#/textToImageParams: required key [text] not found",
        ),
        (text_image(""), "#/textToImageParams/text: expected minLength: 1, actual: 0"),
        (
            text_image("a" * 1025),
            "#/textToImageParams/text: expected maxLength: 1024, actual: 1025",
        ),
        (
            {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x", "negativeText": ""}},
            "#/textToImageParams/negativeText: expected minLength: 1, actual: 0",
        ),
        (
            {
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": "x", "negativeText": "b" * 1025},
            },
            "#/textToImageParams/negativeText: expected maxLength: 1024, actual: 1025",
        ),
        (text_image(style="ANIME"), "#/textToImageParams/style: ANIME is not a valid enum value"),
        (
            text_image(width=1000, height=1008),
            "#/imageGenerationConfig/width: 1000 is not a multiple of 16",
        ),
        (
            text_image(width=1024, height=1000),
            "#/imageGenerationConfig/height: 1000 is not a multiple of 16",
        ),
        (text_image(width=304), "#/imageGenerationConfig/width: 304 is not greater or equal to"),
        (text_image(height=4112), "#/imageGenerationConfig/height: 4112 is not less or equal"),
        (text_image(width=320, height=1296), "aspect ratio of 320x1296 is outside the range"),
        (text_image(width=4096, height=1008), "aspect ratio of 4096x1008 is outside the range"),
        (text_image(width=2048, height=2064), "2048x2064 has 4227072 pixels, more than 4194304"),
        (text_image(numberOfImages=6), "#/imageGenerationConfig/numberOfImages: 6 is not less"),
        (text_image(numberOfImages=0), "#/imageGenerationConfig/numberOfImages: 0 is not great"),
        (text_image(cfgScale=10.1), "#/imageGenerationConfig/cfgScale: 10.1 is not less or"),
        (text_image(cfgScale=1), "#/imageGenerationConfig/cfgScale: 1 is not greater or equal"),
        (text_image(seed=858993460), "seed: 858993460 is not less or equal to 858993459"),
        (text_image(seed=-1), "#/imageGenerationConfig/seed: -1 is not greater or equal to 0"),
        (text_image(quality="hd"), "#/imageGenerationConfig/quality: hd is not a valid enum"),
        (text_image(steps=20), "#/imageGenerationConfig: extraneous key [steps] is not permitted"),
        ({"taskType": "TEXT_TO_IMAGE"}, "#/taskType: TEXT_TO_IMAGE is not a valid enum value"),
        (
            {
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": "x", "conditionImage": "aGVsbG8="},
            },
            "Image conditioning (conditionImage) is not supported",
        ),
    ],
)
def test_invalid_bodies_are_rejected(
    invoke_error: Any, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(NOVA, body, "ValidationException", fragment)


@pytest.mark.parametrize("task", ["COLOR_GUIDED_GENERATION", "VIRTUAL_TRY_ON"])
def test_other_tasks_are_recognised_but_not_emulated(invoke_error: Any, task: str) -> None:
    invoke_error(
        NOVA,
        {"taskType": task},
        "ValidationException",
        f"Task {task} is not supported by localbedrock yet",
    )

"""SDXL 1.0 image-to-image and masking through boto3: outputs derive from the init image."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from tests.localbedrock.pictures import (
    b64,
    box_mask,
    changed_fraction,
    complement,
    mean_difference,
    region,
    same_outside,
    scene,
    stripes,
)

SDXL = "stability.stable-diffusion-xl-v1"
SIZE = (1024, 1024)
INIT = scene(SIZE)
INIT_B64 = b64(INIT)
BOX = (256, 384, 767, 639)
WHITE_BOX_MASK_B64 = b64(box_mask(SIZE, BOX, inside="white"))
BLACK_BOX_MASK_B64 = b64(box_mask(SIZE, BOX, inside="black"))
PROMPTS = [{"text": "a watercolour harbour"}]


def image_to_image(**extra: Any) -> dict[str, Any]:
    return {"text_prompts": PROMPTS, "init_image": INIT_B64, "seed": 7, **extra}


def masking(mask_source: str = "MASK_IMAGE_WHITE", **extra: Any) -> dict[str, Any]:
    body = {"text_prompts": PROMPTS, "init_image": INIT_B64, "mask_source": mask_source, "seed": 7}
    if mask_source != "INIT_IMAGE_ALPHA":
        body["mask_image"] = WHITE_BOX_MASK_B64
    return {**body, **extra}


@pytest.fixture
def output(invoke: Any, decode: Any) -> Any:
    """``output(body)``: the one artifact's image, after checking the response shape."""

    def call(body: dict[str, Any]) -> Image.Image:
        result = invoke(SDXL, body)
        assert result["result"] == "success"
        [artifact] = result["artifacts"]
        assert artifact["finishReason"] == "SUCCESS"
        assert artifact["seed"] == body.get("seed", artifact["seed"])
        image = decode(artifact["base64"])
        assert image.format == "PNG"
        return image

    return call


@pytest.mark.parametrize("size", [(1024, 1024), (896, 1152), (1536, 640)])
def test_image_to_image_output_has_the_init_image_size(output: Any, size: tuple[int, int]) -> None:
    image = output({"text_prompts": PROMPTS, "init_image": b64(scene(size)), "seed": 1})
    assert (image.size, image.mode) == (size, "RGB")


def test_full_image_to_image_bodies_are_accepted(output: Any) -> None:
    common = {
        "cfg_scale": 12,
        "clip_guidance_preset": "FAST_BLUE",
        "sampler": "K_EULER",
        "samples": 1,
        "steps": 40,
        "style_preset": "anime",
        "extras": {},
    }
    strength = image_to_image(init_image_mode="IMAGE_STRENGTH", image_strength=0.6, **common)
    schedule = image_to_image(
        init_image_mode="STEP_SCHEDULE", step_schedule_start=0.4, step_schedule_end=0.9, **common
    )
    assert output(strength).size == output(schedule).size == SIZE


def test_jpeg_init_image_is_accepted(output: Any) -> None:
    assert output(image_to_image(init_image=b64(INIT, "JPEG"))).size == SIZE


def test_image_to_image_is_deterministic_per_seed(invoke: Any) -> None:
    def artifact(seed: int) -> str:
        return invoke(SDXL, image_to_image(seed=seed))["artifacts"][0]["base64"]

    assert artifact(3) == artifact(3)
    assert artifact(3) != artifact(4)


def test_image_to_image_derives_from_the_init_image(output: Any) -> None:
    image = output(image_to_image(image_strength=0.7))
    assert image.tobytes() != INIT.tobytes()
    assert mean_difference(image, INIT) < mean_difference(image, stripes(SIZE))


def test_more_image_strength_stays_closer_to_the_init_image(output: Any) -> None:
    distances = [
        mean_difference(output(image_to_image(image_strength=s)), INIT) for s in (0.2, 0.5, 0.8)
    ]
    assert distances == sorted(distances, reverse=True)
    assert distances[-1] > 0


@pytest.mark.parametrize(
    "extra",
    [
        {"image_strength": 1},
        {"init_image_mode": "STEP_SCHEDULE", "step_schedule_start": 0},
    ],
)
def test_full_strength_or_zero_schedule_returns_the_init_image(
    output: Any, extra: dict[str, Any]
) -> None:
    assert output(image_to_image(**extra)).tobytes() == INIT.tobytes()


def test_step_schedule_start_defaults_to_0_65(invoke: Any) -> None:
    def artifact(**extra: Any) -> str:
        body = image_to_image(init_image_mode="STEP_SCHEDULE", **extra)
        return invoke(SDXL, body)["artifacts"][0]["base64"]

    assert artifact() == artifact(step_schedule_start=0.65)
    assert artifact() != artifact(step_schedule_start=0.3)


@pytest.mark.parametrize(
    ("mask", "replaced"),
    [
        ("MASK_IMAGE_WHITE", region(SIZE, BOX)),
        ("MASK_IMAGE_BLACK", complement(region(SIZE, BOX))),
    ],
)
def test_masking_replaces_only_the_masked_pixels(
    output: Any, mask: str, replaced: Image.Image
) -> None:
    image = output(masking(mask))

    assert image.size == SIZE
    assert same_outside(image, INIT, replaced)
    assert changed_fraction(image, INIT, replaced) > 0.5


def test_init_image_alpha_replaces_the_transparent_pixels(output: Any) -> None:
    init = INIT.copy()
    init.putalpha(complement(region(SIZE, BOX)))  # transparent inside the box

    image = output(masking("INIT_IMAGE_ALPHA", init_image=b64(init)))

    assert image.mode == "RGB"
    assert same_outside(image, INIT, region(SIZE, BOX))
    assert changed_fraction(image, INIT, region(SIZE, BOX)) > 0.5


def test_masking_is_deterministic_and_full_bodies_are_accepted(invoke: Any) -> None:
    body = masking(
        "MASK_IMAGE_BLACK", cfg_scale=5, sampler="DDIM", steps=10, style_preset="origami"
    )
    first, second = (invoke(SDXL, body)["artifacts"][0]["base64"] for _ in range(2))
    assert first == second


def test_a_mask_image_is_accepted_and_unused_with_init_image_alpha(invoke: Any) -> None:
    init = INIT.copy()
    init.putalpha(255)
    body = masking("INIT_IMAGE_ALPHA", init_image=b64(init))
    plain = invoke(SDXL, body)["artifacts"][0]["base64"]
    with_mask = invoke(SDXL, {**body, "mask_image": BLACK_BOX_MASK_B64})["artifacts"][0]["base64"]
    assert plain == with_mask


SMALL_B64 = b64(scene((512, 512)))
NOT_AN_IMAGE = "aGVsbG8gd29ybGQ="  # "hello world"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"init_image": INIT_B64}, "#: required key [text_prompts] not found"),
        (image_to_image(width=1024), "#: extraneous key [width] is not permitted"),
        (image_to_image(height=1024), "#: extraneous key [height] is not permitted"),
        (image_to_image(strength=0.5), "#: extraneous key [strength] is not permitted"),
        (image_to_image(mask_image=WHITE_BOX_MASK_B64), "#: extraneous key [mask_image]"),
        (image_to_image(init_image_mode="STRENGTH"), "#/init_image_mode: STRENGTH is not a valid"),
        (image_to_image(image_strength=1.5), "#/image_strength: 1.5 is not less or equal to 1"),
        (image_to_image(image_strength=-0.1), "#/image_strength: -0.1 is not greater or equal"),
        (image_to_image(image_strength="high"), "#/image_strength: expected type: Number"),
        (
            image_to_image(init_image_mode="STEP_SCHEDULE", step_schedule_start=1.2),
            "#/step_schedule_start: 1.2 is not less or equal to 1",
        ),
        (
            image_to_image(init_image_mode="STEP_SCHEDULE", step_schedule_end=-1),
            "#/step_schedule_end: -1 is not greater or equal to 0",
        ),
        (
            image_to_image(step_schedule_start=0.5),
            "#: step_schedule_start is not permitted with init_image_mode IMAGE_STRENGTH",
        ),
        (
            image_to_image(init_image_mode="STEP_SCHEDULE", image_strength=0.5),
            "#: image_strength is not permitted with init_image_mode STEP_SCHEDULE",
        ),
        (image_to_image(init_image="not base64!"), "#/init_image: string is not valid base64"),
        (image_to_image(init_image=NOT_AN_IMAGE), "#/init_image: decoded data is not a PNG or"),
        (image_to_image(init_image=""), "#/init_image: decoded data is not a PNG or JPEG image"),
        (
            image_to_image(init_image=b64(INIT, "GIF")),
            "#/init_image: decoded data is not a PNG or JPEG image",
        ),
        (image_to_image(init_image=42), "#/init_image: expected type: String, found: Integer"),
        (
            image_to_image(init_image=SMALL_B64),
            "#/init_image: image size 512x512 is not one of the allowed sizes (640x1536,",
        ),
        (
            image_to_image(text_prompts=[{"text": "a" * 2001}]),
            "#/text_prompts/0/text: expected maxLength: 2000",
        ),
        (image_to_image(samples=2), "#/samples: 2 is not less or equal to 1"),
        (image_to_image(style_preset="oil"), "#/style_preset: oil is not a valid enum value"),
        (masking(mask_source="MASK_IMAGE_RED"), "#/mask_source: MASK_IMAGE_RED is not a valid"),
        (
            {"text_prompts": PROMPTS, "mask_source": "MASK_IMAGE_WHITE"},
            "#: required key [init_image] not found",
        ),
        (
            {"init_image": INIT_B64, "mask_source": "MASK_IMAGE_WHITE"},
            "#: required key [text_prompts] not found",
        ),
        (
            {"text_prompts": PROMPTS, "init_image": INIT_B64, "mask_source": "MASK_IMAGE_BLACK"},
            "#: required key [mask_image] not found (mask_source MASK_IMAGE_BLACK)",
        ),
        (masking(image_strength=0.5), "#: extraneous key [image_strength] is not permitted"),
        (
            masking(init_image_mode="IMAGE_STRENGTH"),
            "#: extraneous key [init_image_mode] is not permitted",
        ),
        (masking(width=1024), "#: extraneous key [width] is not permitted"),
        (masking(mask="x"), "#: extraneous key [mask] is not permitted"),
        (
            masking(mask_image=b64(box_mask((896, 1152), (0, 0, 10, 10)))),
            "#/mask_image: size 896x1152 does not match the image size 1024x1024",
        ),
        (masking(mask_image="%%%"), "#/mask_image: string is not valid base64"),
        (masking(mask_image=NOT_AN_IMAGE), "#/mask_image: decoded data is not a PNG or JPEG"),
        (
            masking("INIT_IMAGE_ALPHA"),
            "#/init_image: image has no alpha channel for mask_source INIT_IMAGE_ALPHA",
        ),
    ],
)
def test_invalid_edit_bodies_are_rejected(
    invoke_error: Any, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(SDXL, body, "ValidationException", fragment)

"""SDXL 1.0 through boto3: response shape, sizes, seeds and every validation rule."""

from __future__ import annotations

from typing import Any

import pytest

SDXL = "stability.stable-diffusion-xl-v1"
SEED_MAX = 4294967295
ALLOWED_SIZES = [
    (1024, 1024),
    (1152, 896),
    (1216, 832),
    (1344, 768),
    (1536, 640),
    (640, 1536),
    (768, 1344),
    (832, 1216),
    (896, 1152),
]


def test_minimal_body_returns_one_png_of_default_size(invoke: Any, decode: Any) -> None:
    result = invoke(SDXL, {"text_prompts": [{"text": "a lighthouse"}]})

    assert result["result"] == "success"
    [artifact] = result["artifacts"]
    assert artifact["finishReason"] == "SUCCESS"
    assert 0 < artifact["seed"] <= SEED_MAX  # absent seed: a random one, reported
    image = decode(artifact["base64"])
    assert (image.format, image.size) == ("PNG", (1024, 1024))


def test_full_body_is_accepted(invoke: Any, decode: Any) -> None:
    body = {
        "text_prompts": [
            {"text": "a lighthouse on a cliff", "weight": 1.0},
            {"text": "blurry", "weight": -0.5},
        ],
        "height": 768,
        "width": 1344,
        "cfg_scale": 10.5,
        "clip_guidance_preset": "FAST_BLUE",
        "sampler": "K_DPMPP_2S_ANCESTRAL",
        "samples": 1,
        "seed": 4294967295,
        "steps": 150,
        "style_preset": "photographic",
        "extras": {},
    }
    [artifact] = invoke(SDXL, body)["artifacts"]

    assert artifact["seed"] == SEED_MAX
    assert decode(artifact["base64"]).size == (1344, 768)


@pytest.mark.parametrize(("width", "height"), ALLOWED_SIZES)
def test_every_allowed_size_is_rendered_at_that_size(
    invoke: Any, decode: Any, width: int, height: int
) -> None:
    body = {"text_prompts": [{"text": "size"}], "width": width, "height": height, "seed": 3}
    [artifact] = invoke(SDXL, body)["artifacts"]
    assert decode(artifact["base64"]).size == (width, height)


def test_same_seed_same_bytes_other_seed_other_bytes(invoke: Any) -> None:
    def image(seed: int) -> str:
        body = {"text_prompts": [{"text": "a red fox"}], "seed": seed}
        return invoke(SDXL, body)["artifacts"][0]["base64"]

    assert image(11) == image(11)
    assert image(11) != image(12)


def test_seed_zero_means_random(invoke: Any) -> None:
    body = {"text_prompts": [{"text": "a red fox"}], "seed": 0}
    first, second = (invoke(SDXL, body)["artifacts"][0] for _ in range(2))
    assert first["seed"] != 0
    assert first["seed"] != second["seed"]
    assert first["base64"] != second["base64"]


def test_negative_weight_prompt_changes_the_image(invoke: Any) -> None:
    plain = {"text_prompts": [{"text": "a red fox"}], "seed": 5}
    with_negative = {
        "text_prompts": [{"text": "a red fox"}, {"text": "snow", "weight": -1}],
        "seed": 5,
    }
    assert (
        invoke(SDXL, plain)["artifacts"][0]["base64"]
        != invoke(SDXL, with_negative)["artifacts"][0]["base64"]
    )


OK = {"text_prompts": [{"text": "ok"}]}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "#: required key [text_prompts] not found"),
        ({"text_prompts": []}, "#/text_prompts: expected minimum item count: 1"),
        ({"text_prompts": "a fox"}, "#/text_prompts: expected type: JSONArray, found: String"),
        ({"text_prompts": [{}]}, "#/text_prompts/0: required key [text] not found"),
        ({"text_prompts": ["a fox"]}, "#/text_prompts/0: expected type: JSONObject, found: String"),
        (
            {"text_prompts": [{"text": "a fox", "style": "x"}]},
            "#/text_prompts/0: extraneous key [style] is not permitted",
        ),
        ({"text_prompts": [{"text": 5}]}, "#/text_prompts/0/text: expected type: String"),
        (
            {"text_prompts": [{"text": "a" * 2001}]},
            "#/text_prompts/0/text: expected maxLength: 2000, actual: 2001",
        ),
        (
            {"text_prompts": [{"text": "ok", "weight": "high"}]},
            "#/text_prompts/0/weight: expected type: Number",
        ),
        ({**OK, "width": 1000, "height": 1000}, "1000x1000 is not one of the allowed sizes"),
        ({**OK, "height": 896}, "1024x896 is not one of the allowed sizes"),
        ({**OK, "width": "1024"}, "#/width: expected type: Integer, found: String"),
        ({**OK, "cfg_scale": 35.5}, "#/cfg_scale: 35.5 is not less or equal to 35"),
        ({**OK, "cfg_scale": -1}, "#/cfg_scale: -1 is not greater or equal to 0"),
        ({**OK, "steps": 9}, "#/steps: 9 is not greater or equal to 10"),
        ({**OK, "steps": 151}, "#/steps: 151 is not less or equal to 150"),
        ({**OK, "seed": -1}, "#/seed: -1 is not greater or equal to 0"),
        ({**OK, "seed": 4294967296}, "#/seed: 4294967296 is not less or equal to 4294967295"),
        ({**OK, "seed": 1.5}, "#/seed: expected type: Integer, found: Number"),
        ({**OK, "samples": 2}, "#/samples: 2 is not less or equal to 1"),
        ({**OK, "samples": 0}, "#/samples: 0 is not greater or equal to 1"),
        ({**OK, "sampler": "EULER"}, "#/sampler: EULER is not a valid enum value"),
        (
            {**OK, "clip_guidance_preset": "FAST"},
            "#/clip_guidance_preset: FAST is not a valid enum value",
        ),
        ({**OK, "style_preset": "watercolor"}, "#/style_preset: watercolor is not a valid enum"),
        ({**OK, "extras": []}, "#/extras: expected type: JSONObject, found: JSONArray"),
        ({**OK, "prompt": "x"}, "#: extraneous key [prompt] is not permitted"),
        ({**OK, "init_image": "aGVsbG8="}, "#/init_image: decoded data is not a PNG or JPEG"),
        ({**OK, "image_strength": 0.5}, "#: extraneous key [image_strength] is not permitted"),
    ],
)
def test_invalid_bodies_are_rejected(
    invoke_error: Any, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(SDXL, body, "ValidationException", fragment)

"""Request bodies per model family, as AWS documents them, and response parsing."""

from __future__ import annotations

import base64

import pytest

from imagegen.errors import ServiceError
from imagegen.generation import parse_request, plan_generation
from imagegen.plan import ModelCall
from imagegen.providers.bodies import build_body, parse_response

PNG = base64.b64encode(b"\x89PNG-not-checked-here").decode()


def plan(model: str, **body):
    return plan_generation(parse_request({"prompt": "a cat", "model": model, **body}), model)


def test_titan_body_leaves_out_what_was_not_asked():
    result = build_body(plan("amazon.titan-image-generator-v1"), ModelCall(3, 2))
    assert result == {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "a cat"},
        "imageGenerationConfig": {
            "numberOfImages": 2,
            "width": 1024,
            "height": 1024,
            "seed": 3,
            "quality": "standard",
        },
    }


def test_nova_body_with_every_control():
    p = plan(
        "amazon.nova-canvas-v1:0",
        negative_prompt="rain",
        quality="hd",
        cfg_scale=6.5,
        style_preset="DESIGN_SKETCH",
        size="1024x1792",
    )
    assert build_body(p, ModelCall(8, 1)) == {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "a cat", "negativeText": "rain", "style": "DESIGN_SKETCH"},
        "imageGenerationConfig": {
            "numberOfImages": 1,
            "width": 1024,
            "height": 1792,
            "seed": 8,
            "quality": "premium",
            "cfgScale": 6.5,
        },
    }


@pytest.mark.parametrize(
    "model",
    [
        "stability.sd3-5-large-v1:0",
        "stability.stable-image-core-v1:1",
        "stability.stable-image-ultra-v1:1",
    ],
)
def test_stability_v2_body(model):
    assert build_body(plan(model, size="1792x1024", negative_prompt="blur"), ModelCall(4, 1)) == {
        "prompt": "a cat",
        "aspect_ratio": "16:9",
        "seed": 4,
        "output_format": "png",
        "negative_prompt": "blur",
    }


def test_sdxl_filtered_artifact_is_img003():
    p = plan("stability.stable-diffusion-xl-v1")
    body = {
        "result": "success",
        "artifacts": [{"seed": 1, "base64": PNG, "finishReason": "CONTENT_FILTERED"}],
    }
    with pytest.raises(ServiceError) as caught:
        parse_response(p, ModelCall(1, 1), body)
    assert caught.value.code == "IMG003"


def test_stability_v2_filter_reason_is_img003_with_the_reason():
    p = plan("stability.sd3-5-large-v1:0")
    body = {"seeds": [1], "finish_reasons": ["Filter reason: prompt"], "images": [PNG]}
    with pytest.raises(ServiceError) as caught:
        parse_response(p, ModelCall(1, 1), body)
    assert caught.value.details["safety_issues"] == ["Filter reason: prompt"]


def test_stability_v2_success_reports_the_models_seed():
    p = plan("stability.stable-image-core-v1:1")
    [artifact] = parse_response(
        p, ModelCall(1, 1), {"seeds": [77], "finish_reasons": [None], "images": [PNG]}
    )
    assert artifact.seed == 77


@pytest.mark.parametrize(
    "body",
    [{"images": []}, {"images": ["%%%not-base64"]}, {"images": [PNG], "error": "model broke"}],
)
def test_amazon_bad_answers_are_img201(body):
    with pytest.raises(ServiceError) as caught:
        parse_response(plan("amazon.nova-canvas-v1:0"), ModelCall(1, 1), body)
    assert caught.value.code == "IMG201"


def test_stable_image_core_gets_only_the_fields_its_bedrock_page_lists():
    # model-parameters-diffusion-stable-image-core-text-image-request-response.html: prompt,
    # aspect_ratio, mode, output_format, seed, negative_prompt; no style_preset, even for
    # the natural style (Stability's own REST API takes one; Bedrock's page does not).
    body = build_body(
        plan("stability.stable-image-core-v1:1", style="natural", negative_prompt="blur"),
        ModelCall(1, 1),
    )
    assert set(body) <= {
        "prompt",
        "aspect_ratio",
        "mode",
        "output_format",
        "seed",
        "negative_prompt",
    }

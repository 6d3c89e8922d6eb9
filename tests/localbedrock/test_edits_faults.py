"""Failure injection and the call log for editing tasks: triggers, filters, recorded task."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.localbedrock.pictures import b64, box_mask, scene

SDXL = "stability.stable-diffusion-xl-v1"
SD35 = "stability.sd3-5-large-v1:0"
TITAN_V1 = "amazon.titan-image-generator-v1"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
NOVA = "amazon.nova-canvas-v1:0"
SDXL_IMAGE = b64(scene((1024, 1024)))
SDXL_MASK = b64(box_mask((1024, 1024), (0, 0, 511, 511), inside="white"))
IMAGE = b64(scene((512, 512)))
MASK = b64(box_mask((512, 512), (0, 0, 255, 255)))


def sdxl_image_to_image(prompt: str) -> dict[str, Any]:
    return {"text_prompts": [{"text": prompt}], "init_image": SDXL_IMAGE, "seed": 3}


def sdxl_masking(prompt: str) -> dict[str, Any]:
    return {
        **sdxl_image_to_image(prompt),
        "mask_source": "MASK_IMAGE_WHITE",
        "mask_image": SDXL_MASK,
    }


def sd35_image_to_image(prompt: str) -> dict[str, Any]:
    return {"prompt": prompt, "mode": "image-to-image", "image": IMAGE, "strength": 0.4}


def inpainting(prompt: str) -> dict[str, Any]:
    params = {"image": IMAGE, "text": prompt, "maskImage": MASK}
    return {"taskType": "INPAINTING", "inPaintingParams": params}


def outpainting(prompt: str) -> dict[str, Any]:
    params = {"image": IMAGE, "text": prompt, "maskPrompt": "the ball"}
    return {"taskType": "OUTPAINTING", "outPaintingParams": params}


def variation(prompt: str) -> dict[str, Any]:
    params = {"images": [IMAGE], "text": prompt}
    return {"taskType": "IMAGE_VARIATION", "imageVariationParams": params}


EDITS = [
    (SDXL, sdxl_image_to_image),
    (SDXL, sdxl_masking),
    (SD35, sd35_image_to_image),
    (TITAN_V1, inpainting),
    (TITAN_V2, outpainting),
    (TITAN_V2, variation),
    (NOVA, inpainting),
    (NOVA, variation),
]
TRIGGERS = [
    ("trigger-throttle", "ThrottlingException"),
    ("trigger-not-ready", "ModelNotReadyException"),
    ("trigger-timeout", "ModelTimeoutException"),
    ("trigger-error", "InternalServerException"),
    ("trigger-unavailable", "ServiceUnavailableException"),
]


@pytest.mark.parametrize(("model_id", "build"), EDITS)
@pytest.mark.parametrize(("word", "code"), TRIGGERS)
def test_trigger_words_work_for_edit_tasks(
    invoke_error: Any, model_id: str, build: Any, word: str, code: str
) -> None:
    invoke_error(model_id, build(f"a castle {word}"), code)


@pytest.mark.parametrize(("model_id", "build"), EDITS)
def test_validation_runs_before_trigger_words(invoke_error: Any, model_id: str, build: Any) -> None:
    # The same body with its input image spoiled: the image error wins over the trigger.
    text = json.dumps(build("trigger-throttle")).replace(IMAGE, "bad!").replace(SDXL_IMAGE, "bad!")
    invoke_error(model_id, json.loads(text), "ValidationException", "string is not valid base64")


def test_flaky_prompt_counts_edit_calls_too(invoke: Any, invoke_error: Any) -> None:
    body = inpainting("flaky edit trigger-flaky-1")
    invoke_error(NOVA, body, "ThrottlingException")
    assert len(invoke(NOVA, body)["images"]) == 1


@pytest.mark.parametrize("build", [sdxl_image_to_image, sdxl_masking])
def test_sdxl_filter_answers_content_filtered_at_the_init_size(
    invoke: Any, decode: Any, build: Any
) -> None:
    [artifact] = invoke(SDXL, build("a forbidden-content scene"))["artifacts"]
    assert artifact["finishReason"] == "CONTENT_FILTERED"
    assert decode(artifact["base64"]).size == (1024, 1024)


def test_sd35_filter_answers_the_finish_reason(invoke: Any) -> None:
    result = invoke(SD35, sd35_image_to_image("a forbidden-content scene"))
    assert result == {"finish_reasons": ["Filter reason: prompt"]}


@pytest.mark.parametrize(
    ("model_id", "build"), [(TITAN_V1, inpainting), (TITAN_V2, outpainting), (NOVA, variation)]
)
def test_amazon_filter_rejects_edit_tasks(invoke_error: Any, model_id: str, build: Any) -> None:
    invoke_error(
        model_id,
        build("a forbidden-content scene"),
        "ValidationException",
        "This request has been blocked by our content filters.",
    )


def test_the_call_log_records_the_task_without_image_data(
    endpoint: Any, invoke: Any, invoke_error: Any, body_for: Any
) -> None:
    endpoint.local("DELETE", "/_local/requests")
    invoke(SDXL, sdxl_masking("logged"))
    invoke(SD35, sd35_image_to_image("logged"))
    invoke(NOVA, inpainting("logged"))
    invoke(
        TITAN_V2, {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": IMAGE}}
    )
    invoke(TITAN_V1, body_for(TITAN_V1, "logged"))
    invoke(SDXL, body_for(SDXL, "logged"))
    invoke_error(NOVA, {"taskType": "INPAINTING"}, "ValidationException")

    calls = endpoint.recorded()

    assert [(call["model_id"], call["task"]) for call in calls] == [
        (SDXL, "masking"),
        (SD35, "image-to-image"),
        (NOVA, "INPAINTING"),
        (TITAN_V2, "BACKGROUND_REMOVAL"),
        (TITAN_V1, "TEXT_IMAGE"),
        (SDXL, "text-to-image"),
        (NOVA, None),
    ]
    assert calls[2]["body"]["inPaintingParams"]["image"].startswith("<base64:")
    assert calls[2]["body"]["inPaintingParams"]["maskImage"].startswith("<base64:")
    assert all(IMAGE not in json.dumps(call) for call in calls)

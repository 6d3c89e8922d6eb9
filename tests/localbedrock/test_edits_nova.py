"""Nova Canvas editing limits through boto3: input sizes, text lengths, output sizes.

The task behaviour Nova shares with Titan is tested in test_edits_titan.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from tests.localbedrock.pictures import b64, box_mask, scene

NOVA = "amazon.nova-canvas-v1:0"


def inpainting(size: tuple[int, int], **params: Any) -> dict[str, Any]:
    return {
        "taskType": "INPAINTING",
        "inPaintingParams": {
            "image": b64(scene(size)),
            "maskImage": b64(box_mask(size, (0, 0, size[0] // 2, size[1] // 2))),
            **params,
        },
    }


def variation(width: int, height: int, **params: Any) -> dict[str, Any]:
    return {
        "taskType": "IMAGE_VARIATION",
        "imageVariationParams": {"images": [b64(scene((512, 512)))], **params},
        "imageGenerationConfig": {"width": width, "height": height},
    }


def flat(size: tuple[int, int]) -> str:
    """A cheap large input: one colour compresses to almost nothing."""
    return b64(Image.new("RGB", size, (90, 120, 150)))


@pytest.mark.parametrize("size", [(320, 320), (500, 350), (1280, 320), (320, 1280), (2048, 2048)])
def test_inputs_within_the_limits_keep_their_size(
    invoke: Any, decode: Any, size: tuple[int, int]
) -> None:
    [image] = invoke(NOVA, inpainting(size, text="a cat"))["images"]
    assert decode(image).size == size


def test_text_up_to_1024_characters_is_accepted(invoke: Any) -> None:
    body = inpainting((512, 512), text="a" * 1024, negativeText="b" * 1024)
    assert len(invoke(NOVA, body)["images"]) == 1


def test_variation_takes_any_valid_nova_output_size(invoke: Any, decode: Any) -> None:
    [image] = invoke(NOVA, variation(1280, 720, similarityStrength=0.4))["images"]
    assert decode(image).size == (1280, 720)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            inpainting((319, 512)),
            "#/inPaintingParams/image: image width 319 px is outside the allowed range (320-4096",
        ),
        (
            {
                "taskType": "BACKGROUND_REMOVAL",
                "backgroundRemovalParams": {"image": flat((1024, 4097))},
            },
            "#/backgroundRemovalParams/image: image height 4097 px is outside the allowed range",
        ),
        (
            inpainting((320, 1296)),
            "#/inPaintingParams/image: aspect ratio of 320x1296 is outside the range 1:4 to 4:1",
        ),
        (
            {
                "taskType": "OUTPAINTING",
                "outPaintingParams": {
                    "image": flat((2048, 2064)),
                    "text": "x",
                    "maskPrompt": "sky",
                },
            },
            "#/outPaintingParams/image: image 2048x2064 has 4227072 pixels, more than 4194304",
        ),
        (
            variation(512, 512, images=[b64(scene((512, 512))), b64(scene((300, 600)))]),
            "#/imageVariationParams/images/1: image width 300 px is outside the allowed range",
        ),
        (
            inpainting((512, 512), text="a" * 1025),
            "#/inPaintingParams/text: expected maxLength: 1024, actual: 1025",
        ),
        (
            inpainting((512, 512), negativeText="b" * 1025),
            "#/inPaintingParams/negativeText: expected maxLength: 1024, actual: 1025",
        ),
        (
            variation(1000, 1008),
            "#/imageGenerationConfig/width: 1000 is not a multiple of 16",
        ),
        (variation(4096, 1008), "aspect ratio of 4096x1008 is outside the range"),
        (variation(304, 512), "#/imageGenerationConfig/width: 304 is not greater or equal to"),
        (
            {**variation(512, 512), "imageGenerationConfig": {"seed": 858993460}},
            "seed: 858993460 is not less or equal to 858993459",
        ),
        (
            # Even a fully opaque alpha channel: our service flattens images before sending.
            inpainting((512, 512), image=b64(Image.new("RGBA", (512, 512), (9, 9, 9, 255)))),
            "#/inPaintingParams/image: image must be RGB without transparency",
        ),
        (
            inpainting((512, 512), style="PHOTOREALISM"),
            "#/inPaintingParams: extraneous key [style] is not permitted",
        ),
    ],
)
def test_nova_limits(invoke_error: Any, body: dict[str, Any], fragment: str) -> None:
    invoke_error(NOVA, body, "ValidationException", fragment)

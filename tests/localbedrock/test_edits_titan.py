"""Titan's editing tasks through boto3, on Titan v1, v2 and Nova Canvas (which shares them).

Nova's own limits are in test_edits_nova.py.
"""

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

TITAN_V1 = "amazon.titan-image-generator-v1"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
NOVA = "amazon.nova-canvas-v1:0"
MODELS = (TITAN_V1, TITAN_V2, NOVA)
SIZE = (512, 512)
IMAGE = scene(SIZE)
IMAGE_B64 = b64(IMAGE)
BOX = (96, 160, 351, 415)
MASK_B64 = b64(box_mask(SIZE, BOX))  # black (inside the mask) within BOX
INSIDE = region(SIZE, BOX)
# maskPrompt stands in for a centred ellipse within the middle half of each side.
PROMPT_AREA = region(SIZE, (128, 128, 383, 383))
PROMPT_CORE = region(SIZE, (224, 224, 287, 287))  # well inside that ellipse


def inpainting(**params: Any) -> dict[str, Any]:
    return {
        "taskType": "INPAINTING",
        "inPaintingParams": {"image": IMAGE_B64, "text": "a cat", "maskImage": MASK_B64, **params},
        "imageGenerationConfig": {"seed": 5},
    }


def outpainting(**params: Any) -> dict[str, Any]:
    return {
        "taskType": "OUTPAINTING",
        "outPaintingParams": {
            "image": IMAGE_B64,
            "text": "a beach",
            "maskImage": MASK_B64,
            **params,
        },
        "imageGenerationConfig": {"seed": 5},
    }


def variation(images: list[str] | None = None, **params: Any) -> dict[str, Any]:
    return {
        "taskType": "IMAGE_VARIATION",
        "imageVariationParams": {"images": images or [IMAGE_B64], **params},
        "imageGenerationConfig": {"seed": 5, "width": 512, "height": 512},
    }


def without_mask(body: dict[str, Any]) -> dict[str, Any]:
    params_key = "inPaintingParams" if body["taskType"] == "INPAINTING" else "outPaintingParams"
    params = {k: v for k, v in body[params_key].items() if k != "maskImage"}
    return {**body, params_key: params}


def with_config(body: dict[str, Any], **config: Any) -> dict[str, Any]:
    return {**body, "imageGenerationConfig": {**body["imageGenerationConfig"], **config}}


@pytest.fixture
def outputs(invoke: Any, decode: Any) -> Any:
    """``outputs(model_id, body)``: the decoded PNG images of a successful response."""

    def call(model_id: str, body: dict[str, Any]) -> list[Image.Image]:
        result = invoke(model_id, body)
        assert result["error"] is None
        images = [decode(image) for image in result["images"]]
        assert {image.format for image in images} == {"PNG"}
        return images

    return call


@pytest.mark.parametrize("model_id", MODELS)
def test_inpainting_changes_only_the_inside_of_the_mask(outputs: Any, model_id: str) -> None:
    [image] = outputs(model_id, inpainting())

    assert (image.size, image.mode) == (SIZE, "RGB")
    assert same_outside(image, IMAGE, INSIDE)
    assert changed_fraction(image, IMAGE, INSIDE) > 0.5


@pytest.mark.parametrize("model_id", MODELS)
def test_inpainting_without_text_fills_the_mask(outputs: Any, model_id: str) -> None:
    body = inpainting()
    del body["inPaintingParams"]["text"]
    [image] = outputs(model_id, body)
    assert same_outside(image, IMAGE, INSIDE)
    assert changed_fraction(image, IMAGE, INSIDE) > 0.5


@pytest.mark.parametrize("model_id", MODELS)
def test_inpainting_with_a_mask_prompt_changes_the_centre(outputs: Any, model_id: str) -> None:
    [image] = outputs(model_id, without_mask(inpainting(maskPrompt="the red ball")))
    assert same_outside(image, IMAGE, PROMPT_AREA)
    assert changed_fraction(image, IMAGE, PROMPT_CORE) > 0.5


@pytest.mark.parametrize("model_id", MODELS)
def test_outpainting_keeps_the_inside_of_the_mask(outputs: Any, model_id: str) -> None:
    [image] = outputs(model_id, outpainting(outPaintingMode="PRECISE"))

    assert (image.size, image.mode) == (SIZE, "RGB")
    assert same_outside(image, IMAGE, complement(INSIDE))
    assert changed_fraction(image, IMAGE, complement(INSIDE)) > 0.5


@pytest.mark.parametrize("model_id", MODELS)
def test_outpainting_with_a_mask_prompt_keeps_the_centre(outputs: Any, model_id: str) -> None:
    body = without_mask(outpainting(maskPrompt="the red ball", outPaintingMode="DEFAULT"))
    [image] = outputs(model_id, body)
    assert same_outside(image, IMAGE, complement(PROMPT_CORE))
    assert changed_fraction(image, IMAGE, complement(PROMPT_AREA)) > 0.5


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.parametrize("build", [inpainting, outpainting])
def test_mask_edits_are_deterministic_and_batch_images_share_the_seed(
    invoke: Any, model_id: str, build: Any
) -> None:
    def images(seed: int, count: int = 1) -> list[str]:
        body = with_config(build(), seed=seed, numberOfImages=count)
        return invoke(model_id, body)["images"]

    batch = images(20, count=3)
    assert len(set(batch)) == 3
    assert batch == images(20, count=3)
    assert batch[0] == images(20)[0]
    assert not set(batch[1:]) & set(images(21) + images(22))


@pytest.mark.parametrize("model_id", MODELS)
def test_full_mask_edit_bodies_are_accepted(outputs: Any, model_id: str) -> None:
    body = with_config(
        inpainting(negativeText="blur", text="a" * 512),
        numberOfImages=2,
        cfgScale=9.5,
        quality="premium",
    )
    assert [image.size for image in outputs(model_id, body)] == [SIZE, SIZE]


@pytest.mark.parametrize("model_id", MODELS)
def test_jpeg_inputs_are_accepted(outputs: Any, model_id: str) -> None:
    body = inpainting(image=b64(IMAGE, "JPEG"), maskImage=b64(box_mask(SIZE, BOX), "JPEG"))
    [image] = outputs(model_id, body)
    assert image.size == SIZE


@pytest.mark.parametrize("model_id", MODELS)
def test_mask_edit_output_has_the_input_size(outputs: Any, model_id: str) -> None:
    size = (384, 576)
    body = inpainting(image=b64(scene(size)), maskImage=b64(box_mask(size, (0, 0, 99, 99))))
    [image] = outputs(model_id, body)
    assert image.size == size


@pytest.mark.parametrize("model_id", MODELS)
def test_variation_has_the_configured_size_and_derives_from_the_reference(
    outputs: Any, model_id: str
) -> None:
    body = with_config(variation(), width=384, height=576, numberOfImages=2)
    images = outputs(model_id, body)

    assert [image.size for image in images] == [(384, 576)] * 2
    reference = IMAGE.resize((384, 576))
    for image in images:
        assert image.tobytes() != reference.tobytes()
        assert mean_difference(image, reference) < mean_difference(image, stripes((384, 576)))


@pytest.mark.parametrize("model_id", [TITAN_V2, NOVA])
def test_full_similarity_returns_the_average_of_the_references(outputs: Any, model_id: str) -> None:
    [single] = outputs(model_id, variation(similarityStrength=1.0))
    assert single.tobytes() == IMAGE.tobytes()

    black, white = (b64(Image.new("RGB", SIZE, colour)) for colour in ("black", "white"))
    [mixed] = outputs(model_id, variation([black, white], similarityStrength=1))
    [(low, high)] = set(mixed.getextrema())  # one grey everywhere: 255 / 2, rounded
    assert low == high in (127, 128)


@pytest.mark.parametrize("model_id", [TITAN_V2, NOVA])
def test_lower_similarity_moves_away_from_the_references(outputs: Any, model_id: str) -> None:
    images = [b64(IMAGE), b64(scene((640, 448))), b64(IMAGE, "JPEG"), IMAGE_B64, IMAGE_B64]
    distances = [
        mean_difference(outputs(model_id, variation(images, similarityStrength=s))[0], IMAGE)
        for s in (0.9, 0.6, 0.2)
    ]
    assert distances == sorted(distances)


@pytest.mark.parametrize("model_id", [TITAN_V2, NOVA])
def test_similarity_strength_defaults_to_0_7(invoke: Any, model_id: str) -> None:
    assert invoke(model_id, variation()) == invoke(model_id, variation(similarityStrength=0.7))


def test_titan_v1_variation_takes_one_image_without_similarity(outputs: Any) -> None:
    body = variation(text="a red ball", negativeText="snow")
    [image] = outputs(TITAN_V1, body)
    assert image.size == SIZE


@pytest.mark.parametrize("model_id", [TITAN_V2, NOVA])
def test_background_removal_cuts_out_the_subject(outputs: Any, model_id: str) -> None:
    body = {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": IMAGE_B64}}
    [image] = outputs(model_id, body)

    assert (image.size, image.mode) == (SIZE, "RGBA")
    assert image.convert("RGB").tobytes() == IMAGE.tobytes()
    alpha = image.getchannel("A")
    assert {alpha.getpixel(corner) for corner in [(0, 0), (511, 0), (0, 511), (511, 511)]} == {0}
    assert alpha.crop((200, 200, 312, 312)).getextrema() == (255, 255)
    assert outputs(model_id, body)[0].tobytes() == image.tobytes()


def test_titan_v2_accepts_return_mask(outputs: Any) -> None:
    assert len(outputs(TITAN_V2, inpainting(returnMask=True))) == 1
    assert len(outputs(TITAN_V2, outpainting(returnMask=False))) == 1


NOT_AN_IMAGE = "aGVsbG8gd29ybGQ="  # "hello world"
TRANSPARENT_B64 = b64(Image.new("RGBA", SIZE, (10, 20, 30, 128)))
COMMON_INVALID = [
    ({"taskType": "INPAINTING"}, "#: required key [inPaintingParams] not found"),
    ({"taskType": "OUTPAINTING"}, "#: required key [outPaintingParams] not found"),
    ({"taskType": "IMAGE_VARIATION"}, "#: required key [imageVariationParams] not found"),
    (
        {**inpainting(), "inPaintingParams": "x"},
        "#/inPaintingParams: expected type: JSONObject, found: String",
    ),
    (
        {**inpainting(), "outPaintingParams": {}},
        "#: extraneous key [outPaintingParams] is not permitted",
    ),
    (
        {**inpainting(), "inPaintingParams": {"maskImage": MASK_B64}},
        "#/inPaintingParams: required key [image] not found",
    ),
    (
        without_mask(inpainting()),
        "#/inPaintingParams: expected exactly one of [maskImage, maskPrompt], found: 0",
    ),
    (
        inpainting(maskPrompt="the ball"),
        "#/inPaintingParams: expected exactly one of [maskImage, maskPrompt], found: 2",
    ),
    (
        outpainting(maskPrompt="the ball"),
        "#/outPaintingParams: expected exactly one of [maskImage, maskPrompt], found: 2",
    ),
    (inpainting(mask="x"), "#/inPaintingParams: extraneous key [mask] is not permitted"),
    (inpainting(style="PHOTOREALISM"), "#/inPaintingParams: extraneous key [style]"),
    (
        inpainting(outPaintingMode="DEFAULT"),
        "#/inPaintingParams: extraneous key [outPaintingMode] is not permitted",
    ),
    (
        with_config(inpainting(), width=512),
        "#/imageGenerationConfig: extraneous key [width] is not permitted",
    ),
    (
        with_config(outpainting(), height=512),
        "#/imageGenerationConfig: extraneous key [height] is not permitted",
    ),
    (
        with_config(inpainting(), numberOfImages=6),
        "#/imageGenerationConfig/numberOfImages: 6 is not less or equal to 5",
    ),
    (with_config(inpainting(), cfgScale=11), "#/imageGenerationConfig/cfgScale: 11 is not less"),
    (with_config(inpainting(), quality="hd"), "#/imageGenerationConfig/quality: hd is not a"),
    (inpainting(text=""), "#/inPaintingParams/text: expected minLength: 1, actual: 0"),
    (inpainting(negativeText=""), "#/inPaintingParams/negativeText: expected minLength: 1"),
    (inpainting(text=7), "#/inPaintingParams/text: expected type: String, found: Integer"),
    (
        without_mask(inpainting(maskPrompt="")),
        "#/inPaintingParams/maskPrompt: expected minLength: 1, actual: 0",
    ),
    (
        inpainting(maskImage=b64(box_mask((512, 448), BOX))),
        "#/inPaintingParams/maskImage: size 512x448 does not match the image size 512x512",
    ),
    (inpainting(image="@@@"), "#/inPaintingParams/image: string is not valid base64"),
    (inpainting(image=NOT_AN_IMAGE), "#/inPaintingParams/image: decoded data is not a PNG or"),
    (inpainting(maskImage="a b"), "#/inPaintingParams/maskImage: string is not valid base64"),
    (inpainting(maskImage=NOT_AN_IMAGE), "#/inPaintingParams/maskImage: decoded data is not"),
    (
        inpainting(image=TRANSPARENT_B64),
        "#/inPaintingParams/image: image must be RGB without transparency",
    ),
    (
        outpainting(image=TRANSPARENT_B64),
        "#/outPaintingParams/image: image must be RGB without transparency",
    ),
    (
        {**outpainting(), "outPaintingParams": {"image": IMAGE_B64, "maskImage": MASK_B64}},
        "#/outPaintingParams: required key [text] not found",
    ),
    (
        outpainting(outPaintingMode="LOOSE"),
        "#/outPaintingParams/outPaintingMode: LOOSE is not a valid enum value",
    ),
    (
        {**variation(), "imageVariationParams": {"text": "x"}},
        "#/imageVariationParams: required key [images] not found",
    ),
    (variation(["x"], extra=1), "#/imageVariationParams: extraneous key [extra] is not permitted"),
    (
        {**variation(), "imageVariationParams": {"images": IMAGE_B64}},
        "#/imageVariationParams/images: expected type: JSONArray, found: String",
    ),
    (
        {**variation(), "imageVariationParams": {"images": []}},
        "#/imageVariationParams/images: expected minimum item count: 1, found: 0",
    ),
    (variation(["!"]), "#/imageVariationParams/images/0: string is not valid base64"),
    (variation([NOT_AN_IMAGE]), "#/imageVariationParams/images/0: decoded data is not a PNG"),
    (
        variation([TRANSPARENT_B64]),
        "#/imageVariationParams/images/0: image must be RGB without transparency",
    ),
    (
        with_config(variation(), numberOfImages=0),
        "#/imageGenerationConfig/numberOfImages: 0 is not greater or equal to 1",
    ),
    (
        with_config(variation(), steps=30),
        "#/imageGenerationConfig: extraneous key [steps] is not permitted",
    ),
]


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.parametrize(("body", "fragment"), COMMON_INVALID)
def test_invalid_edit_bodies_are_rejected(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)


BACKGROUND_REMOVAL = {
    "taskType": "BACKGROUND_REMOVAL",
    "backgroundRemovalParams": {"image": IMAGE_B64},
}
SIX_IMAGES = [IMAGE_B64] * 6


@pytest.mark.parametrize(
    ("model_id", "body", "fragment"),
    [
        (
            TITAN_V1,
            {"taskType": "BACKGROUND_REMOVAL"},
            "#/taskType: BACKGROUND_REMOVAL is not a valid enum value",
        ),
        (TITAN_V1, BACKGROUND_REMOVAL, "#: extraneous key [backgroundRemovalParams] is not"),
        (
            TITAN_V1,
            variation([IMAGE_B64, IMAGE_B64]),
            "#/imageVariationParams/images: expected maximum item count: 1, found: 2",
        ),
        (
            TITAN_V1,
            variation(similarityStrength=0.5),
            "#/imageVariationParams: extraneous key [similarityStrength] is not permitted",
        ),
        (
            TITAN_V1,
            inpainting(returnMask=True),
            "#/inPaintingParams: extraneous key [returnMask] is not permitted",
        ),
        (
            NOVA,
            outpainting(returnMask=True),
            "#/outPaintingParams: extraneous key [returnMask] is not permitted",
        ),
        (
            TITAN_V2,
            inpainting(returnMask="yes"),
            "#/inPaintingParams/returnMask: expected type: Boolean, found: String",
        ),
        *[
            (model_id, body, fragment)
            for model_id in (TITAN_V2, NOVA)
            for body, fragment in [
                (
                    variation(SIX_IMAGES),
                    "#/imageVariationParams/images: expected maximum item count: 5, found: 6",
                ),
                (
                    variation(similarityStrength=0.1),
                    "#/imageVariationParams/similarityStrength: 0.1 is not greater or equal to 0.2",
                ),
                (
                    variation(similarityStrength=1.1),
                    "#/imageVariationParams/similarityStrength: 1.1 is not less or equal to 1.0",
                ),
                (
                    {**BACKGROUND_REMOVAL, "imageGenerationConfig": {"seed": 1}},
                    "#: extraneous key [imageGenerationConfig] is not permitted",
                ),
                (
                    {"taskType": "BACKGROUND_REMOVAL"},
                    "#: required key [backgroundRemovalParams] not found",
                ),
                (
                    {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {}},
                    "#/backgroundRemovalParams: required key [image] not found",
                ),
                (
                    {
                        "taskType": "BACKGROUND_REMOVAL",
                        "backgroundRemovalParams": {"image": IMAGE_B64, "text": "x"},
                    },
                    "#/backgroundRemovalParams: extraneous key [text] is not permitted",
                ),
                (
                    {
                        "taskType": "BACKGROUND_REMOVAL",
                        "backgroundRemovalParams": {"image": TRANSPARENT_B64},
                    },
                    "#/backgroundRemovalParams/image: image must be RGB without transparency",
                ),
            ]
        ],
    ],
)
def test_version_specific_rules(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)


@pytest.mark.parametrize("model_id", [TITAN_V1, TITAN_V2])
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (inpainting(text="a" * 513), "#/inPaintingParams/text: expected maxLength: 512"),
        (
            without_mask(inpainting(maskPrompt="m" * 513)),
            "#/inPaintingParams/maskPrompt: expected maxLength: 512",
        ),
        (variation(negativeText="n" * 513), "#/imageVariationParams/negativeText: expected maxL"),
        (
            inpainting(image=b64(scene((255, 512))), maskImage=b64(box_mask((255, 512), BOX))),
            "#/inPaintingParams/image: image width 255 px is outside the allowed range (256-1408",
        ),
        (
            outpainting(image=b64(scene((512, 1409))), maskImage=b64(box_mask((512, 1409), BOX))),
            "#/outPaintingParams/image: image height 1409 px is outside the allowed range",
        ),
        (
            variation([b64(scene((200, 300)))]),
            "#/imageVariationParams/images/0: image width 200 px is outside the allowed range",
        ),
        (
            with_config(variation(), width=500, height=500),
            "width x height 500x500 is not a permissible size",
        ),
    ],
)
def test_titan_limits(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)

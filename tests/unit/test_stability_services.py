"""Stability AI Image Services: the task rules, the input limits and each service's body.

The bodies follow the examples of AWS's page "Stability AI Image Services"
(https://docs.aws.amazon.com/bedrock/latest/userguide/stable-image-services.html).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from imagegen import catalog, errors
from imagegen.editing import (
    EditImages,
    InputKeys,
    check_request,
    choose_model,
    parse_edit_request,
    plan_edit,
    prepare_inputs,
)
from imagegen.errors import ServiceError
from imagegen.input_images import InputImage
from imagegen.plan import ModelCall
from imagegen.providers.bodies import ModelInputs, build_body, parse_response

FAST = "stability.stable-fast-upscale-v1:0"
CONSERVATIVE = "stability.stable-conservative-upscale-v1:0"
CREATIVE = "stability.stable-creative-upscale-v1:0"
REMOVE_BG = "stability.stable-image-remove-background-v1:0"
SEARCH_REPLACE = "stability.stable-image-search-replace-v1:0"
SEARCH_RECOLOR = "stability.stable-image-search-recolor-v1:0"
ERASE = "stability.stable-image-erase-object-v1:0"
SKETCH = "stability.stable-image-control-sketch-v1:0"
STRUCTURE = "stability.stable-image-control-structure-v1:0"
STYLE_GUIDE = "stability.stable-image-style-guide-v1:0"
STYLE_TRANSFER = "stability.stable-style-transfer-v1:0"
SERVICES = (
    FAST, CONSERVATIVE, CREATIVE, REMOVE_BG, SEARCH_REPLACE, SEARCH_RECOLOR, ERASE, SKETCH,
    STRUCTURE, STYLE_GUIDE, STYLE_TRANSFER,
)  # fmt: skip
CONTROL_FIELDS = {
    "prompt", "image", "control_strength", "negative_prompt", "seed", "output_format",
    "style_preset",
}  # fmt: skip
IMAGE_ID = "img_" + "a" * 32
MASK_ID = "img_" + "b" * 32
STYLE_ID = "img_" + "c" * 32
# Every field AWS's page lists per service: the catalogue must not claim more.
PAGE_FIELDS = {
    FAST: {"image", "output_format"},
    CONSERVATIVE: {"prompt", "image", "creativity", "negative_prompt", "seed", "output_format"},
    CREATIVE: {
        "prompt", "image", "creativity", "negative_prompt", "seed", "output_format",
        "style_preset",
    },
    REMOVE_BG: {"image", "output_format"},
    SEARCH_REPLACE: {
        "prompt", "image", "search_prompt", "style_preset", "negative_prompt", "seed",
        "output_format", "grow_mask",
    },
    SEARCH_RECOLOR: {
        "prompt", "image", "select_prompt", "style_preset", "negative_prompt", "seed",
        "output_format", "grow_mask",
    },
    ERASE: {"image", "seed", "output_format", "mask", "grow_mask"},
    SKETCH: CONTROL_FIELDS,
    STRUCTURE: CONTROL_FIELDS,
    STYLE_GUIDE: {
        "prompt", "image", "aspect_ratio", "negative_prompt", "seed", "output_format",
        "fidelity", "style_preset",
    },
    STYLE_TRANSFER: {
        "init_image", "style_image", "prompt", "negative_prompt", "seed", "output_format",
        "composition_fidelity", "style_strength", "change_strength",
    },
}  # fmt: skip


def _request(**fields: Any):
    return parse_edit_request({"image_id": IMAGE_ID, **fields})


def _checked(**fields: Any):
    request = _request(**fields)
    spec, requested, note = choose_model(request, "stability.stable-image-core-v1:1")
    check_request(request, spec)
    return request, spec, requested, note


def _error(**fields: Any) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        _checked(**fields)
    return caught.value


def _input(image: Image.Image) -> InputImage:
    return InputImage(
        image=image,
        format="png",
        content_type="image/png",
        width=image.width,
        height=image.height,
        has_alpha="A" in image.getbands(),
    )


def _body(
    fields: dict[str, Any],
    image: Image.Image,
    mask: Image.Image | None = None,
    style: Image.Image | None = None,
):
    """The body the worker would send for this request, and the prepared inputs."""
    request, spec, requested, note = _checked(**fields)
    images = EditImages(
        [_input(image)],
        _input(mask) if mask is not None else None,
        _input(style) if style is not None else None,
    )
    prepared = prepare_inputs(request, spec, images)
    keys = InputKeys("src", "mask", tuple(f"ref-{i}" for i in range(len(prepared.references))))
    plan = plan_edit(request, spec, requested, note, prepared, keys)
    inputs = ModelInputs(
        source=base64.b64encode(prepared.source or b"").decode(),
        mask=base64.b64encode(prepared.mask).decode() if prepared.mask else None,
        references=tuple(base64.b64encode(data).decode() for data in prepared.references),
    )
    return plan, prepared, build_body(plan, ModelCall(plan.seed, 1), inputs)


PHOTO = Image.new("RGB", (320, 240), (40, 90, 160))
STYLE = Image.new("RGB", (200, 200), (230, 200, 20))


class TestCatalogue:
    @pytest.mark.parametrize("model", SERVICES)
    def test_each_service_claims_only_the_fields_its_page_lists(self, model):
        spec = catalog.MODELS[model]
        assert set(spec.body_fields) == PAGE_FIELDS[model]
        assert set(spec.required_fields) <= set(spec.body_fields)

    @pytest.mark.parametrize("model", SERVICES)
    def test_services_are_active_and_listed(self, model):
        assert catalog.LIFECYCLE[model].status == catalog.ACTIVE
        described = catalog.MODELS[model].describe()
        assert described["sizes"]["rule"].startswith("input: each side")
        assert described["max_images_per_call"] == 1

    def test_each_upscale_mode_is_one_service(self):
        assert [catalog.upscale_model(m) for m in catalog.UPSCALE_MODES] == [
            FAST,
            CONSERVATIVE,
            CREATIVE,
        ]


class TestRules:
    def test_upscale_without_mode_or_model_is_the_fast_upscale(self):
        _, spec, requested, _ = _checked(task="upscale")
        assert spec.model_id == requested == FAST

    @pytest.mark.parametrize(
        ("mode", "model"), [("conservative", CONSERVATIVE), ("creative", CREATIVE)]
    )
    def test_the_mode_picks_the_upscale_service(self, mode, model):
        assert _checked(task="upscale", mode=mode, prompt="a clock tower")[1].model_id == model

    def test_a_mode_that_contradicts_the_model_is_refused(self):
        error = _error(task="upscale", mode="creative", model=FAST)
        assert error.code == errors.INVALID_PARAMETERS
        assert error.details["parameter"] == "mode"

    def test_outpaint_modes_are_not_upscale_modes(self):
        assert _error(task="upscale", mode="precise").details["allowed"] == list(
            catalog.UPSCALE_MODES
        )
        assert (
            _error(
                task="outpaint",
                mode="fast",
                extend={"right": 8},
                model="amazon.nova-canvas-v1:0",
                prompt="sky",
            ).details["parameter"]
            == "mode"
        )

    def test_conservative_and_creative_need_a_prompt(self):
        assert _error(task="upscale", mode="conservative").code == errors.INVALID_PROMPT

    @pytest.mark.parametrize(
        "field", [{"prompt": "sharper"}, {"seed": 4}, {"negative_prompt": "x"}]
    )
    def test_fast_upscale_takes_only_an_image(self, field):
        assert _error(task="upscale", **field).code == errors.INVALID_PARAMETERS

    def test_fast_upscale_makes_one_image(self):
        assert _error(task="upscale", n=2).details["parameter"] == "n"

    @pytest.mark.parametrize(("creativity", "ok"), [(0.1, True), (0.5, True), (0.05, False)])
    def test_creativity_range(self, creativity, ok):
        fields = {"task": "upscale", "mode": "creative", "prompt": "p", "creativity": creativity}
        if ok:
            assert _checked(**fields)[0].creativity == creativity
        else:
            assert _error(**fields).details["parameter"] == "creativity"

    def test_fast_upscale_has_no_creativity(self):
        assert _error(task="upscale", creativity=0.3).details["parameter"] == "creativity"

    @pytest.mark.parametrize(
        ("task", "field"),
        [("search_replace", "search_prompt"), ("search_recolor", "select_prompt")],
    )
    def test_searches_need_what_to_find(self, task, field):
        assert _error(task=task, prompt="a red jacket").details["parameter"] == field

    def test_search_prompt_belongs_to_search_replace_only(self):
        error = _error(
            task="search_recolor", prompt="pink", select_prompt="coat", search_prompt="x"
        )
        assert error.details["parameter"] == "search_prompt"

    def test_style_presets_where_the_page_lists_them(self):
        fields = {"task": "search_replace", "prompt": "a dog", "search_prompt": "cat"}
        assert _checked(**fields, style_preset="anime")[1].model_id == SEARCH_REPLACE
        assert _error(**fields, style_preset="PHOTOREALISM").details["parameter"] == "style_preset"
        assert _error(task="upscale", style_preset="anime").details["parameter"] == "style_preset"

    def test_cfg_scale_is_refused(self):
        error = _error(task="erase", mask_image_id=MASK_ID, cfg_scale=5)
        assert error.details["parameter"] == "cfg_scale"

    def test_erase_takes_no_mask_prompt(self):
        assert _error(task="erase", mask_prompt="the cup").details["parameter"] == "mask_prompt"

    def test_style_guide_needs_a_prompt(self):
        assert _error(task="style_guide").code == errors.INVALID_PROMPT

    @pytest.mark.parametrize(
        ("field", "value"), [("fidelity", 1.2), ("aspect_ratio", "4:3"), ("style_preset", "x")]
    )
    def test_style_guide_takes_the_pages_values_only(self, field, value):
        error = _error(task="style_guide", prompt="a city", **{field: value})
        assert error.code == errors.INVALID_PARAMETERS

    @pytest.mark.parametrize("field", [{"fidelity": 0.5}, {"aspect_ratio": "16:9"}])
    def test_style_guide_fields_belong_to_style_guide(self, field):
        error = _error(task="style_transfer", style_image_id=STYLE_ID, **field)
        assert error.details["parameter"] == next(iter(field))

    def test_style_transfer_needs_a_style_image(self):
        error = _error(task="style_transfer", prompt="statue")
        assert error.code == errors.INVALID_PARAMETERS
        assert error.details["parameter"] == "style_image_id"

    def test_style_transfer_prompt_is_optional(self):
        _, spec, _, _ = _checked(task="style_transfer", style_image_id=STYLE_ID)
        assert spec.model_id == STYLE_TRANSFER

    @pytest.mark.parametrize(
        "field",
        [
            {"style_image_id": STYLE_ID},
            {"composition_fidelity": 0.5},
            {"style_strength": 0.5},
            {"change_strength": 0.5},
        ],
    )
    def test_style_transfer_fields_belong_to_style_transfer(self, field):
        error = _error(task="control_structure", prompt="p", **field)
        assert error.details["parameter"] == next(iter(field))

    @pytest.mark.parametrize(
        "field",
        [
            {"composition_fidelity": 1.1},
            {"style_strength": -0.1},
            {"change_strength": 0.05},  # the page's range is 0.1-1
        ],
    )
    def test_style_transfer_ranges_are_the_pages(self, field):
        error = _error(task="style_transfer", style_image_id=STYLE_ID, **field)
        assert error.code == errors.INVALID_PARAMETERS

    def test_style_transfer_refuses_what_its_page_does_not_list(self):
        fields = {"task": "style_transfer", "style_image_id": STYLE_ID}
        assert _error(**fields, style_preset="anime").details["parameter"] == "style_preset"
        assert _error(**fields, cfg_scale=7).details["parameter"] == "cfg_scale"

    def test_remove_background_goes_to_the_stability_service_when_chosen(self):
        _, spec, _, _ = _checked(task="remove_background", model=REMOVE_BG)
        assert spec.family == "stability-services"
        assert (
            _error(task="remove_background", model=REMOVE_BG, seed=3).details["parameter"] == "seed"
        )


class TestInputLimits:
    def _prepare(self, fields: dict[str, Any], size: tuple[int, int]):
        request, spec, _, _ = _checked(**fields)
        return prepare_inputs(request, spec, EditImages([_input(Image.new("RGB", size))]))

    @pytest.mark.parametrize(
        ("fields", "size"),
        [
            ({"task": "upscale"}, (1537, 64)),  # fast: sides at most 1536
            ({"task": "upscale"}, (1025, 1024)),  # fast: at most 1,048,576 pixels
            ({"task": "upscale"}, (31, 64)),  # fast: sides at least 32
            ({"task": "upscale", "mode": "creative", "prompt": "p"}, (1100, 1000)),
            ({"task": "remove_background", "model": REMOVE_BG}, (651, 260)),  # ratio > 2.5
            ({"task": "search_replace", "prompt": "p", "search_prompt": "q"}, (63, 200)),
        ],
    )
    def test_an_image_outside_the_page_limits_is_img301(self, fields, size):
        with pytest.raises(ServiceError) as caught:
            self._prepare(fields, size)
        assert caught.value.code == errors.INVALID_IMAGE_SIZE
        assert caught.value.details["image_size"] == f"{size[0]}x{size[1]}"

    def test_the_style_image_is_held_to_the_same_limits(self):
        request, spec, _, _ = _checked(task="style_transfer", style_image_id=STYLE_ID)
        images = EditImages([_input(PHOTO)], style=_input(Image.new("RGB", (651, 260))))
        with pytest.raises(ServiceError) as caught:
            prepare_inputs(request, spec, images)
        assert caught.value.code == errors.INVALID_IMAGE_SIZE
        assert caught.value.details["field"] == "style_image"

    def test_the_image_is_sent_at_its_own_size(self):
        prepared = self._prepare({"task": "upscale"}, (1536, 682))
        assert Image.open(io.BytesIO(prepared.source or b"")).size == (1536, 682)
        assert (prepared.width, prepared.height) == (1536 * 4, 682 * 4)

    def test_erase_without_a_mask_uses_the_transparent_pixels(self):
        image = Image.new("RGBA", (128, 128), (10, 20, 30, 255))
        image.paste((0, 0, 0, 0), (0, 0, 32, 32))
        request, spec, _, _ = _checked(task="erase")
        prepared = prepare_inputs(request, spec, EditImages([_input(image)]))
        mask = Image.open(io.BytesIO(prepared.mask or b""))
        assert mask.getpixel((5, 5)) == 255 and mask.getpixel((100, 100)) == 0

    def test_erase_needs_a_mask_or_transparency(self):
        request, spec, _, _ = _checked(task="erase")
        with pytest.raises(ServiceError) as caught:
            prepare_inputs(request, spec, EditImages([_input(PHOTO)]))
        assert caught.value.details["parameter"] == "mask"


class TestBodies:
    def test_fast_upscale_as_the_page_example(self):
        plan, _, body = _body({"task": "upscale"}, PHOTO)
        assert set(body) == {"image", "output_format"}
        assert body["output_format"] == "png"
        assert (plan.width, plan.height) == (1280, 960)
        assert plan.price_per_image_usd == 0.03

    def test_creative_upscale_as_the_page_example(self):
        fields = {
            "task": "upscale",
            "mode": "creative",
            "prompt": "This dreamlike digital art captures a vibrant, kaleidoscopic Big Ben",
            "creativity": 0.30,
            "seed": 11,
        }
        _, _, body = _body(fields, PHOTO)
        assert {k: v for k, v in body.items() if k != "image"} == {
            "prompt": fields["prompt"],
            "creativity": 0.30,
            "seed": 11,
            "output_format": "png",
        }

    def test_search_replace_as_the_page_example(self):
        fields = {"task": "search_replace", "prompt": "jacket", "search_prompt": "sweater"}
        _, _, body = _body({**fields, "negative_prompt": "blur", "style_preset": "anime"}, PHOTO)
        assert body["search_prompt"] == "sweater" and body["prompt"] == "jacket"
        assert body["negative_prompt"] == "blur" and body["style_preset"] == "anime"
        assert isinstance(body["seed"], int)

    def test_search_recolor_as_the_page_example(self):
        fields = {"task": "search_recolor", "prompt": "pink jacket", "select_prompt": "jacket"}
        _, _, body = _body(fields, PHOTO)
        assert set(body) == {"image", "prompt", "select_prompt", "seed", "output_format"}

    def test_erase_as_the_page_example(self):
        mask = Image.new("L", PHOTO.size, 0)
        mask.paste(255, (10, 10, 60, 60))
        _, _, body = _body({"task": "erase", "mask_image_id": MASK_ID, "seed": 2}, PHOTO, mask)
        assert set(body) == {"image", "mask", "seed", "output_format"}
        sent = Image.open(io.BytesIO(base64.b64decode(body["mask"])))
        assert sent.getpixel((20, 20)) == 255  # white = erase, as the page's mask

    @pytest.mark.parametrize(
        ("task", "model"), [("control_sketch", SKETCH), ("control_structure", STRUCTURE)]
    )
    def test_control_as_the_page_example(self, task, model):
        prompt = "a house with background of mountains and river flowing nearby"
        plan, _, body = _body({"task": task, "prompt": prompt, "control_strength": 0.6}, PHOTO)
        assert plan.model_id == model
        assert {k: v for k, v in body.items() if k not in ("image", "seed")} == {
            "prompt": prompt,
            "control_strength": 0.6,
            "output_format": "png",
        }

    def test_style_guide_as_the_page_example(self):
        fields = {"task": "style_guide", "prompt": "wide shot of modern metropolis"}
        plan, prepared, body = _body(fields, STYLE)
        assert plan.model_id == STYLE_GUIDE and plan.price_per_image_usd == 0.07
        assert (plan.width, plan.height) == (1024, 1024)  # the page's default ratio, 1:1
        assert {k: v for k, v in body.items() if k != "seed"} == {
            "image": base64.b64encode(prepared.source or b"").decode(),
            "prompt": "wide shot of modern metropolis",
            "output_format": "png",
        }

    def test_style_guide_options_reach_the_body(self):
        fields = {
            "task": "style_guide",
            "prompt": "a harbour",
            "aspect_ratio": "16:9",
            "fidelity": 0.8,
            "style_preset": "anime",
            "negative_prompt": "fog",
        }
        plan, _, body = _body(fields, STYLE)
        assert (plan.width, plan.height) == (1344, 768)
        assert (body["aspect_ratio"], body["fidelity"]) == ("16:9", 0.8)
        assert (body["style_preset"], body["negative_prompt"]) == ("anime", "fog")

    def test_style_transfer_as_the_page_example(self):
        fields = {"task": "style_transfer", "style_image_id": STYLE_ID, "prompt": "statue"}
        plan, prepared, body = _body(fields, PHOTO, style=STYLE)
        assert plan.model_id == STYLE_TRANSFER and plan.price_per_image_usd == 0.08
        assert (plan.width, plan.height) == PHOTO.size  # the content image's size
        assert {k: v for k, v in body.items() if k != "seed"} == {
            "init_image": base64.b64encode(prepared.source or b"").decode(),
            "style_image": base64.b64encode(prepared.references[0]).decode(),
            "prompt": "statue",
            "output_format": "png",
        }
        sent = Image.open(io.BytesIO(base64.b64decode(body["style_image"])))
        assert sent.size == STYLE.size and sent.getpixel((0, 0)) == (230, 200, 20)

    def test_style_transfer_strengths_reach_the_body(self):
        fields = {
            "task": "style_transfer",
            "style_image_id": STYLE_ID,
            "composition_fidelity": 0.4,
            "style_strength": 0.8,
            "change_strength": 0.1,
            "negative_prompt": "blur",
        }
        _, _, body = _body(fields, PHOTO, style=STYLE)
        assert "prompt" not in body and "image" not in body
        assert (body["composition_fidelity"], body["style_strength"]) == (0.4, 0.8)
        assert (body["change_strength"], body["negative_prompt"]) == (0.1, "blur")

    def test_control_strength_belongs_to_the_control_tasks(self):
        assert _error(task="control_structure", prompt="p", control_strength=1.5).code == (
            errors.INVALID_PARAMETERS
        )
        error = _error(task="search_replace", prompt="p", search_prompt="s", control_strength=0.5)
        assert error.details["parameter"] == "control_strength"

    def test_remove_background_body(self):
        _, _, body = _body({"task": "remove_background", "model": REMOVE_BG}, PHOTO)
        assert set(body) == {"image", "output_format"}

    @pytest.mark.parametrize(
        "fields",
        [
            {"task": "upscale"},
            {"task": "upscale", "mode": "conservative", "prompt": "p", "negative_prompt": "n"},
            {"task": "upscale", "mode": "creative", "prompt": "p", "style_preset": "enhance"},
            {"task": "remove_background", "model": REMOVE_BG},
            {
                "task": "search_replace",
                "prompt": "p",
                "search_prompt": "s",
                "style_preset": "anime",
            },
            {"task": "search_recolor", "prompt": "p", "select_prompt": "s", "negative_prompt": "n"},
            {"task": "erase", "mask_image_id": MASK_ID, "seed": 1},
            {"task": "control_sketch", "prompt": "p", "style_preset": "line-art"},
            {"task": "control_structure", "prompt": "p", "control_strength": 0.2},
            {"task": "style_transfer", "style_image_id": STYLE_ID, "style_strength": 0.5},
            {"task": "style_guide", "prompt": "p", "fidelity": 0.2, "aspect_ratio": "9:21"},
        ],
    )
    def test_no_body_carries_a_field_its_page_does_not_list(self, fields):
        mask = Image.new("L", PHOTO.size, 255)
        plan, _, body = _body(
            {**fields, "style": "natural", "quality": "hd"}, PHOTO, mask, style=STYLE
        )
        assert set(body) <= PAGE_FIELDS[plan.model_id]

    def test_an_inference_error_is_a_failed_generation_not_a_filter(self):
        plan, _, _ = _body({"task": "upscale"}, PHOTO)
        failed = {"seeds": [1], "finish_reasons": ["Inference error"], "images": []}
        with pytest.raises(ServiceError) as caught:
            parse_response(plan, ModelCall(0, 1), failed)
        assert caught.value.code == errors.GENERATION_FAILED
        filtered = {"seeds": [1], "finish_reasons": ["Filter reason: input image"], "images": []}
        with pytest.raises(ServiceError) as caught:
            parse_response(plan, ModelCall(0, 1), filtered)
        assert caught.value.code == errors.UNSAFE_PROMPT

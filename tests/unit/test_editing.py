"""Edit requests: model choice, the per-task rules, input preparation and each model's body."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from imagegen import catalog
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
from imagegen.providers.bodies import ModelInputs, build_body

SDXL = "stability.stable-diffusion-xl-v1"
SD35 = "stability.sd3-5-large-v1:0"
CORE = "stability.stable-image-core-v1:1"
TITAN1 = "amazon.titan-image-generator-v1"
TITAN2 = "amazon.titan-image-generator-v2:0"
NOVA = "amazon.nova-canvas-v1:0"
IMAGE_ID = "img_" + "a" * 32
MASK_ID = "img_" + "b" * 32


def _request(**fields: Any):
    return parse_edit_request({"image_id": IMAGE_ID, **fields})


def _checked(request_fields: dict[str, Any]):
    request = _request(**request_fields)
    spec, requested, note = choose_model(request, NOVA)
    check_request(request, spec)
    return request, spec, requested, note


def _input(image: Image.Image) -> InputImage:
    return InputImage(
        image=image,
        format="png",
        content_type="image/png",
        width=image.width,
        height=image.height,
        has_alpha="A" in image.getbands(),
    )


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _error(fields: dict[str, Any]) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        _checked(fields)
    return caught.value


class TestModelChoice:
    def test_the_default_model_is_used_when_it_can_do_the_task(self):
        _, spec, _, _ = _checked({"task": "inpaint", "mask_prompt": "the sky"})
        assert spec.model_id == NOVA

    def test_otherwise_the_first_model_that_can(self):
        _, spec, _, _ = _checked({"task": "image_to_image", "prompt": "watercolour"})
        assert spec.model_id == SDXL

    @pytest.mark.parametrize(
        ("model", "task"),
        [(CORE, "image_to_image"), (SDXL, "variation"), (TITAN1, "remove_background"),
         (SD35, "inpaint"), (NOVA, "image_to_image")],
    )  # fmt: skip
    def test_a_model_without_the_task_names_the_models_that_have_it(self, model, task):
        error = _error({"task": task, "model": model, "prompt": "x"})
        assert error.code == "IMG302"
        assert error.details["models"] == catalog.models_for(task)
        assert model not in error.details["models"]


class TestRules:
    @pytest.mark.parametrize(
        ("fields", "parameter"),
        [
            ({"task": "inpaint", "image_strength": 0.5, "mask_prompt": "x"}, "image_strength"),
            ({"task": "outpaint", "prompt": "x", "similarity_strength": 0.5,
              "extend": {"left": 8}}, "similarity_strength"),
            ({"task": "image_to_image", "model": SDXL, "prompt": "x", "mask_prompt": "y"},
             "mask_prompt"),
            ({"task": "inpaint", "extend": {"left": 8}, "prompt": "x"}, "extend"),
            ({"task": "inpaint", "mode": "precise", "mask_prompt": "x"}, "mode"),
        ],
    )  # fmt: skip
    def test_parameters_of_other_tasks_are_refused_not_ignored(self, fields, parameter):
        error = _error(fields)
        assert error.code == "IMG302"
        assert error.details["parameter"] == parameter

    def test_strength_is_accepted_as_an_alias_of_image_strength(self):
        request, *_ = _checked(
            {"task": "image_to_image", "model": SDXL, "prompt": "x", "strength": 0.25}
        )
        assert request.image_strength == 0.25

    def test_one_source_image_exactly_outside_variation(self):
        error = _error({"task": "inpaint", "mask_prompt": "x", "input_image_base64": "aGVsbG8="})
        assert error.code == "IMG302" and "exactly one image" in error.message

    def test_variation_reference_limits_follow_the_model(self):
        five = {"task": "variation", "image_ids": [IMAGE_ID] * 4}
        _checked({**five, "model": NOVA})
        error = _error({**five, "model": TITAN1})
        assert error.details["max"] == 1

    def test_mask_prompt_needs_a_model_that_reads_it(self):
        error = _error({"task": "inpaint", "model": SDXL, "prompt": "x", "mask_prompt": "y"})
        assert error.details["parameter"] == "mask_prompt"
        assert set(error.details["models"]) == {TITAN1, TITAN2, NOVA}

    def test_only_one_way_to_give_the_mask(self):
        error = _error(
            {"task": "outpaint", "prompt": "x", "mask_prompt": "y", "extend": {"top": 64}}
        )
        assert error.details["parameter"] == "mask"

    def test_extend_must_extend(self):
        error = _error({"task": "outpaint", "prompt": "x", "extend": {}})
        assert error.details["parameter"] == "extend"

    @pytest.mark.parametrize("field", ["prompt", "seed", "cfg_scale", "negative_prompt"])
    def test_background_removal_takes_only_an_image(self, field):
        value = {"prompt": "x", "seed": 3, "cfg_scale": 5, "negative_prompt": "y"}[field]
        error = _error({"task": "remove_background", field: value})
        assert error.details["parameter"] == field

    def test_background_removal_makes_one_image(self):
        assert _error({"task": "remove_background", "n": 2}).details["parameter"] == "n"

    def test_precise_outpainting_is_titan_and_nova_only(self):
        error = _error(
            {"task": "outpaint", "model": SDXL, "prompt": "x", "mode": "precise",
             "extend": {"top": 64}}
        )  # fmt: skip
        assert error.details["parameter"] == "mode"

    def test_similarity_strength_needs_a_model_with_it(self):
        error = _error({"task": "variation", "model": TITAN1, "similarity_strength": 0.5})
        assert error.details["parameter"] == "similarity_strength"

    def test_titan_and_nova_edits_have_no_style_preset(self):
        error = _error({"task": "inpaint", "mask_prompt": "x", "style_preset": "PHOTOREALISM"})
        assert error.details["parameter"] == "style_preset"

    @pytest.mark.parametrize(
        ("task", "model"), [("image_to_image", SDXL), ("outpaint", NOVA), ("inpaint", SDXL)]
    )
    def test_tasks_that_generate_need_a_prompt(self, task, model):
        fields = {"task": task, "model": model}
        if task != "image_to_image":
            fields["mask_image_id"] = MASK_ID
        assert _error(fields).code == "IMG001"

    def test_titan_and_nova_inpaint_without_a_prompt(self):
        _checked({"task": "inpaint", "model": TITAN2, "mask_prompt": "the lamp"})

    def test_unknown_fields_and_bad_values_are_img302(self):
        with pytest.raises(ServiceError) as caught:
            parse_edit_request({"task": "inpaint", "image_id": IMAGE_ID, "colour": "red"})
        assert caught.value.code == "IMG302"
        with pytest.raises(ServiceError) as caught:
            parse_edit_request({"task": "paint", "image_id": IMAGE_ID})
        assert caught.value.code == "IMG302"
        with pytest.raises(ServiceError) as caught:
            parse_edit_request({"task": "inpaint", "image_id": "../etc/passwd"})
        assert caught.value.code == "IMG302"

    def test_form_fields_arrive_as_strings(self):
        request = parse_edit_request(
            {"task": "image_to_image", "image_id": IMAGE_ID, "prompt": "x", "n": "2",
             "image_strength": "0.3", "async": "true"},
            strict=False,
        )  # fmt: skip
        assert (request.n, request.image_strength, request.async_) == (2, 0.3, True)


def _photo(size: tuple[int, int]) -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    return image


def _half_mask(size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0] // 2, size[1]))
    return mask


class TestPreparation:
    def test_titan_inpainting_mask_is_inverted_into_titans_convention(self):
        request, spec, *_ = _checked({"task": "inpaint", "model": TITAN2, "mask_image_id": MASK_ID})
        images = EditImages([_input(_photo((1024, 1024)))], _input(_half_mask((1024, 1024))))
        prepared = prepare_inputs(request, spec, images)
        mask = _png(prepared.mask)
        # Ours: white (left half) = generate. Titan's: black = inside the mask = generate.
        assert mask.getpixel((10, 10)) == 0 and mask.getpixel((1000, 10)) == 255

    @pytest.mark.parametrize("model", [SDXL, TITAN2])
    def test_outpainting_and_sdxl_masks_keep_our_convention(self, model):
        request, spec, *_ = _checked(
            {"task": "outpaint", "model": model, "prompt": "x", "mask_image_id": MASK_ID}
        )
        images = EditImages([_input(_photo((1024, 1024)))], _input(_half_mask((1024, 1024))))
        mask = _png(prepare_inputs(request, spec, images).mask)
        assert mask.getpixel((10, 10)) == 255 and mask.getpixel((1000, 10)) == 0

    def test_a_mask_of_another_size_is_img301(self):
        request, spec, *_ = _checked({"task": "inpaint", "mask_image_id": MASK_ID})
        images = EditImages([_input(_photo((800, 600)))], _input(_half_mask((600, 800))))
        with pytest.raises(ServiceError) as caught:
            prepare_inputs(request, spec, images)
        assert caught.value.code == "IMG301"

    def test_a_mask_with_nothing_to_generate_is_refused(self):
        request, spec, *_ = _checked({"task": "inpaint", "mask_image_id": MASK_ID})
        empty = Image.new("L", (640, 640), 0)
        with pytest.raises(ServiceError) as caught:
            prepare_inputs(request, spec, EditImages([_input(_photo((640, 640)))], _input(empty)))
        assert caught.value.details["parameter"] == "mask"

    def test_without_a_mask_the_images_transparency_is_the_mask(self):
        request, spec, *_ = _checked({"task": "inpaint", "model": TITAN2})
        image = _photo((512, 512)).convert("RGBA")
        image.paste((0, 0, 0, 0), (0, 0, 256, 512))
        mask = _png(prepare_inputs(request, spec, EditImages([_input(image)])).mask)
        assert mask.getpixel((10, 10)) == 0 and mask.getpixel((500, 10)) == 255

    def test_without_any_mask_inpainting_is_refused(self):
        request, spec, *_ = _checked({"task": "inpaint", "model": TITAN2})
        with pytest.raises(ServiceError) as caught:
            prepare_inputs(request, spec, EditImages([_input(_photo((512, 512)))]))
        assert caught.value.details["parameter"] == "mask"

    def test_sdxl_inputs_take_an_sdxl_size(self):
        request, spec, *_ = _checked({"task": "image_to_image", "model": SDXL, "prompt": "x"})
        prepared = prepare_inputs(request, spec, EditImages([_input(_photo((4000, 3000)))]))
        assert (prepared.width, prepared.height) in catalog.SDXL_SIZES
        assert _png(prepared.source).size == (prepared.width, prepared.height)

    def test_extend_grows_the_canvas_and_masks_the_new_area(self):
        request, spec, *_ = _checked({"task": "outpaint", "prompt": "x", "extend": {"right": 512}})
        prepared = prepare_inputs(request, spec, EditImages([_input(_photo((1024, 1024)))]))
        assert prepared.width > prepared.height
        mask = _png(prepared.mask)
        assert mask.getpixel((5, prepared.height // 2)) == 0
        assert mask.getpixel((prepared.width - 5, prepared.height // 2)) == 255

    def test_variation_references_share_one_size(self):
        request, spec, *_ = _checked(
            {"task": "variation", "model": NOVA, "image_ids": [IMAGE_ID, MASK_ID]}
        )
        images = EditImages([_input(_photo((1024, 768))), _input(_photo((300, 900)))])
        prepared = prepare_inputs(request, spec, images)
        sizes = {_png(data).size for data in prepared.references}
        assert sizes == {(prepared.width, prepared.height)}
        assert spec.allows_size(prepared.width, prepared.height)


def _body(fields: dict[str, Any], inputs: ModelInputs, size=(1024, 1024)) -> dict[str, Any]:
    request, spec, requested, note = _checked(fields)
    from imagegen.editing import PreparedInputs

    plan = plan_edit(request, spec, requested, note, PreparedInputs(*size), InputKeys())
    return build_body(plan, ModelCall(plan.seed, min(plan.n, spec.max_images_per_call)), inputs)


INPUTS = ModelInputs(source="SRC", mask="MASK", references=("R1", "R2"))


class TestBodies:
    def test_sdxl_image_to_image(self):
        body = _body(
            {"task": "image_to_image", "model": SDXL, "prompt": "x", "image_strength": 0.3,
             "seed": 5, "negative_prompt": "blur"},
            INPUTS,
        )  # fmt: skip
        assert body["init_image"] == "SRC"
        assert body["init_image_mode"] == "IMAGE_STRENGTH" and body["image_strength"] == 0.3
        assert "width" not in body and "height" not in body and "mask_source" not in body
        assert body["text_prompts"] == [
            {"text": "x", "weight": 1.0},
            {"text": "blur", "weight": -1.0},
        ]
        assert body["seed"] == 5

    def test_sdxl_masking_uses_white_as_the_area_to_replace(self):
        body = _body({"task": "inpaint", "model": SDXL, "prompt": "x", "mask_image_id": MASK_ID},
                     INPUTS)  # fmt: skip
        assert body["mask_source"] == "MASK_IMAGE_WHITE" and body["mask_image"] == "MASK"
        assert "image_strength" not in body

    def test_sd35_strength_is_the_inverse_of_ours(self):
        body = _body(
            {"task": "image_to_image", "model": SD35, "prompt": "x", "image_strength": 0.8},
            INPUTS,
        )
        assert body["mode"] == "image-to-image" and body["image"] == "SRC"
        assert body["strength"] == pytest.approx(0.2)
        assert "aspect_ratio" not in body

    @pytest.mark.parametrize("model", [TITAN1, TITAN2, NOVA])
    def test_amazon_inpainting(self, model):
        body = _body({"task": "inpaint", "model": model, "mask_image_id": MASK_ID, "n": 2},
                     INPUTS)  # fmt: skip
        assert body["taskType"] == "INPAINTING"
        assert body["inPaintingParams"] == {"image": "SRC", "maskImage": "MASK"}
        config = body["imageGenerationConfig"]
        assert config["numberOfImages"] == 2 and "width" not in config

    def test_amazon_outpainting_with_a_mask_prompt(self):
        body = _body(
            {"task": "outpaint", "model": NOVA, "prompt": "a garden", "mask_prompt": "the house",
             "mode": "precise"},
            INPUTS,
        )  # fmt: skip
        assert body["outPaintingParams"] == {
            "image": "SRC",
            "text": "a garden",
            "maskPrompt": "the house",
            "outPaintingMode": "PRECISE",
        }

    def test_amazon_variation(self):
        body = _body(
            {"task": "variation", "model": TITAN2, "image_ids": [IMAGE_ID], "prompt": "x",
             "similarity_strength": 0.6},
            INPUTS,
            size=(768, 1152),
        )  # fmt: skip
        params = body["imageVariationParams"]
        assert params == {"images": ["R1", "R2"], "text": "x", "similarityStrength": 0.6}
        config = body["imageGenerationConfig"]
        assert (config["width"], config["height"]) == (768, 1152)

    @pytest.mark.parametrize("model", [TITAN2, NOVA])
    def test_background_removal_has_no_generation_config(self, model):
        body = _body({"task": "remove_background", "model": model}, INPUTS)
        assert body == {
            "taskType": "BACKGROUND_REMOVAL",
            "backgroundRemovalParams": {"image": "SRC"},
        }

"""Planning a request against a model: sizes, controls, seeds, prices."""

from __future__ import annotations

import pytest

from imagegen import catalog
from imagegen.errors import ServiceError
from imagegen.generation import parse_request, plan_generation
from imagegen.plan import ModelCall

DEFAULT = "amazon.nova-canvas-v1:0"


def plan(**body):
    return plan_generation(parse_request({"prompt": "a cat", **body}), DEFAULT)


def code_of(**body) -> str:
    with pytest.raises(ServiceError) as caught:
        plan(**body)
    return caught.value.code


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("stability.stable-diffusion-xl-v1", "1792x1024", (1344, 768)),
        ("stability.stable-diffusion-xl-v1", "1024x1792", (768, 1344)),
        ("amazon.titan-image-generator-v1", "1792x1024", (1152, 640)),
        ("amazon.titan-image-generator-v2:0", "1024x1792", (768, 1408)),
        ("amazon.nova-canvas-v1:0", "1792x1024", (1792, 1024)),
        ("stability.sd3-5-large-v1:0", "1792x1024", (1344, 768)),
        ("stability.stable-image-ultra-v1:1", "1024x1024", (1024, 1024)),
    ],
)
def test_seed_sizes_map_to_the_models_closest_size(model, size, expected):
    result = plan(model=model, size=size)
    assert (result.width, result.height) == expected


def test_titan_portrait_maps_to_an_allowed_size():
    result = plan(model="amazon.titan-image-generator-v1", size="1024x1792")
    assert (result.width, result.height) in catalog.TITAN_SIZES


def test_stability_v2_models_get_an_aspect_ratio():
    assert plan(model="stability.sd3-5-large-v1:0", size="1024x1792").aspect_ratio == "9:16"
    assert plan(model="stability.stable-image-core-v1:1").aspect_ratio == "1:1"
    assert plan(model="amazon.nova-canvas-v1:0").aspect_ratio is None


def test_explicit_width_and_height_must_be_supported():
    assert (plan(model=DEFAULT, width=512, height=768).width) == 512
    assert code_of(model=DEFAULT, width=500, height=768) == "IMG301"
    assert code_of(model=DEFAULT, width=320, height=4096) == "IMG301"  # ratio over 4:1
    assert code_of(model="stability.stable-diffusion-xl-v1", width=1024, height=1088) == "IMG301"


def test_defaults():
    result = plan()
    assert result.model_id == DEFAULT
    assert (result.width, result.height, result.n, result.quality) == (1024, 1024, 1, "standard")
    assert result.style_preset is None
    assert 0 <= result.seed <= catalog.MODELS[DEFAULT].seed_max


def test_sdxl_steps_follow_quality_unless_given():
    sdxl = "stability.stable-diffusion-xl-v1"
    assert plan(model=sdxl).steps == 30
    assert plan(model=sdxl, quality="hd").steps == 50
    assert plan(model=sdxl, steps=80).steps == 80


@pytest.mark.parametrize(
    ("body", "price"),
    [
        ({"model": "stability.stable-diffusion-xl-v1"}, 0.04),
        ({"model": "stability.stable-diffusion-xl-v1", "steps": 51}, 0.08),
        ({"model": "amazon.titan-image-generator-v1", "width": 512, "height": 512}, 0.008),
        ({"model": "amazon.titan-image-generator-v1", "quality": "hd"}, 0.012),
        ({"model": "amazon.nova-canvas-v1:0", "width": 2048, "height": 2048}, 0.06),
        ({"model": "amazon.nova-canvas-v1:0", "quality": "hd"}, 0.06),
        ({"model": "stability.stable-image-ultra-v1:1"}, 0.14),
        ({"model": "stability.stable-diffusion-v1-5"}, 0.04),
    ],
)
def test_price_per_image(body, price):
    assert plan(**body).price_per_image_usd == price


def test_cost_is_per_image_in_dollars_and_cents():
    result = plan(model="amazon.nova-canvas-v1:0", n=3)
    assert result.cost() == {"credits_used": 12.0, "price_usd": 0.12}


def test_calls_split_n_by_images_per_call_with_consecutive_seeds():
    assert plan(model="amazon.titan-image-generator-v1", n=7, seed=10).calls() == [
        ModelCall(10, 5),
        ModelCall(15, 2),
    ]
    sdxl = plan(model="stability.stable-diffusion-xl-v1", n=3, seed=0)
    assert sdxl.calls() == [ModelCall(0, 1), ModelCall(1, 1), ModelCall(2, 1)]


def test_the_last_seed_must_fit_the_models_range():
    nova_max = catalog.MODELS["amazon.nova-canvas-v1:0"].seed_max
    assert plan(seed=nova_max).seed == nova_max
    assert code_of(seed=nova_max, n=2) == "IMG302"


def test_style_natural_selects_the_photographic_preset_where_there_is_one():
    assert plan(style="natural").style_preset == "PHOTOREALISM"
    assert plan(model="stability.stable-diffusion-xl-v1", style="natural").style_preset == (
        "photographic"
    )
    assert plan(model="amazon.titan-image-generator-v1", style="natural").style_preset is None
    assert plan(style="natural", style_preset="MAXIMALISM").style_preset == "MAXIMALISM"


def test_empty_negative_prompt_means_none():
    assert plan(negative_prompt="").negative_prompt is None


def test_alias_is_resolved_with_a_note():
    result = plan(model="stability.stable-diffusion-v1-5")
    assert result.model_id == "stability.stable-image-core-v1:1"
    assert result.requested_model == "stability.stable-diffusion-v1-5"
    assert "alias" in (result.model_note or "")


def test_plan_round_trips_through_its_dict():
    result = plan(n=2, seed=5)
    assert type(result).from_dict(result.to_dict()) == result


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"prompt": ""}, "IMG001"),
        ({"prompt": ["a list"]}, "IMG001"),
        ({"prompt": "x" * 4001}, "IMG002"),
        ({"prompt": "ok", "n": True}, "IMG302"),
        ({"prompt": "ok", "cfg_scale": True}, "IMG302"),
        ({"prompt": "ok", "user_tags": [""]}, "IMG302"),
    ],
)
def test_parse_request_codes(body, code):
    with pytest.raises(ServiceError) as caught:
        parse_request(body)
    assert caught.value.code == code


def test_cfg_scale_accepts_whole_numbers():
    assert parse_request({"prompt": "ok", "cfg_scale": 7}).cfg_scale == 7.0

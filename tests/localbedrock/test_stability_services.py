"""The Stability AI Image Services through boto3: bodies as AWS's page documents them, and
outputs that show which service made them."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from tests.localbedrock.pictures import BACKGROUND, b64, box_mask, mean_difference, scene

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
SIZE = (160, 120)
INPUT = scene(SIZE)
INPUT_B64 = b64(INPUT)
CENTRE = (80, 60)
CORNER = (3, 3)
STYLE_COLOUR = (250, 20, 200)
STYLE = Image.new("RGB", (90, 100), STYLE_COLOUR)  # another size: resized to the content
STYLE_B64 = b64(STYLE)


@pytest.fixture
def output(invoke: Any, decode: Any) -> Any:
    """``output(model, body)``: the one image of a successful response."""

    def call(model_id: str, body: dict[str, Any]) -> Image.Image:
        result = invoke(model_id, body)
        assert result["finish_reasons"] == [None]
        [seed] = result["seeds"]
        if "seed" in body:
            assert seed == body["seed"]
        [image_b64] = result["images"]
        return decode(image_b64)

    return call


class TestUpscale:
    def test_fast_upscale_is_four_times_larger(self, output: Any) -> None:
        image = output(FAST, {"image": INPUT_B64})
        assert (image.format, image.size) == ("PNG", (640, 480))
        small = image.resize(SIZE, Image.Resampling.BOX)
        assert mean_difference(small, INPUT) < 3

    def test_fast_upscale_takes_webp_and_answers_jpeg(self, output: Any) -> None:
        image = output(FAST, {"image": b64(INPUT, "WEBP"), "output_format": "jpeg"})
        assert (image.format, image.size) == ("JPEG", (640, 480))

    @pytest.mark.parametrize("model_id", [CONSERVATIVE, CREATIVE])
    def test_the_reimagining_upscales_grow_and_depend_on_the_seed(
        self, output: Any, model_id: str
    ) -> None:
        body = {"prompt": "a red ball on blue", "image": INPUT_B64, "seed": 5}
        first = output(model_id, body)
        assert first.size == (640, 480)
        assert output(model_id, body).tobytes() == first.tobytes()
        assert output(model_id, {**body, "seed": 6}).tobytes() != first.tobytes()

    def test_creativity_changes_how_far_the_upscale_strays(self, output: Any) -> None:
        body = {"prompt": "a red ball", "image": INPUT_B64, "seed": 5}
        plain = output(FAST, {"image": INPUT_B64})
        low = output(CREATIVE, {**body, "creativity": 0.1})
        high = output(CREATIVE, {**body, "creativity": 0.5})
        assert mean_difference(low, plain) < mean_difference(high, plain)

    def test_the_upscale_is_capped_at_4096_px(self, output: Any) -> None:
        wide = b64(scene((1500, 600)))
        assert output(CONSERVATIVE, {"prompt": "p", "image": wide}).size == (4096, 1638)


class TestEdits:
    def test_remove_background_has_an_alpha_channel(self, output: Any) -> None:
        image = output(REMOVE_BG, {"image": INPUT_B64})
        assert (image.mode, image.size) == ("RGBA", SIZE)
        assert image.getpixel(CORNER)[3] == 0 and image.getpixel(CENTRE)[3] == 255

    def test_search_replace_changes_the_found_region_only(self, output: Any) -> None:
        body = {"prompt": "jacket", "search_prompt": "sweater", "image": INPUT_B64, "seed": 3}
        image = output(SEARCH_REPLACE, body).convert("RGB")
        assert image.size == SIZE
        assert image.getpixel(CORNER) == INPUT.getpixel(CORNER)
        assert image.crop((60, 45, 100, 75)).tobytes() != INPUT.crop((60, 45, 100, 75)).tobytes()

    def test_search_recolor_tints_by_the_prompt(self, output: Any) -> None:
        body = {"prompt": "pink jacket", "select_prompt": "jacket", "image": INPUT_B64}
        pink = output(SEARCH_RECOLOR, body).convert("RGB")
        green = output(SEARCH_RECOLOR, {**body, "prompt": "green jacket"}).convert("RGB")
        assert pink.getpixel(CORNER) == INPUT.getpixel(CORNER)
        assert pink.getpixel(CENTRE) != INPUT.getpixel(CENTRE)
        assert pink.getpixel(CENTRE) != green.getpixel(CENTRE)

    def test_erase_fills_the_white_of_the_mask(self, output: Any) -> None:
        mask = box_mask(SIZE, (40, 30, 120, 90), inside="white")
        image = output(ERASE, {"image": INPUT_B64, "mask": b64(mask), "seed": 1}).convert("RGB")
        assert image.getpixel(CORNER) == INPUT.getpixel(CORNER)
        assert image.getpixel(CENTRE) == BACKGROUND  # the object is gone

    def test_erase_without_a_mask_uses_the_alpha_channel(self, output: Any) -> None:
        holed = INPUT.convert("RGBA")
        holed.paste((0, 0, 0, 0), (50, 37, 110, 83))  # the whole object
        image = output(ERASE, {"image": b64(holed)}).convert("RGB")
        assert image.getpixel(CENTRE) == BACKGROUND


class TestControl:
    @pytest.mark.parametrize("model_id", [SKETCH, STRUCTURE])
    def test_control_strength_is_how_much_of_the_input_stays(
        self, output: Any, model_id: str
    ) -> None:
        body = {"prompt": "a house by a river", "image": INPUT_B64, "seed": 8}
        full = output(model_id, {**body, "control_strength": 1})
        loose = output(model_id, {**body, "control_strength": 0.2})
        assert full.size == loose.size == SIZE
        if model_id == STRUCTURE:
            assert full.tobytes() == INPUT.tobytes()
        assert mean_difference(loose, full) > 10

    def test_control_sketch_follows_the_contours(self, output: Any) -> None:
        body = {"prompt": "p", "image": INPUT_B64, "control_strength": 1}
        drawing = output(SKETCH, body).convert("L")
        assert drawing.getpixel(CORNER) == 255  # no edge in the plain background
        assert drawing.crop((50, 35, 110, 85)).getextrema()[0] < 128  # the object's outline


class TestStyleGuide:
    def test_the_output_has_the_ratios_size_and_the_style(self, output: Any) -> None:
        body = {"prompt": "wide shot of modern metropolis", "image": STYLE_B64, "seed": 4}
        square = output(STYLE_GUIDE, body)
        wide = output(STYLE_GUIDE, {**body, "aspect_ratio": "16:9"})
        assert (square.size, wide.size) == ((1024, 1024), (1344, 768))
        exact = output(STYLE_GUIDE, {**body, "fidelity": 1}).convert("RGB")
        assert exact.getpixel(CORNER) == STYLE_COLOUR  # all style, no sketch

    def test_fidelity_is_how_much_of_the_style_shows(self, output: Any) -> None:
        body = {"prompt": "a harbour", "image": STYLE_B64, "seed": 4}
        style = Image.new("RGB", (1024, 1024), STYLE_COLOUR)
        close = output(STYLE_GUIDE, {**body, "fidelity": 0.9}).convert("RGB")
        loose = output(STYLE_GUIDE, {**body, "fidelity": 0.1}).convert("RGB")
        assert mean_difference(close, style) < mean_difference(loose, style)

    def test_the_prompt_and_seed_shape_the_rest(self, output: Any) -> None:
        body = {"prompt": "a harbour", "image": STYLE_B64, "fidelity": 0.3}
        assert (
            mean_difference(
                output(STYLE_GUIDE, {**body, "seed": 1}), output(STYLE_GUIDE, {**body, "seed": 2})
            )
            > 1
        )


class TestStyleTransfer:
    def test_the_output_mixes_the_content_and_the_style(self, output: Any) -> None:
        body = {"init_image": INPUT_B64, "style_image": STYLE_B64, "prompt": "statue"}
        image = output(STYLE_TRANSFER, body).convert("RGB")
        assert image.size == SIZE  # the content image's
        style = Image.new("RGB", SIZE, STYLE_COLOUR)
        assert mean_difference(image, INPUT) > 20
        assert mean_difference(image, style) > 20
        # Every pixel lies between the content's and the style's: a blend of the two.
        corner, content_corner = image.getpixel(CORNER), INPUT.getpixel(CORNER)
        for mixed, content, styled in zip(corner, content_corner, STYLE_COLOUR, strict=True):
            assert min(content, styled) <= mixed <= max(content, styled)

    def test_no_style_strength_gives_the_input_back(self, output: Any) -> None:
        body = {"init_image": INPUT_B64, "style_image": STYLE_B64, "style_strength": 0}
        assert output(STYLE_TRANSFER, body).convert("RGB").tobytes() == INPUT.tobytes()

    def test_composition_fidelity_keeps_more_of_the_content(self, output: Any) -> None:
        body = {"init_image": INPUT_B64, "style_image": STYLE_B64, "seed": 3}
        loose = output(STYLE_TRANSFER, {**body, "composition_fidelity": 0})
        faithful = output(STYLE_TRANSFER, {**body, "composition_fidelity": 1})
        assert mean_difference(faithful, INPUT) < mean_difference(loose, INPUT)

    def test_the_same_body_renders_the_same_image(self, output: Any) -> None:
        body = {"init_image": INPUT_B64, "style_image": STYLE_B64, "seed": 9}
        first, second = output(STYLE_TRANSFER, body), output(STYLE_TRANSFER, body)
        assert first.tobytes() == second.tobytes()


NOT_ON_THE_PAGE = [
    (FAST, {"image": INPUT_B64, "seed": 1}, "#: extraneous key [seed]"),
    (FAST, {"image": INPUT_B64, "prompt": "p"}, "#: extraneous key [prompt]"),
    (REMOVE_BG, {"image": INPUT_B64, "grow_mask": 5}, "#: extraneous key [grow_mask]"),
    (CONSERVATIVE, {"image": INPUT_B64, "prompt": "p", "style_preset": "anime"}, "[style_preset]"),
    (ERASE, {"image": INPUT_B64, "prompt": "p"}, "#: extraneous key [prompt]"),
    (STRUCTURE, {"image": INPUT_B64, "prompt": "p", "fidelity": 0.5}, "[fidelity]"),
    (SKETCH, {"image": INPUT_B64, "prompt": "p", "creativity": 0.3}, "[creativity]"),
    (SEARCH_RECOLOR, {"image": INPUT_B64, "prompt": "p", "select_prompt": "s", "mask": ""}, "[mask]"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64, "style_image": STYLE_B64, "image": INPUT_B64}, "[image]"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64, "style_image": STYLE_B64, "style_preset": "anime"}, "[style_preset]"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64, "style_image": STYLE_B64, "fidelity": 0.5}, "[fidelity]"),
    (STYLE_GUIDE, {"image": STYLE_B64, "prompt": "p", "style_image": STYLE_B64}, "[style_image]"),
    (STYLE_GUIDE, {"image": STYLE_B64, "prompt": "p", "composition_fidelity": 0.5}, "[composition_fidelity]"),
]  # fmt: skip


@pytest.mark.parametrize(("model_id", "body", "fragment"), NOT_ON_THE_PAGE)
def test_a_field_the_page_does_not_list_is_refused(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)


REFUSALS = [
    (CONSERVATIVE, {"image": INPUT_B64}, "#: required key [prompt] not found"),
    (SEARCH_REPLACE, {"image": INPUT_B64, "prompt": "p"}, "required key [search_prompt]"),
    (SEARCH_RECOLOR, {"image": INPUT_B64, "prompt": "p"}, "required key [select_prompt]"),
    (CREATIVE, {"image": INPUT_B64, "prompt": "p", "creativity": 0.6}, "#/creativity: 0.6 is not less"),
    (CONSERVATIVE, {"image": INPUT_B64, "prompt": "p", "creativity": 0.05}, "#/creativity"),
    (CREATIVE, {"image": INPUT_B64, "prompt": "p", "seed": 4294967295}, "#/seed"),
    (ERASE, {"image": INPUT_B64, "grow_mask": 21}, "#/grow_mask: 21 is not less"),
    (SEARCH_REPLACE, {"image": INPUT_B64, "prompt": "p", "search_prompt": "s", "style_preset": "x"}, "#/style_preset"),
    (FAST, {"image": INPUT_B64, "output_format": "gif"}, "#/output_format"),
    (SKETCH, {"image": INPUT_B64}, "#: required key [prompt] not found"),
    (STRUCTURE, {"image": INPUT_B64, "prompt": "p", "control_strength": 1.1}, "#/control_strength"),
    (FAST, {"image": b64(scene((1537, 40)))}, "#/image: image width 1537 px is outside"),
    (FAST, {"image": b64(scene((1024, 1025)))}, "more than 1048576"),
    (FAST, {"image": b64(scene((32, 31)))}, "#/image: image height 31 px"),
    (CREATIVE, {"image": b64(scene((1025, 1024))), "prompt": "p"}, "more than 1048576"),
    (REMOVE_BG, {"image": b64(scene((651, 260)))}, "aspect ratio 651:260 is outside 1:2.5"),
    (SEARCH_REPLACE, {"image": b64(scene((63, 100))), "prompt": "p", "search_prompt": "s"}, "#/image"),
    (ERASE, {"image": INPUT_B64}, "#/mask"),
    (REMOVE_BG, {"image": "aGVsbG8="}, "#/image: decoded data is not a PNG or JPEG or WEBP"),
    (STYLE_GUIDE, {"image": STYLE_B64}, "#: required key [prompt] not found"),
    (STYLE_GUIDE, {"image": STYLE_B64, "prompt": "p", "fidelity": 1.5}, "#/fidelity"),
    (STYLE_GUIDE, {"image": STYLE_B64, "prompt": "p", "aspect_ratio": "4:3"}, "#/aspect_ratio"),
    (STYLE_GUIDE, {"image": b64(scene((651, 260))), "prompt": "p"}, "#/image: image aspect ratio"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64}, "#: required key [style_image] not found"),
    (STYLE_TRANSFER, {"style_image": STYLE_B64}, "#: required key [init_image] not found"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64, "style_image": STYLE_B64, "change_strength": 0.05}, "#/change_strength"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64, "style_image": STYLE_B64, "composition_fidelity": 1.5}, "#/composition_fidelity"),
    (STYLE_TRANSFER, {"init_image": INPUT_B64, "style_image": b64(scene((651, 260)))}, "#/style_image: image aspect ratio"),
    (STYLE_TRANSFER, {"init_image": b64(scene((63, 100))), "style_image": STYLE_B64}, "#/init_image"),
]  # fmt: skip


@pytest.mark.parametrize(("model_id", "body", "fragment"), REFUSALS)
def test_bodies_outside_the_page_are_refused(
    invoke_error: Any, model_id: str, body: dict[str, Any], fragment: str
) -> None:
    invoke_error(model_id, body, "ValidationException", fragment)


def test_a_filtered_prompt_answers_the_documented_finish_reason(invoke: Any) -> None:
    body = {"prompt": "forbidden-content please", "search_prompt": "s", "image": INPUT_B64}
    result = invoke(SEARCH_REPLACE, body)
    assert result["finish_reasons"] == ["Filter reason: prompt"]
    assert result["images"] == []

"""Placeholder rendering: deterministic, input-sensitive, real sizes and formats, and fast."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image

from localbedrock.render import render_image

BASE: dict[str, Any] = {
    "model_id": "amazon.nova-canvas-v1:0",
    "prompt": "a lighthouse on a cliff",
    "negative_prompt": None,
    "seed": 1,
    "width": 1024,
    "height": 1024,
    "style": None,
}


def test_same_inputs_give_the_same_bytes() -> None:
    assert render_image(**BASE) == render_image(**BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"model_id": "stability.sd3-5-large-v1:0"},
        {"prompt": "a lighthouse on a hill"},
        {"negative_prompt": "fog"},
        {"seed": 2},
        {"width": 1280, "height": 720},
        {"style": "PHOTOREALISM"},
        {"blurred": True},
    ],
)
def test_each_input_changes_the_image(change: dict[str, Any]) -> None:
    assert render_image(**{**BASE, **change}) != render_image(**BASE)


@pytest.mark.parametrize(
    ("output_format", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]
)
@pytest.mark.parametrize("size", [(1024, 1024), (1173, 640), (320, 1280), (4096, 1024)])
def test_output_has_the_requested_size_and_format(
    output_format: str, pil_format: str, size: tuple[int, int]
) -> None:
    data = render_image(
        **{**BASE, "width": size[0], "height": size[1]}, output_format=output_format
    )
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size, image.mode) == (pil_format, size, "RGB")


def test_a_1024_square_renders_well_under_100_ms() -> None:
    render_image(**BASE)  # warm up fonts and codecs
    timings = []
    for seed in range(5):
        started = time.perf_counter()
        render_image(**{**BASE, "seed": seed})
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.1, timings

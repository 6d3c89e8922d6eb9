"""Editing through the real stack: uploads, every task on every model that has it, the three
ways of giving an image, and the job carrying storage keys rather than image bytes."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from PIL import Image, ImageChops, ImageStat

from imagegen import catalog
from tests.integration.images import b64, decode, encode, left_half_mask, scene

EDIT_CASES = [
    (task, model)
    for task in catalog.EDIT_TASKS
    for model in catalog.models_for(task)
]  # fmt: skip


STYLE = Image.new("RGB", (512, 640), (250, 20, 200))  # a style image of its own size


def upload(api, data: bytes) -> str:
    response = api.request("POST", "/v1/uploads", files={"file": ("in.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["image_id"]


def edit(api, body: dict[str, Any], **kwargs: Any):
    return api.request("POST", "/v1/images/edits", json=body, **kwargs)


def task_fields(api, task: str, model: str | None = None) -> dict[str, Any]:
    """A valid request for each task, around one uploaded 1024x1024 scene (upscales: 256x192,
    so the output stays small)."""
    if task == "upscale":
        image_id = upload(api, encode(scene((256, 192))))
        mode = catalog.MODELS[model].upscale_mode if model else "fast"
        return {"image_id": image_id, **({} if mode == "fast" else {"prompt": "sharp details"})}
    image_id = upload(api, encode(scene()))
    if task == "image_to_image":
        return {"image_id": image_id, "prompt": "the same scene at night", "image_strength": 0.6}
    if task == "inpaint":
        mask_id = upload(api, encode(left_half_mask()))
        return {"image_id": image_id, "mask_image_id": mask_id, "prompt": "a field of flowers"}
    if task == "outpaint":
        return {"image_id": image_id, "extend": {"right": 256}, "prompt": "more sky"}
    if task == "variation":
        return {"image_ids": [image_id], "prompt": "the same, in autumn"}
    if task == "search_replace":
        return {"image_id": image_id, "prompt": "a blue cube", "search_prompt": "the red ball"}
    if task == "search_recolor":
        return {"image_id": image_id, "prompt": "a pink ball", "select_prompt": "the ball"}
    if task in ("control_sketch", "control_structure"):
        return {"image_id": image_id, "prompt": "a lighthouse", "control_strength": 0.6}
    if task == "erase":
        return {"image_id": image_id, "mask_image_id": upload(api, encode(left_half_mask()))}
    if task == "style_guide":
        return {"image_id": image_id, "prompt": "wide shot of modern metropolis"}
    if task == "style_transfer":
        return {
            "image_id": image_id,
            "style_image_id": upload(api, encode(STYLE)),
            "prompt": "statue",
        }
    return {"image_id": image_id}


class TestUploads:
    def test_a_multipart_upload_is_kept_as_sent(self, api):
        data = encode(scene((640, 480)), "JPEG", quality=90)
        response = api.request(
            "POST", "/v1/uploads", files={"file": ("photo.jpg", data, "image/jpeg")}
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["image_type"] == "uploaded"
        assert body["metadata"] == {
            "width": 640, "height": 480, "format": "jpeg", "size_bytes": len(data)
        }  # fmt: skip
        assert api.fetch(body["url"]).content == data
        assert decode(api.fetch(body["thumbnail_url"]).content).format == "WEBP"

    def test_a_json_base64_upload(self, api):
        data = encode(scene((320, 320)), "WEBP")
        response = api.request(
            "POST", "/v1/uploads", json={"image_base64": "data:image/webp;base64," + b64(data)}
        )
        assert response.status_code == 201, response.text
        assert response.json()["metadata"]["format"] == "webp"

    def test_uploads_need_an_api_key(self, anonymous_api):
        response = anonymous_api.request(
            "POST", "/v1/uploads", files={"file": ("a.png", encode(scene((64, 64))))}
        )
        assert response.status_code == 401


@pytest.mark.parametrize(("task", "model"), EDIT_CASES)
def test_every_task_on_every_model_that_has_it(api, model_calls, task, model):
    response = edit(api, {"task": task, "model": model, **task_fields(api, task, model)})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task"] == task and body["model"] == model
    [image] = body["images"]
    assert image["image_type"] == "edited"
    decoded = decode(api.fetch(image["url"]).content)
    assert decoded.size == (image["metadata"]["width"], image["metadata"]["height"])
    spec = catalog.MODELS[model]
    if task == "upscale":
        assert decoded.size == (1024, 768)  # 4x per side
    elif spec.input_rule is not None:
        assert decoded.size == (1024, 1024)  # the image services keep the input's size
    else:
        assert spec.allows_size(*decoded.size)
    if task == "outpaint":
        assert decoded.width > decoded.height  # the canvas grew to the right
    if task == "remove_background":
        assert decoded.mode == "RGBA"
        assert decoded.getpixel((2, 2))[3] == 0  # the plain background is gone
        assert decoded.getpixel((512, 512))[3] == 255  # the object stays
    [call] = model_calls()  # one valid body, accepted by the endpoint's documented schema
    assert (call["model_id"], call["status"]) == (model, 200)


@pytest.mark.parametrize("model", catalog.models_for("inpaint"))
def test_inpainting_changes_only_the_masked_area(api, model):
    source = scene()
    fields = {
        "image_id": upload(api, encode(source)),
        "mask_image_id": upload(api, encode(left_half_mask())),
        "prompt": "a field of flowers",
    }
    response = edit(api, {"task": "inpaint", "model": model, **fields})

    assert response.status_code == 200, response.text
    result = decode(api.fetch(response.json()["images"][0]["url"]).content).convert("RGB")
    kept = (600, 0, 1024, 1024)  # inside the black (keep) half
    assert result.crop(kept).tobytes() == source.crop(kept).tobytes()
    assert result.crop((0, 0, 400, 1024)).tobytes() != source.crop((0, 0, 400, 1024)).tobytes()


def test_image_to_image_derives_from_the_input(api):
    source = scene()
    image_id = upload(api, encode(source))
    body = {"task": "image_to_image", "model": "stability.stable-diffusion-xl-v1",
            "image_id": image_id, "prompt": "dusk", "seed": 9}  # fmt: skip
    light = edit(api, {**body, "image_strength": 0.9}).json()["images"][0]
    heavy = edit(api, {**body, "image_strength": 0.1}).json()["images"][0]

    def difference(image: dict[str, Any]) -> float:
        result = decode(api.fetch(image["url"]).content).convert("L")
        return ImageStat.Stat(ImageChops.difference(result, source.convert("L"))).mean[0]

    assert difference(light) < difference(heavy)


class TestWaysOfGivingAnImage:
    def test_an_id_of_a_generated_image(self, api):
        generated = api.generate(
            {"prompt": "a red barn", "model": "amazon.nova-canvas-v1:0", "size": "1024x1024"}
        ).json()["images"][0]["image_id"]
        response = edit(api, {"task": "remove_background", "image_id": generated})
        assert response.status_code == 200, response.text

    def test_inline_base64_becomes_an_upload_named_in_the_job(self, api):
        response = edit(
            api,
            {"task": "variation", "input_image_base64": b64(encode(scene())), "async": True},
        )
        assert response.status_code == 202, response.text
        job = api.wait_for_job(response.json()["job_id"])["job"]
        assert job["status"]["status"] == "completed"
        stored = job["request"]
        assert "input_image_base64" not in stored
        assert stored["image_id"].startswith("img_")
        again = edit(api, {"task": "remove_background", "image_id": stored["image_id"]})
        assert again.status_code == 200, again.text

    def test_an_openai_style_multipart_form(self, api):
        response = api.request(
            "POST",
            "/v1/images/edits",
            files={
                "image": ("image.png", encode(scene()), "image/png"),
                "mask": ("mask.png", encode(left_half_mask()), "image/png"),
            },
            data={"prompt": "a pond", "n": "2", "model": "amazon.titan-image-generator-v2:0",
                  "response_format": "url"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["task"] == "inpaint"
        assert len(body["images"]) == 2

    def test_an_openai_style_mask_with_transparency(self, api):
        mask = scene().convert("RGBA")
        mask.paste((0, 0, 0, 0), (0, 0, 512, 1024))  # transparent = edit, as OpenAI reads it
        response = edit(
            api,
            {"task": "inpaint", "model": "amazon.nova-canvas-v1:0", "prompt": "sand",
             "image_id": upload(api, encode(scene())),
             "mask_image_base64": b64(encode(mask))},
        )  # fmt: skip
        assert response.status_code == 200, response.text

    def test_another_tenants_image_is_not_found(self, api, other_api):
        image_id = upload(other_api, encode(scene((320, 320))))
        response = edit(api, {"task": "remove_background", "image_id": image_id})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "IMG302"
        assert image_id in response.json()["error"]["message"]

    def test_another_tenants_style_image_is_not_found(self, api, other_api, model_calls):
        style_id = upload(other_api, encode(STYLE))
        fields = {"task": "style_transfer", "image_id": upload(api, encode(scene((320, 320))))}
        response = edit(api, {**fields, "style_image_id": style_id})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "IMG302"
        assert style_id in response.json()["error"]["message"]
        assert model_calls() == []


@pytest.mark.parametrize(
    ("mode", "prompt", "model"),
    [
        (None, None, "stability.stable-fast-upscale-v1:0"),
        ("conservative", "crisp", "stability.stable-conservative-upscale-v1:0"),
        ("creative", "crisp", "stability.stable-creative-upscale-v1:0"),
    ],
)
def test_the_upscale_mode_picks_the_service(api, model_calls, mode, prompt, model):
    source = scene((120, 90))
    fields = {"task": "upscale", "image_id": upload(api, encode(source))}
    fields |= {k: v for k, v in (("mode", mode), ("prompt", prompt)) if v}
    response = edit(api, fields)

    assert response.status_code == 200, response.text
    assert response.json()["model"] == model
    result = decode(api.fetch(response.json()["images"][0]["url"]).content)
    assert (result.format, result.mode, result.size) == ("PNG", "RGB", (480, 360))
    [call] = model_calls()
    assert call["model_id"] == model


def test_an_image_beyond_the_services_limits_is_img301_before_any_call(api, model_calls):
    image_id = upload(api, encode(scene((1600, 400))))
    response = edit(api, {"task": "upscale", "image_id": image_id})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "IMG301"
    assert error["details"]["image_size"] == "1600x400"
    assert model_calls() == []


def test_erase_fills_the_masked_area_and_keeps_the_rest(api):
    source = scene()
    fields = {
        "task": "erase",
        "image_id": upload(api, encode(source)),
        "mask_image_id": upload(api, encode(left_half_mask())),
    }
    response = edit(api, fields)

    assert response.status_code == 200, response.text
    result = decode(api.fetch(response.json()["images"][0]["url"]).content).convert("RGB")
    kept = (600, 0, 1024, 1024)
    assert result.crop(kept).tobytes() == source.crop(kept).tobytes()
    assert result.crop((0, 0, 400, 1024)).tobytes() != source.crop((0, 0, 400, 1024)).tobytes()


def test_style_transfer_mixes_the_content_and_the_style(api, model_calls):
    source = scene()
    fields = {
        "task": "style_transfer",
        "image_id": upload(api, encode(source)),
        "style_image_id": upload(api, encode(STYLE)),
        "style_strength": 0.8,
    }
    response = edit(api, fields)

    assert response.status_code == 200, response.text
    result = decode(api.fetch(response.json()["images"][0]["url"]).content).convert("RGB")
    assert result.size == source.size
    style = Image.new("RGB", source.size, STYLE.getpixel((0, 0)))
    for other in (source, style):  # far from both inputs: it is made of the two
        assert sum(ImageStat.Stat(ImageChops.difference(result, other)).mean) / 3 > 20
    [call] = model_calls()
    assert call["model_id"] == "stability.stable-style-transfer-v1:0"
    assert set(call["body"]) == {
        "init_image",
        "style_image",
        "style_strength",
        "seed",
        "output_format",
    }


def test_style_guide_makes_the_ratios_shape_in_the_inputs_colours(api, model_calls):
    fields = {
        "task": "style_guide",
        "image_id": upload(api, encode(STYLE)),
        "prompt": "a harbour",
        "aspect_ratio": "16:9",
        "fidelity": 0.9,
    }
    response = edit(api, fields)

    assert response.status_code == 200, response.text
    result = decode(api.fetch(response.json()["images"][0]["url"]).content).convert("RGB")
    assert result.size == (1344, 768)
    style = Image.new("RGB", result.size, STYLE.getpixel((0, 0)))
    assert sum(ImageStat.Stat(ImageChops.difference(result, style)).mean) / 3 < 30
    [call] = model_calls()
    assert call["model_id"] == "stability.stable-image-style-guide-v1:0"
    assert set(call["body"]) == {
        "image", "prompt", "aspect_ratio", "fidelity", "seed", "output_format"
    }  # fmt: skip


def test_a_model_without_the_task_names_those_with_it(api):
    response = edit(
        api,
        {"task": "remove_background", "model": "stability.stable-diffusion-xl-v1",
         "image_id": upload(api, encode(scene((320, 320))))},
    )  # fmt: skip
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "IMG302"
    assert error["details"]["models"] == catalog.models_for("remove_background")


def test_models_list_their_tasks(api):
    models = {m["model_id"]: m for m in api.request("GET", "/v1/models").json()["models"]}
    for task in catalog.EDIT_TASKS:
        having = [mid for mid, m in models.items() if task in m["tasks"]]
        assert having == catalog.models_for(task)
    assert models["amazon.nova-canvas-v1:0"]["editing"]["max_reference_images"] == 5


def test_input_image_bytes_never_enter_redis(api, stack):
    # Noise does not compress, so a copy of it anywhere in Redis would be big as well as
    # recognisable.
    data = encode(Image.effect_noise((512, 512), 80).convert("RGB"))
    assert len(data) > 256 * 1024
    response = edit(api, {"task": "variation", "input_image_base64": b64(data), "async": True})
    job_id = response.json()["job_id"]
    api.wait_for_job(job_id)

    client = redis.Redis.from_url(stack.env["IMAGEGEN_REDIS_URL"])
    marker = b64(data)[:64].encode()
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"hash":
            values = list(client.hgetall(key).values())
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        else:
            continue
        for value in values:
            assert marker not in value, key
            assert len(value) < 64 * 1024, key

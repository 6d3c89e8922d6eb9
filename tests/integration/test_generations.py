"""Text-to-image through the real stack: API under gunicorn, worker, Redis, local endpoint."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagegen import catalog

# The models a generation can name (the image services only edit).
ALL_MODELS = sorted(catalog.models_for(catalog.TEXT_TO_IMAGE))


def _decode(api, url: str) -> Image.Image:
    response = api.fetch(url)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


@pytest.mark.parametrize("model", ALL_MODELS)
def test_sync_generation_returns_decodable_images_at_the_reported_size(api, model):
    response = api.generate({"prompt": "a lighthouse at dawn", "model": model, "size": "1792x1024"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["model"] == model
    [image] = body["images"]
    metadata = image["metadata"]
    decoded = _decode(api, image["url"])
    assert decoded.size == (metadata["width"], metadata["height"])
    expected = catalog.MODELS[model].size_for(1792, 1024)
    assert (metadata["width"], metadata["height"]) == expected
    assert metadata["size_bytes"] == len(api.fetch(image["url"]).content)
    thumbnail = _decode(api, image["thumbnail_url"])
    assert thumbnail.format == "WEBP"
    assert max(thumbnail.size) == 256
    assert body["cost"]["price_usd"] > 0


@pytest.mark.parametrize("model", ALL_MODELS)
def test_async_generation_is_accepted_at_once_and_completes(api, model):
    response = api.generate({"prompt": "a quiet harbour", "model": model, "async": True})

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert response.headers["Location"] == f"/v1/jobs/{body['job_id']}"
    job = api.wait_for_job(body["job_id"])
    assert job["job"]["status"]["status"] == "completed"
    assert job["job"]["status"]["progress"] == 100
    assert job["job"]["started_at"] and job["job"]["completed_at"]
    assert len(job["job"]["result"]["images"]) == 1
    assert job["job"]["request"]["prompt"] == "a quiet harbour"
    assert job["can_cancel"] is False and job["can_retry"] is False


@pytest.mark.parametrize(
    "model", ["stability.stable-diffusion-xl-v1", "amazon.titan-image-generator-v2:0"]
)
def test_n_images_are_distinct(api, model):
    response = api.generate({"prompt": "four different kites", "model": model, "n": 4})

    assert response.status_code == 200, response.text
    images = response.json()["images"]
    assert len(images) == 4
    contents = {api.fetch(image["url"]).content for image in images}
    assert len(contents) == 4
    assert len({image["image_id"] for image in images}) == 4


@pytest.mark.parametrize("model", ALL_MODELS)
def test_same_seed_gives_identical_bytes(api, model):
    request = {"prompt": "a paper crane", "model": model, "seed": 1234}
    first = api.generate(request).json()["images"][0]
    second = api.generate(request).json()["images"][0]
    other = api.generate({**request, "seed": 1235}).json()["images"][0]

    assert first["image_id"] != second["image_id"]
    assert api.fetch(first["url"]).content == api.fetch(second["url"]).content
    assert api.fetch(first["url"]).content != api.fetch(other["url"]).content
    assert first["metadata"]["seed"] == 1234


def test_n_calls_are_made_concurrently(api, model_calls):
    response = api.generate(
        {"prompt": "ten lanterns", "model": "stability.stable-diffusion-xl-v1", "n": 10, "seed": 7}
    )

    assert response.status_code == 200, response.text
    calls = [c for c in model_calls() if c["status"] == 200]
    assert sorted(c["body"]["seed"] for c in calls) == list(range(7, 17))
    # The calls overlap in time: every call started before the first one finished.
    from datetime import datetime

    ends = [datetime.fromisoformat(c["time"]).timestamp() for c in calls]
    starts = [end - c["latency_ms"] / 1000 for end, c in zip(ends, calls, strict=True)]
    assert max(starts) < min(ends)


def test_titan_batches_images_into_calls_of_five(api, model_calls):
    response = api.generate(
        {"prompt": "seven birds", "model": "amazon.titan-image-generator-v1", "n": 7, "seed": 100}
    )

    assert response.status_code == 200, response.text
    images = response.json()["images"]
    assert len(images) == 7
    # Each image reports the seed of the call that made it, as Titan does (one seed per
    # call, none per image), and the images of a call still differ.
    assert [image["metadata"]["seed"] for image in images] == [100] * 5 + [105] * 2
    assert len({api.fetch(image["url"]).content for image in images}) == 7
    configs = sorted(
        (
            c["body"]["imageGenerationConfig"]["seed"],
            c["body"]["imageGenerationConfig"]["numberOfImages"],
        )
        for c in model_calls()
    )
    assert configs == [(100, 5), (105, 2)]


def test_request_bodies_are_valid_and_leave_out_empty_fields(api, model_calls):
    for model in ALL_MODELS:
        response = api.generate(
            {"prompt": "a bowl of fruit", "model": model, "negative_prompt": ""}
        )
        assert response.status_code == 200, response.text

    calls = model_calls()
    assert {c["model_id"] for c in calls} == set(ALL_MODELS)
    for call in calls:
        assert call["status"] == 200, call
        assert "" not in _all_values(call["body"]), call
        assert "negativeText" not in str(call["body"]) and "negative_prompt" not in call["body"]


def _all_values(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _all_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_values(item)
    else:
        yield value


def test_controls_reach_the_model(api, model_calls):
    response = api.generate(
        {
            "prompt": "a castle",
            "negative_prompt": "fog",
            "model": "stability.stable-diffusion-xl-v1",
            "width": 1216,
            "height": 832,
            "cfg_scale": 9,
            "steps": 40,
            "seed": 5,
            "style_preset": "anime",
        }
    )

    assert response.status_code == 200, response.text
    [call] = model_calls()
    assert call["body"] == {
        "text_prompts": [{"text": "a castle", "weight": 1.0}, {"text": "fog", "weight": -1.0}],
        "width": 1216,
        "height": 832,
        "seed": 5,
        "samples": 1,
        "steps": 40,
        "cfg_scale": 9.0,
        "style_preset": "anime",
    }


def test_quality_and_style_map_onto_nova(api, model_calls):
    response = api.generate(
        {"prompt": "a street market", "model": "amazon.nova-canvas-v1:0", "quality": "hd",
         "style": "natural", "seed": 3}
    )  # fmt: skip

    assert response.status_code == 200, response.text
    [call] = model_calls()
    assert call["body"]["imageGenerationConfig"]["quality"] == "premium"
    assert call["body"]["textToImageParams"]["style"] == "PHOTOREALISM"
    assert response.json()["cost"] == {"credits_used": 6.0, "price_usd": 0.06}


def test_seed_alias_model_is_served_by_the_fast_tier_and_says_so(api, model_calls):
    response = api.generate({"prompt": "a fox", "model": "stability.stable-diffusion-v1-5"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "stability.stable-image-core-v1:1"
    assert "alias" in body["warnings"][0]
    assert [c["model_id"] for c in model_calls()] == ["stability.stable-image-core-v1:1"]


def test_request_id_is_echoed_and_logged_by_api_and_worker(api, stack):
    request_id = "trace-abc-123"
    response = api.generate({"prompt": "a comet"}, headers={"X-Request-ID": request_id})

    assert response.headers["X-Request-ID"] == request_id
    assert response.json()["request_id"] == request_id
    assert f'"request_id": "{request_id}"' in stack.api.log()
    assert f'"request_id": "{request_id}"' in stack.worker.log()


def test_a_request_id_is_made_when_absent_or_unsafe(api):
    response = api.request("GET", "/v1/models", headers={"X-Request-ID": "bad id <script>"})

    assert response.headers["X-Request-ID"].startswith("req_")


def test_prompts_are_not_logged_whole(api, stack):
    secret_prompt = "a very private prompt about project nightingale"
    api.generate({"prompt": secret_prompt})

    assert secret_prompt not in stack.api.log()
    assert secret_prompt not in stack.worker.log()


def test_wait_running_out_answers_202_and_the_job_carries_on(api):
    response = api.generate({"prompt": "trigger-slow painting"}, headers={"Prefer": "wait=1"})

    assert response.status_code == 202, response.text
    assert response.headers["Preference-Applied"] == "wait=1"
    job = api.wait_for_job(response.json()["job_id"])
    # The worker's read timeout (2 s) is shorter than the endpoint's slow answer (4 s).
    assert job["job"]["status"]["status"] == "failed"
    assert job["job"]["status"]["error"]["code"] == "IMG202"


def test_models_lists_every_model_with_its_capabilities(api):
    response = api.request("GET", "/v1/models")

    assert response.status_code == 200
    models = {m["model_id"]: m for m in response.json()["models"]}
    assert set(models) == set(catalog.MODELS)
    titan = models["amazon.titan-image-generator-v1"]
    assert titan["max_images_per_call"] == 5
    assert titan["prompt"]["max_chars"] == 512
    assert "1024x1024" in titan["sizes"]["allowed"]
    assert titan["tasks"] == ["text_to_image", "inpaint", "outpaint", "variation"]
    assert titan["pricing"][0]["standard_usd"] == 0.008
    assert "rule" in models["amazon.nova-canvas-v1:0"]["sizes"]
    aliases = response.json()["aliases"]
    assert aliases[0]["alias"] == "stability.stable-diffusion-v1-5"


def test_get_one_model_and_an_unknown_one(api):
    assert (
        api.request("GET", "/v1/models/amazon.nova-canvas-v1:0").json()["name"]
        == "Amazon Nova Canvas"
    )
    missing = api.request("GET", "/v1/models/no.such-model")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


def test_the_worker_runs_jobs_concurrently(api):
    # Two slow jobs (each held ~2 s by the worker's read timeout) with concurrency 2: the
    # second starts while the first is still running, not after it.
    first = api.generate({"prompt": "trigger-slow one", "async": True}).json()["job_id"]
    second = api.generate({"prompt": "trigger-slow two", "async": True}).json()["job_id"]
    jobs = [api.wait_for_job(job_id)["job"] for job_id in (first, second)]
    jobs.sort(key=lambda job: job["started_at"])
    assert jobs[1]["started_at"] < jobs[0]["completed_at"]

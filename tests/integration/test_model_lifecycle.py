"""Model lifecycles from the control plane, through the real stack: its own localbedrock
reports Stable Image Core LEGACY and SD3.5 Large LEGACY past its end of life, and the API
and worker, which ask it (AWS_ENDPOINT_URL_BEDROCK, as localrun's service_env sets),
warn of the one and refuse the other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.conftest import Stack, make_tenant, run_own_stack
from tests.integration.conftest import Api, openapi_for

CORE = "stability.stable-image-core-v1:1"
SD35 = "stability.sd3-5-large-v1:0"
ULTRA = "stability.stable-image-ultra-v1:1"
REPORTED = {
    CORE: {"status": "LEGACY", "legacyTime": "2026-11-01", "endOfLifeTime": "2099-05-01"},
    # Bedrock reports ACTIVE or LEGACY only; a passed end of life makes the model EOL.
    SD35: {"status": "LEGACY", "legacyTime": "2026-06-01", "endOfLifeTime": "2026-11-30"},
}


@pytest.fixture(scope="module")
def lifecycle_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    yield from run_own_stack(
        tmp_path_factory.mktemp("model-lifecycle"),
        redis_url,
        5,
        {"LOCALBEDROCK_LIFECYCLE": json.dumps(REPORTED)},
        # Chosen at start from the table (ACTIVE there); the control plane then says LEGACY.
        {"IMAGEGEN_DEFAULT_MODEL": CORE},
    )


@pytest.fixture(scope="module")
def lifecycle_api(lifecycle_stack: Stack) -> Api:
    tenant = make_tenant(lifecycle_stack, "tenant-lifecycle", "lee")
    return Api(lifecycle_stack, tenant, openapi_for(lifecycle_stack))


def test_models_show_what_the_control_plane_reports(lifecycle_api: Api) -> None:
    response = lifecycle_api.request("GET", "/v1/models")

    assert response.status_code == 200, response.text
    lifecycles = {model["model_id"]: model["lifecycle"] for model in response.json()["models"]}
    assert lifecycles[CORE] == {
        "status": "LEGACY",
        "legacy_since": "2026-11-01",
        "end_of_life": "2099-05-01",
        "successor": None,
    }
    assert lifecycles[SD35]["status"] == "EOL"
    assert lifecycles[SD35]["end_of_life"] == "2026-11-30"
    assert lifecycles[ULTRA]["status"] == "ACTIVE"


def test_a_model_the_control_plane_calls_legacy_generates_with_a_deprecation(
    lifecycle_api: Api,
) -> None:
    response = lifecycle_api.generate({"prompt": "an old lighthouse", "model": CORE})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert (
        response.headers["Deprecation"] == f"@{int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())}"
    )
    assert response.headers["Sunset"] == "Fri, 01 May 2099 00:00:00 GMT"
    (warning,) = response.json()["warnings"]
    assert CORE in warning and "Legacy" in warning and "2099-05-01" in warning


def test_an_active_model_generates_without_one(lifecycle_api: Api) -> None:
    response = lifecycle_api.generate({"prompt": "a new lighthouse", "model": ULTRA})

    assert response.status_code == 200, response.text
    assert "Deprecation" not in response.headers
    assert "warnings" not in response.json()


def test_a_model_past_the_end_of_life_it_reports_is_refused_with_img203(lifecycle_api: Api) -> None:
    response = lifecycle_api.generate({"prompt": "a gone lighthouse", "model": SD35})

    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "IMG203"
    assert error["details"]["lifecycle"]["status"] == "EOL"
    assert error["details"]["lifecycle"]["end_of_life"] == "2026-11-30"


def test_a_default_the_control_plane_calls_legacy_gives_way_to_an_active_model(
    lifecycle_api: Api,
) -> None:
    response = lifecycle_api.generate({"prompt": "a lighthouse, no model named"})

    assert response.status_code == 200, response.text
    served = response.json()["model"]
    assert served != CORE
    models = {m["model_id"]: m for m in lifecycle_api.request("GET", "/v1/models").json()["models"]}
    assert models[served]["lifecycle"]["status"] == "ACTIVE"
    assert "Deprecation" not in response.headers

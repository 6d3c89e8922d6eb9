"""Model lifecycles through the API in-process: GET /v1/models' lifecycle (checked against
the OpenAPI document), a Legacy model's deprecation headers and warning, an EOL model's
refusal with nothing recorded or stored, and the default model's startup log."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from app import create_app
from imagegen.config import Settings
from imagegen.services import Services
from localrun import EVERY_MODEL_ACTIVE
from tests.app.conftest import assert_error, b64, png
from tests.conftest import ROOT

NOVA = "amazon.nova-canvas-v1:0"
CORE = "stability.stable-image-core-v1:1"
SDXL = "stability.stable-diffusion-xl-v1"
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"

# Nova Canvas Legacy with known dates; SDXL EOL; the rest as the tests have them.
LIFECYCLE = json.dumps(
    {
        **{item.split("=")[0]: "ACTIVE" for item in EVERY_MODEL_ACTIVE.split(",")},
        NOVA: {
            "status": "LEGACY",
            "legacy_since": "2026-11-01",
            "end_of_life": "2099-05-01",
            "successor": CORE,
        },
        SDXL: "EOL",
    }
)


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"IMAGEGEN_MODEL_LIFECYCLE": LIFECYCLE}


def contract() -> OpenAPI:
    document = yaml.safe_load((ROOT / "app" / "openapi.yaml").read_text(encoding="utf-8"))
    document["servers"] = [{"url": "http://localhost"}]
    return OpenAPI.from_dict(document)


def checked(response: Any, path: str) -> Any:
    from werkzeug.test import EnvironBuilder

    request = EnvironBuilder(path=path, base_url="http://localhost").get_request()
    contract().validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
    return response


def test_models_show_each_lifecycle_as_the_contract_describes(
    client: FlaskClient, auth: dict[str, str]
):
    listing = checked(client.get("/v1/models", headers=auth), "/v1/models").get_json()
    lifecycles = {m["model_id"]: m["lifecycle"] for m in listing["models"]}
    assert lifecycles[NOVA] == {
        "status": "LEGACY",
        "legacy_since": "2026-11-01",
        "end_of_life": "2099-05-01",
        "successor": CORE,
    }
    assert lifecycles[SDXL]["status"] == "EOL"
    assert lifecycles[SDXL]["successor"] == "stability.sd3-5-large-v1:0"
    assert lifecycles[CORE] == {
        "status": "ACTIVE",
        "legacy_since": None,
        "end_of_life": None,
        "successor": None,
    }
    one = checked(client.get(f"/v1/models/{SDXL}", headers=auth), f"/v1/models/{SDXL}")
    assert one.get_json()["lifecycle"] == lifecycles[SDXL]


def test_a_legacy_model_is_served_with_deprecation_sunset_and_successor_link(
    client: FlaskClient, auth: dict[str, str]
):
    response = client.post(
        GENERATIONS, json={"prompt": "a fox", "model": NOVA, "async": True}, headers=auth
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    epoch = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    assert response.headers["Deprecation"] == f"@{epoch}"
    assert response.headers["Sunset"] == "Fri, 01 May 2099 00:00:00 GMT"
    assert response.headers["Link"] == (
        f'<http://api.test/v1/models/{CORE}>; rel="successor-version"'
    )
    (warning,) = response.get_json()["warnings"]
    assert "Legacy" in warning and "2099-05-01" in warning and CORE in warning


def test_an_active_model_carries_no_deprecation(client: FlaskClient, auth: dict[str, str]):
    response = client.post(
        GENERATIONS, json={"prompt": "a fox", "model": CORE, "async": True}, headers=auth
    )
    assert response.status_code == 202
    assert "Deprecation" not in response.headers
    assert "Sunset" not in response.headers
    assert "warnings" not in response.get_json()


def test_an_eol_model_is_refused_with_its_successor_and_nothing_is_recorded(
    client: FlaskClient, auth: dict[str, str], services: Services
):
    response = client.post(GENERATIONS, json={"prompt": "a fox", "model": SDXL}, headers=auth)
    error = assert_error(response, 503, "IMG203")
    assert error["details"]["successor"] == "stability.sd3-5-large-v1:0"
    assert error["details"]["lifecycle"]["status"] == "EOL"
    assert services.repository.list_jobs("tenant-a", None, 10) == []


def test_an_edit_for_an_eol_model_is_refused_before_its_image_is_stored(
    client: FlaskClient, auth: dict[str, str], services: Services
):
    body = {
        "task": "image_to_image",
        "model": SDXL,
        "prompt": "a fox",
        "input_image_base64": b64(png((1024, 1024))),
    }
    error = assert_error(client.post(EDITS, json=body, headers=auth), 503, "IMG203")
    assert error["details"]["successor"] == "stability.sd3-5-large-v1:0"
    assert services.repository.list_jobs("tenant-a", None, 10) == []
    listing = client.get("/v1/images", headers=auth).get_json()
    assert listing["images"] == []


def test_the_app_logs_the_default_model_and_why_at_start(
    settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
):
    retired = Settings.from_env({"IMAGEGEN_DATA_DIR": str(settings.data_dir)})
    with caplog.at_level(logging.INFO, logger="imagegen.model_lifecycle"):
        create_app(retired, services)
    (record,) = [r for r in caplog.records if r.getMessage() == "default model"]
    assert record.__dict__["role"] == "api"
    assert record.__dict__["model"] == CORE
    assert record.__dict__["configured_model"] == NOVA
    assert "EOL" in record.__dict__["reason"]

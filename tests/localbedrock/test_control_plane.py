"""localbedrock's control plane (ListFoundationModels, GetFoundationModel) through boto3's
real `bedrock` client over loopback HTTP, and the service's lifecycle adapter reading it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from imagegen.config import Settings
from imagegen.model_lifecycle import Reported
from imagegen.services import build_lifecycle_source
from localbedrock.control_plane import parse_lifecycles
from localbedrock.models import REGISTRY
from tests.localbedrock.conftest import Endpoint

CORE = "stability.stable-image-core-v1:1"
SD35 = "stability.sd3-5-large-v1:0"
NOVA = "amazon.nova-canvas-v1:0"
REPORTED = json.dumps(
    {
        CORE: {
            "status": "LEGACY",
            "startOfLifeTime": "2024-09-01",
            "legacyTime": "2026-11-01",
            "publicExtendedAccessTime": "2027-02-01T12:00:00+02:00",
            "endOfLifeTime": "2027-05-01",
        },
        NOVA: "LEGACY",
    }
)


def control_plane(endpoint: Endpoint, region: str = "us-east-1") -> Any:
    return boto3.client(
        "bedrock",
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def bedrock(endpoint: Endpoint) -> Any:
    return control_plane(endpoint)


@pytest.fixture(scope="module")
def legacy_endpoint(start_endpoint: Callable[[dict[str, str]], Endpoint]) -> Endpoint:
    return start_endpoint({"LOCALBEDROCK_LIFECYCLE": REPORTED})


def summaries(client: Any, **filters: str) -> dict[str, dict[str, Any]]:
    answer = client.list_foundation_models(**filters)
    return {summary["modelId"]: summary for summary in answer["modelSummaries"]}


def validation_error(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    message: str = error["Error"]["Message"]
    return message


def test_every_served_model_is_listed_as_an_active_image_model(bedrock: Any) -> None:
    listed = summaries(bedrock, byOutputModality="IMAGE")

    assert set(listed) == set(REGISTRY)
    core = listed[CORE]
    assert core == {
        "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{CORE}",
        "modelId": CORE,
        "modelName": "Stable Image Core 1.1",
        "providerName": "Stability AI",
        "inputModalities": ["TEXT"],
        "outputModalities": ["IMAGE"],
        "responseStreamingSupported": False,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }
    assert {summary["modelLifecycle"]["status"] for summary in listed.values()} == {"ACTIVE"}


def test_arns_name_the_region_the_client_signed_for(endpoint: Endpoint) -> None:
    listed = summaries(control_plane(endpoint, "us-west-2"))

    assert listed[SD35]["modelArn"] == f"arn:aws:bedrock:us-west-2::foundation-model/{SD35}"


def test_the_configured_lifecycles_come_back_as_botocore_timestamps(
    legacy_endpoint: Endpoint,
) -> None:
    listed = summaries(control_plane(legacy_endpoint), byOutputModality="IMAGE")

    assert listed[CORE]["modelLifecycle"] == {
        "status": "LEGACY",
        "startOfLifeTime": datetime(2024, 9, 1, tzinfo=UTC),
        "legacyTime": datetime(2026, 11, 1, tzinfo=UTC),
        "publicExtendedAccessTime": datetime(2027, 2, 1, 10, tzinfo=UTC),
        "endOfLifeTime": datetime(2027, 5, 1, tzinfo=UTC),
    }
    assert listed[NOVA]["modelLifecycle"] == {"status": "LEGACY"}
    assert listed[SD35]["modelLifecycle"] == {"status": "ACTIVE"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"byProvider": "Amazon"}, {m for m in REGISTRY if m.startswith("amazon.")}),
        ({"byProvider": "stability"}, {m for m in REGISTRY if m.startswith("stability.")}),
        ({"byProvider": "Meta"}, set()),
        ({"byOutputModality": "TEXT"}, set()),
        (
            {"byInferenceType": "PROVISIONED"},
            {
                "stability.stable-diffusion-xl-v1:0",
                "amazon.titan-image-generator-v1:0",
                "amazon.titan-image-generator-v2:0",
            },
        ),
        (
            {"byCustomizationType": "FINE_TUNING", "byInferenceType": "ON_DEMAND"},
            {"amazon.titan-image-generator-v2:0"},
        ),
        ({"projectIdentifier": "default"}, set(REGISTRY)),
    ],
)
def test_filters_narrow_the_list(bedrock: Any, filters: dict[str, str], expected: set[str]) -> None:
    assert set(summaries(bedrock, **filters)) == expected


@pytest.mark.parametrize(
    ("parameter", "value", "constraint"),
    [
        ("byOutputModality", "PICTURE", "enum value set: [TEXT, IMAGE, EMBEDDING]"),
        ("byInferenceType", "on_demand", "enum value set: [ON_DEMAND, PROVISIONED]"),
        (
            "byCustomizationType",
            "LORA",
            "enum value set: [FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION]",
        ),
        ("byProvider", "stability.ai", "regular expression pattern: [A-Za-z0-9- ]{1,63}"),
    ],
)
def test_a_value_outside_its_constraint_is_a_validation_exception(
    bedrock: Any, parameter: str, value: str, constraint: str
) -> None:
    message = validation_error(lambda: bedrock.list_foundation_models(**{parameter: value}))

    assert message == (
        f"1 validation error detected: Value '{value}' at '{parameter}' failed to satisfy "
        f"constraint: Member must satisfy {constraint}"
    )


def test_a_project_localbedrock_does_not_have_is_a_validation_exception(bedrock: Any) -> None:
    message = validation_error(lambda: bedrock.list_foundation_models(projectIdentifier="p-1"))

    assert message == "The project p-1 does not exist."


def test_unknown_and_repeated_query_parameters_are_validation_exceptions(
    endpoint: Endpoint,
) -> None:
    client = control_plane(endpoint)

    # What boto3 never sends, added to the request it built, before it is signed.
    def add_to_query(request: AWSRequest, **_: Any) -> None:
        request.url += "?colour=red&byOutputModality=IMAGE&byOutputModality=TEXT"

    client.meta.events.register("before-sign.bedrock.ListFoundationModels", add_to_query)
    message = validation_error(client.list_foundation_models)

    assert message.startswith("2 validation errors detected: ")
    assert "'colour' is not a parameter of ListFoundationModels" in message
    assert (
        "at 'byOutputModality' failed to satisfy constraint: Member must be given once" in message
    )


def test_one_model_by_id_or_arn(legacy_endpoint: Endpoint) -> None:
    client = control_plane(legacy_endpoint)
    listed = summaries(client)
    by_id = client.get_foundation_model(modelIdentifier=CORE)["modelDetails"]
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{CORE}"
    by_arn = client.get_foundation_model(modelIdentifier=arn)["modelDetails"]

    assert by_id == by_arn == listed[CORE]
    assert by_id["modelLifecycle"]["status"] == "LEGACY"


def test_an_unknown_model_is_not_found_and_a_malformed_id_is_invalid(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException) as caught:
        bedrock.get_foundation_model(modelIdentifier="amazon.nothing-v1:0")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.value.response["Error"]["Message"] == "Model amazon.nothing-v1:0 was not found."

    message = validation_error(lambda: bedrock.get_foundation_model(modelIdentifier="Nova"))
    assert message.startswith(
        "1 validation error detected: Value 'Nova' at 'modelIdentifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
    )


def test_the_short_form_names_a_status_per_model() -> None:
    assert parse_lifecycles(f"{CORE}=LEGACY, {SD35}=ACTIVE") == {
        CORE: {"status": "LEGACY"},
        SD35: {"status": "ACTIVE"},
    }
    assert parse_lifecycles("") == {}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (f"{CORE}=EOL", "status must be one of ACTIVE, LEGACY"),
        (f"{CORE}", "is not model_id=STATUS"),
        ("amazon.nothing-v1:0=LEGACY", "is not a model localbedrock serves"),
        (json.dumps({CORE: {"status": "LEGACY", "retiredTime": "2027"}}), "unknown fields"),
        (json.dumps({CORE: {"status": "LEGACY", "legacyTime": "soon"}}), "legacyTime"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_malformed_lifecycle_setting_is_refused(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match="LOCALBEDROCK_LIFECYCLE") as caught:
        parse_lifecycles(raw)
    assert problem in str(caught.value)


def test_the_service_asks_a_control_plane_named_by_aws_endpoint_url_bedrock(
    legacy_endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3 finds the endpoint in the environment, as it does in the API and the worker.
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", legacy_endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    source = build_lifecycle_source(
        Settings.from_env({"AWS_ENDPOINT_URL_BEDROCK": legacy_endpoint.url})
    )
    assert source is not None

    reported = source()

    assert reported is not None
    assert reported[CORE] == Reported("LEGACY", date(2026, 11, 1), date(2027, 5, 1))
    assert reported[SD35] == Reported("ACTIVE")
    assert set(reported) == set(REGISTRY)

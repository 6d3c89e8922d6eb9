"""The InvokeModel wire protocol as boto3/botocore see it: routes, headers, error parsing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from localbedrock.models.base import ERROR_STATUS, BedrockError
from localbedrock.server import error_response

NOVA = "amazon.nova-canvas-v1:0"
NOVA_BODY = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "protocol"}}


def test_health(endpoint: Any) -> None:
    assert endpoint.local("GET", "/_local/health") == {"status": "ok"}


def test_success_carries_json_content_type_and_request_id(client: Any) -> None:
    response = client.invoke_model(
        modelId=NOVA,
        body=json.dumps(NOVA_BODY),
        contentType="application/json",
        accept="application/json",
    )
    metadata = response["ResponseMetadata"]

    assert metadata["HTTPStatusCode"] == 200
    assert response["contentType"] == "application/json"
    assert metadata["RequestId"]
    assert metadata["HTTPHeaders"]["x-amzn-requestid"] == metadata["RequestId"]


def test_errors_carry_a_request_id_too(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId="no.such-model", body="{}")
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_endpoint_can_come_from_the_standard_env_var(
    endpoint: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", endpoint.url)
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    response = client.invoke_model(modelId=NOVA, body=json.dumps(NOVA_BODY))
    assert len(json.loads(response["body"].read())["images"]) == 1


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.nova-canvas-v1:0",
        "us.amazon.nova-canvas-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-canvas-v1:0",
    ],
)
def test_model_ids_arns_and_profile_ids_are_accepted(
    invoke: Any, endpoint: Any, model_id: str
) -> None:
    assert len(invoke(model_id, NOVA_BODY)["images"]) == 1
    assert endpoint.recorded()[-1]["model_id"] == model_id


@pytest.mark.parametrize(
    "model_id",
    ["amazon.nova-canvas-v9:0", "amazon.titan-text-express-v1", "stability.sd3-large-v1:0"],
)
def test_unknown_model_is_a_validation_exception(invoke_error: Any, model_id: str) -> None:
    invoke_error(model_id, NOVA_BODY, "ValidationException", "The provided model identifier is")


@pytest.mark.parametrize("raw", ["{not json", "", "\u00ff"])
def test_malformed_json_is_a_validation_exception(client: Any, raw: str) -> None:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.invoke_model(modelId=NOVA, body=raw.encode("latin-1"))
    assert caught.value.response["Error"]["Message"] == (
        "Malformed input request, please reformat your input and try again."
    )


def test_body_must_be_a_json_object(invoke_error: Any) -> None:
    invoke_error(NOVA, [NOVA_BODY], "ValidationException", "#: expected type: JSONObject")


@pytest.mark.parametrize(
    ("header", "value"), [("contentType", "text/plain"), ("accept", "image/png")]
)
def test_non_json_media_types_are_rejected(client: Any, header: str, value: str) -> None:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.invoke_model(modelId=NOVA, body=json.dumps(NOVA_BODY), **{header: value})
    assert value in caught.value.response["Error"]["Message"]


def test_unknown_route_answers_json(endpoint: Any) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(endpoint.url + "/model/x/converse", data=b"{}", timeout=5)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "not a localbedrock operation" in json.load(caught.value)["message"]


@pytest.mark.parametrize(("name", "status"), ERROR_STATUS.items())
def test_every_error_name_parses_back_to_its_modeled_exception(
    client: Any, name: str, status: int
) -> None:
    """The error mapping itself, for names no trigger word produces (403, 404, 424, ...)."""
    response = error_response(BedrockError(name, f"{name} happened"))
    operation = client.meta.service_model.operation_model("InvokeModel")
    parsed = create_parser("rest-json").parse(
        {
            "status_code": response.status_code,
            "headers": {key.lower(): value for key, value in response.headers.items()},
            "body": response.get_data(),
        },
        operation.output_shape,
    )

    assert response.status_code == status
    assert parsed["Error"] == {"Code": name, "Message": f"{name} happened"}
    modeled = client.exceptions.from_code(name)
    assert modeled.__name__ == name
    assert client.meta.service_model.shape_for(name).metadata["error"]["httpStatusCode"] == status

"""Calls Bedrock's InvokeModel through boto3 and maps its outcomes to our error codes.

The endpoint comes from boto3's own configuration, so AWS_ENDPOINT_URL_BEDROCK_RUNTIME points
the same code at the local model endpoint. Retries are ours rather than botocore's because
botocore does not retry ModelNotReadyException and we want the attempt count and backoff
under one configuration.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from imagegen import errors
from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.generation import GenerationPlan, ModelCall
from imagegen.providers.bodies import Artifact, ModelInputs, build_body, parse_response

log = logging.getLogger(__name__)

RETRYABLE = {
    "ThrottlingException",
    "ModelNotReadyException",
    "ServiceUnavailableException",
    "InternalServerException",
}
CONTENT_FILTER_MARKERS = ("content filters", "content filter")


def make_client(settings: Settings) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name=settings.aws_region,
        config=Config(
            connect_timeout=5,
            read_timeout=settings.bedrock_read_timeout_seconds,
            retries={"total_max_attempts": 1},
            max_pool_connections=32,
        ),
    )


class BedrockImageModels:
    """Generates images for one model call, with retries for transient provider errors."""

    def __init__(
        self,
        settings: Settings,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._client = client if client is not None else make_client(settings)
        self._sleep = sleep

    def generate(
        self, plan: GenerationPlan, call: ModelCall, inputs: ModelInputs | None = None
    ) -> list[Artifact]:
        body = build_body(plan, call, inputs)
        response = self._invoke_with_retries(plan.model_id, body)
        return parse_response(plan, call, response)

    def _invoke_with_retries(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        attempts = self._settings.bedrock_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._invoke(model_id, body)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                message = exc.response.get("Error", {}).get("Message", "")
                if code in RETRYABLE and attempt < attempts:
                    delay = self._backoff(attempt)
                    log.warning(
                        "bedrock call retried",
                        extra={"error_type": code, "attempt": attempt, "delay_s": round(delay, 2)},
                    )
                    self._sleep(delay)
                    continue
                raise _map_client_error(code, message, attempt) from exc
            except (EndpointConnectionError, ConnectTimeoutError) as exc:
                if attempt < attempts:
                    self._sleep(self._backoff(attempt))
                    continue
                raise ServiceError(
                    errors.SERVICE_UNAVAILABLE,
                    "the model provider could not be reached",
                    {"attempts": attempt},
                ) from exc
            except ReadTimeoutError as exc:
                # Not retried: a second wait as long as the first rarely helps the caller.
                raise ServiceError(
                    errors.TIMEOUT,
                    "the model did not answer in time",
                    {"read_timeout_seconds": self._settings.bedrock_read_timeout_seconds},
                ) from exc
            except BotoCoreError as exc:
                raise ServiceError(errors.GENERATION_FAILED, f"model call failed: {exc}") from exc
        raise AssertionError("unreachable: the loop returns or raises")

    def _invoke(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._client.invoke_model(
            modelId=model_id,
            body=json.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        try:
            return json.loads(response["body"].read())
        except ValueError as exc:
            raise ServiceError(
                errors.GENERATION_FAILED, "the model answered with bad JSON"
            ) from exc

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(
            self._settings.bedrock_backoff_cap_seconds,
            self._settings.bedrock_backoff_base_seconds * 2 ** (attempt - 1),
        )
        return random.uniform(0, ceiling)


def _map_client_error(code: str, message: str, attempts: int) -> ServiceError:
    if code == "ValidationException":
        if any(marker in message.lower() for marker in CONTENT_FILTER_MARKERS):
            return ServiceError(
                errors.UNSAFE_PROMPT,
                "the model's content filter blocked this request",
                {"safety_issues": [message]},
            )
        return ServiceError(
            errors.INVALID_PARAMETERS, f"the model rejected the request: {message}", {}
        )
    if code == "ModelTimeoutException":
        return ServiceError(errors.TIMEOUT, "the model timed out", {"provider_message": message})
    if code in ("ThrottlingException", "ModelNotReadyException", "ServiceUnavailableException"):
        return ServiceError(
            errors.SERVICE_UNAVAILABLE,
            "the model is unavailable or over capacity; try again later",
            {"provider_error": code, "attempts": attempts, "retry_after": 30},
        )
    if code in ("AccessDeniedException", "ResourceNotFoundException"):
        return ServiceError(
            errors.SERVICE_UNAVAILABLE,
            "the model is not available to this account or region (check Bedrock model access)",
            {"provider_error": code},
        )
    return ServiceError(
        errors.GENERATION_FAILED,
        "image generation failed at the model provider",
        {"provider_error": code, "attempts": attempts},
    )

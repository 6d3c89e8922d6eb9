"""Calls Bedrock's InvokeModel through boto3 and maps its outcomes to our error codes.

Each model is called in its own region (Settings.route: the catalogue's, or
IMAGEGEN_MODEL_REGIONS), by its inference profile's id when one is configured, through one
client per region. The endpoint comes from boto3's own configuration, so
AWS_ENDPOINT_URL_BEDROCK_RUNTIME points every region's client at the local model endpoint. Retries are ours rather than botocore's because
botocore does not retry ModelNotReadyException and we want the attempt count and backoff
under one configuration.

Every call first takes its turn from the fleet's shared budget for its model
(imagegen.quota). Throttling is the budget being spent, not a failure of the call: a
throttled call tells the budget to slow down and waits for its next turn, for as long as its
job's deadline allows; only then is it IMG203.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from imagegen.plan import GenerationPlan, ModelCall
from imagegen.providers.bodies import Artifact, ModelInputs, build_body, parse_response
from imagegen.quota import ProviderBudget

log = logging.getLogger(__name__)

# Retried with backoff up to the attempt limit (ThrottlingException is not among them: it
# waits for the model's budget instead, up to the job's deadline).
RETRYABLE = {
    "ModelNotReadyException",
    "ServiceUnavailableException",
    "InternalServerException",
}
CONTENT_FILTER_MARKERS = ("content filters", "content filter")
# The longest one sleep while waiting for the budget, so a stopped run is noticed soon.
_BUDGET_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class CallWindow:
    """How long a call may wait for its model's budget, and the signal to stop waiting."""

    deadline: float  # time.monotonic() after which waiting ends in IMG203
    stopped: threading.Event  # set when the run gave the call up (cancelled, lease lost)
    # Set when a call had to wait for its turn, so the job's status can say why it waits.
    waited: threading.Event = field(default_factory=threading.Event)
    # The job's place among its model's waiting jobs (quota.rank): a call gives way to a
    # parked job ranked before it. None: no place (the call never gives way).
    rank: float | None = None
    # Turns the budget granted the job before its calls began (a parked job is taken with
    # its first call's turn): a call takes one of these instead of asking the budget.
    granted: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    # When (time.monotonic()) that turn may be used: the budget reserves turns shortly
    # before they are due (quota.TURN_LOOKAHEAD_MS).
    turn_at: float = 0.0


class CallStopped(Exception):
    """The run stopped while the call waited: nothing was sent, nobody awaits the result."""


def make_client(settings: Settings, region: str) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name=region,
        config=Config(
            connect_timeout=5,
            read_timeout=settings.bedrock_read_timeout_seconds,
            retries={"total_max_attempts": 1},
            # Every job slot may have several calls in flight (one per image for the
            # one-image models); a smaller pool makes urllib3 discard and reopen
            # connections under load.
            max_pool_connections=max(32, 4 * settings.worker_concurrency),
        ),
    )


class RegionalClients:
    """One bedrock-runtime client per region, made at its first call: a client holds its
    own connection pool, which every call to that region shares."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[str, Any] = {}
        # boto3's default session is not safe to create clients from on several threads.
        self._lock = threading.Lock()

    def __call__(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = make_client(self._settings, region)
            return client


class BedrockImageModels:
    """Generates images for one model call, with retries for transient provider errors."""

    def __init__(
        self,
        settings: Settings,
        budget: ProviderBudget,
        clients: Callable[[str], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """clients: the bedrock-runtime client for a region (RegionalClients by default)."""
        self._settings = settings
        self._budget = budget
        self._clients = clients if clients is not None else RegionalClients(settings)
        self._sleep = sleep

    def make_clients(self) -> None:
        """Make every region's client now: done before the worker forks, each process
        inherits them instead of loading botocore's service model itself."""
        for region in sorted({route.region for route in self._settings.model_routes.values()}):
            self._clients(region)

    def generate(
        self,
        plan: GenerationPlan,
        call: ModelCall,
        window: CallWindow,
        inputs: ModelInputs | None = None,
    ) -> list[Artifact]:
        body = build_body(plan, call, inputs)
        response = self._invoke_with_retries(plan.model_id, body, window)
        return parse_response(plan, call, response)

    def _invoke_with_retries(
        self, model_id: str, body: dict[str, Any], window: CallWindow
    ) -> dict[str, Any]:
        attempts = self._settings.bedrock_max_attempts
        failures = 0  # calls that failed for a reason other than the quota
        throttled = 0
        while True:
            self._wait_for_budget(model_id, window, throttled)
            try:
                response = self._invoke(model_id, body)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                message = exc.response.get("Error", {}).get("Message", "")
                if code == "ThrottlingException":
                    # The fleet spends slower, and this call backs off on its own too, so
                    # a quota that throttles everything is not hammered until the deadline.
                    throttled += 1
                    rate = self._budget.throttled(model_id)
                    left = window.deadline - time.monotonic()
                    delay = max(0.0, min(self._backoff(throttled), left))
                    log.warning(
                        "bedrock call throttled; waiting for the model's budget",
                        extra={
                            "model": model_id,
                            "rate_per_minute": round(rate, 1),
                            "delay_s": round(delay, 2),
                        },
                    )
                    self._sleep(delay)
                    continue
                failures += 1
                if code in RETRYABLE and failures < attempts:
                    delay = self._backoff(failures)
                    log.warning(
                        "bedrock call retried",
                        extra={"error_type": code, "attempt": failures, "delay_s": round(delay, 2)},
                    )
                    self._sleep(delay)
                    continue
                raise _map_client_error(code, message, failures) from exc
            except (EndpointConnectionError, ConnectTimeoutError) as exc:
                failures += 1
                if failures < attempts:
                    self._sleep(self._backoff(failures))
                    continue
                raise ServiceError(
                    errors.SERVICE_UNAVAILABLE,
                    "the model provider could not be reached",
                    {"attempts": failures},
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
            self._budget.succeeded(model_id)
            return response

    def _wait_for_budget(self, model_id: str, window: CallWindow, throttled: int) -> None:
        """Return when the budget grants this call; IMG203 when the deadline comes first."""
        while True:
            if window.stopped.is_set():
                raise CallStopped()
            left = window.deadline - time.monotonic()
            # A throttled call past the deadline is not sent again: no turn is taken for it.
            if throttled and left <= 0:
                raise _deadline_passed(model_id, throttled, 0.0, self._budget.rate(model_id))
            if window.granted.acquire(blocking=False):
                if left <= 0:  # the job waited parked until its deadline
                    raise _deadline_passed(model_id, throttled, 0.0, self._budget.rate(model_id))
                self._wait_for_turn(window, window.turn_at - time.monotonic())
                return
            grant = self._budget.try_acquire(model_id, window.rank)
            if grant.granted:
                self._wait_for_turn(window, grant.wait_seconds)
                return
            if grant.wait_seconds > left:
                raise _deadline_passed(
                    model_id, throttled, grant.wait_seconds, grant.rate_per_minute
                )
            window.waited.set()
            window.stopped.wait(min(grant.wait_seconds, _BUDGET_POLL_SECONDS))

    @staticmethod
    def _wait_for_turn(window: CallWindow, seconds: float) -> None:
        """Wait until a reserved turn is due (a few milliseconds at most)."""
        if seconds > 0 and window.stopped.wait(seconds):
            raise CallStopped()

    def _invoke(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        route = self._settings.route(model_id)
        response = self._clients(route.region).invoke_model(
            modelId=route.invoke_id,
            body=json.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        try:
            parsed: dict[str, Any] = json.loads(response["body"].read())
            return parsed
        except ValueError as exc:
            raise ServiceError(
                errors.GENERATION_FAILED, "the model answered with bad JSON"
            ) from exc

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(
            self._settings.bedrock_backoff_cap_seconds,
            # The exponent is bounded: a call throttled for an hour counts hundreds.
            self._settings.bedrock_backoff_base_seconds * 2 ** min(attempt - 1, 30),
        )
        return random.uniform(0, ceiling)


def _deadline_passed(
    model_id: str, throttled: int, wait_seconds: float, rate: float | None
) -> ServiceError:
    rate_text = "unknown" if rate is None else f"{rate:.0f} calls a minute now"
    return ServiceError(
        errors.SERVICE_UNAVAILABLE,
        f"the job's deadline passed while it waited for {model_id}'s quota ({rate_text})",
        {
            "provider_error": "ThrottlingException" if throttled else "QuotaWait",
            "quota_per_minute": None if rate is None else round(rate, 1),
            "throttled_calls": throttled,
            "retry_after": max(1, round(wait_seconds)),
        },
    )


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
    if code in ("ModelNotReadyException", "ServiceUnavailableException"):
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

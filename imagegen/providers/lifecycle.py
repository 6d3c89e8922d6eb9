"""Bedrock's control plane on the models' lifecycle: ListFoundationModels' modelLifecycle.

One call lists every image model with its status (ACTIVE | LEGACY) and, where Bedrock
gives them, its legacy and end-of-life times. Any failure (no credentials, no network, no
permission) answers None, and imagegen.model_lifecycle keeps to what it knew.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from imagegen.model_lifecycle import Reported

log = logging.getLogger(__name__)

# The answer is a cache refresh, never worth a request's time: a short connect timeout
# and no retries bound what an unreachable endpoint costs.
CONTROL_PLANE_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1, "mode": "standard"}
)


class BedrockLifecycleSource:
    def __init__(self, region: str, client: Any | None = None) -> None:
        self._client = client or boto3.client(
            "bedrock", region_name=region, config=CONTROL_PLANE_CONFIG
        )

    def __call__(self) -> Mapping[str, Reported] | None:
        try:
            answer = self._client.list_foundation_models(byOutputModality="IMAGE")
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "could not ask Bedrock for model lifecycles; using the built-in table",
                extra={"error": type(exc).__name__},
            )
            return None
        reported: dict[str, Reported] = {}
        for summary in answer.get("modelSummaries", []):
            lifecycle = summary.get("modelLifecycle") or {}
            if "status" in lifecycle:
                reported[summary["modelId"]] = Reported(
                    lifecycle["status"],
                    legacy_since=_day(lifecycle.get("legacyTime")),
                    end_of_life=_day(lifecycle.get("endOfLifeTime")),
                )
        return reported


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None

"""Each model's lifecycle as the service applies it, and the default model that follows.

Three sources, in this order of authority: the operator's IMAGEGEN_MODEL_LIFECYCLE (for an
account that still has access to a retired model, and for the test suite, whose local
endpoint serves every model); Bedrock's control plane (status and, where it gives them,
dates), asked at most once per TTL; the built-in table (imagegen.catalog.LIFECYCLE). A
model whose end-of-life date has passed is EOL whatever the control plane says, as it
only knows ACTIVE and LEGACY.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from imagegen import catalog, errors
from imagegen.catalog import ACTIVE, EOL, LEGACY, LIFECYCLE_STATUSES, Lifecycle
from imagegen.errors import ServiceError

log = logging.getLogger(__name__)

# Where a default is looked for when the configured one is not ACTIVE and its successors
# lead nowhere: the cheap, general text-to-image models first.
DEFAULT_PREFERENCE = (
    "amazon.nova-canvas-v1:0",
    "stability.stable-image-core-v1:1",
    "stability.sd3-5-large-v1:0",
    "stability.stable-image-ultra-v1:1",
)
BUILT_IN_DEFAULT = DEFAULT_PREFERENCE[0]


@dataclass(frozen=True)
class Reported:
    """What the control plane says of one model."""

    status: str
    legacy_since: date | None = None
    end_of_life: date | None = None


# Asks the control plane; None when it cannot be asked (no credentials, no network).
ReportSource = Callable[[], Mapping[str, Reported] | None]


def utc_today() -> date:
    return datetime.now(UTC).date()


def parse_overrides(raw: str) -> dict[str, Lifecycle]:
    """IMAGEGEN_MODEL_LIFECYCLE: `id=STATUS,...`, or a JSON object of id to a status or to
    {status, legacy_since, end_of_life, successor}. ValueError names what is wrong."""
    raw = raw.strip()
    if not raw:
        return {}
    entries: dict[str, Any]
    if raw.startswith("{"):
        try:
            entries = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from exc
    else:
        entries = {}
        for item in raw.split(","):
            name, sep, status = item.partition("=")
            if not sep:
                raise ValueError(f"{item.strip()!r} is not model_id=STATUS")
            entries[name.strip()] = status.strip()
    return {model_id: _override(model_id, entry) for model_id, entry in entries.items()}


def _override(model_id: str, entry: Any) -> Lifecycle:
    if model_id not in catalog.MODELS:
        raise ValueError(f"unknown model {model_id!r}")
    fields = entry if isinstance(entry, dict) else {"status": entry}
    status = str(fields.get("status", "")).upper()
    if status not in LIFECYCLE_STATUSES:
        raise ValueError(f"{model_id}: status must be one of {', '.join(LIFECYCLE_STATUSES)}")
    successor = fields.get("successor", catalog.LIFECYCLE[model_id].successor)
    if successor is not None and successor not in catalog.MODELS:
        raise ValueError(f"{model_id}: unknown successor {successor!r}")
    try:
        return Lifecycle(
            status,
            legacy_since=_date(fields.get("legacy_since")),
            end_of_life=_date(fields.get("end_of_life")),
            successor=None if status == ACTIVE else successor,
        )
    except ValueError as exc:
        raise ValueError(f"{model_id}: {exc}") from exc


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def applied(record: Lifecycle, reported: Reported | None, today: date) -> Lifecycle:
    """The table's record with the control plane's word on it, then the end-of-life rule."""
    if reported is not None:
        record = replace(
            record,
            status=reported.status,
            legacy_since=reported.legacy_since or record.legacy_since,
            end_of_life=reported.end_of_life or record.end_of_life,
        )
    if record.end_of_life is not None and record.end_of_life <= today:
        return replace(record, status=EOL)
    return record


class ModelLifecycles:
    """The lifecycle of every model, kept fresh from the control plane at most once per TTL.

    A failed ask keeps what the last good one said (or the table) until the TTL runs out
    again, so a control plane that is down costs one short wait per TTL, not one a request.
    """

    def __init__(
        self,
        overrides: Mapping[str, Lifecycle],
        source: ReportSource | None,
        ttl_seconds: float,
        *,
        today: Callable[[], date] = utc_today,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._overrides = dict(overrides)
        self._source = source
        self._ttl = ttl_seconds
        self._today = today
        self._clock = clock
        self._lock = threading.Lock()
        self._reported: Mapping[str, Reported] = {}
        self._asked_at: float | None = None

    def of(self, model_id: str) -> Lifecycle:
        if model_id in self._overrides:
            return self._overrides[model_id]
        return applied(
            catalog.LIFECYCLE[model_id], self._current_reports().get(model_id), self._today()
        )

    def require_usable(self, model_id: str) -> Lifecycle:
        """The model's lifecycle, or IMG203 naming its successor when it is EOL."""
        lifecycle = self.of(model_id)
        if lifecycle.status == EOL:
            successor = active_successor(model_id, self.of)
            when = f" on {lifecycle.end_of_life.isoformat()}" if lifecycle.end_of_life else ""
            advice = f"; use {successor}" if successor else ""
            raise ServiceError(
                errors.SERVICE_UNAVAILABLE,
                f"{model_id} reached its end of life on Amazon Bedrock{when}{advice}",
                {"model": model_id, "lifecycle": describe(lifecycle), "successor": successor},
            )
        return lifecycle

    def serving_default(self, chosen: str) -> str:
        """The default to serve now: the one chosen at start (choose_default) while it is
        ACTIVE; once the control plane reports it LEGACY (or its end of life passes), its
        first ACTIVE successor, else the first ACTIVE text-to-image model of
        DEFAULT_PREFERENCE. Only when none is ACTIVE does the chosen one stay."""
        if self.of(chosen).status == ACTIVE:
            return chosen
        successor = active_successor(chosen, self.of)
        if successor is not None:
            return successor
        for model_id in (*DEFAULT_PREFERENCE, *catalog.MODELS):
            text_to_image = catalog.TEXT_TO_IMAGE in catalog.MODELS[model_id].tasks
            if text_to_image and self.of(model_id).status == ACTIVE:
                return model_id
        return chosen

    def _current_reports(self) -> Mapping[str, Reported]:
        if self._source is None:
            return {}
        with self._lock:
            now = self._clock()
            if self._asked_at is None or now - self._asked_at >= self._ttl:
                self._asked_at = now
                fresh = self._source()
                if fresh is not None:
                    self._reported = fresh
            return self._reported


def active_successor(model_id: str, lifecycle_of: Callable[[str], Lifecycle]) -> str | None:
    """The first ACTIVE model along the successor chain (a cycle ends it)."""
    seen = {model_id}
    successor = lifecycle_of(model_id).successor
    while successor is not None and successor not in seen:
        if lifecycle_of(successor).status == ACTIVE:
            return successor
        seen.add(successor)
        successor = lifecycle_of(successor).successor
    return None


@dataclass(frozen=True)
class DefaultChoice:
    model_id: str
    configured: str
    reason: str


def choose_default(
    configured: str | None, overrides: Mapping[str, Lifecycle], today: date
) -> DefaultChoice:
    """An ACTIVE default: the configured one, else its successors, else the first ACTIVE
    model of DEFAULT_PREFERENCE. Decided from the table and the operator's overrides, so
    the start never waits on the network; what the control plane says later moves the
    default as requests are served (ModelLifecycles.serving_default). ValueError when the
    operator named an EOL model, or no model is ACTIVE."""
    wanted = configured or BUILT_IN_DEFAULT
    spec, _ = catalog.resolve(wanted)
    if spec is None:
        raise ValueError(f"{wanted!r} is not a known model")

    def lifecycle_of(model_id: str) -> Lifecycle:
        if model_id in overrides:
            return overrides[model_id]
        return applied(catalog.LIFECYCLE[model_id], None, today)

    status = lifecycle_of(spec.model_id).status
    if status == ACTIVE:
        source = "IMAGEGEN_DEFAULT_MODEL" if configured else "the built-in default"
        return DefaultChoice(spec.model_id, wanted, f"{source}, ACTIVE")
    if configured and status == EOL:
        raise ValueError(
            f"{configured!r} is EOL on Amazon Bedrock; choose an ACTIVE model, or declare "
            "the account's access with IMAGEGEN_MODEL_LIFECYCLE"
        )
    successor = active_successor(spec.model_id, lifecycle_of)
    if successor is not None:
        return DefaultChoice(
            successor, wanted, f"{spec.model_id} is {status}; its successor {successor} is ACTIVE"
        )
    preference = [*DEFAULT_PREFERENCE, *catalog.MODELS]
    for model_id in preference:
        text_to_image = catalog.TEXT_TO_IMAGE in catalog.MODELS[model_id].tasks
        if text_to_image and lifecycle_of(model_id).status == ACTIVE:
            return DefaultChoice(
                model_id,
                wanted,
                f"{spec.model_id} is {status}; {model_id} is the first ACTIVE model",
            )
    raise ValueError("no text-to-image model is ACTIVE")


def describe(lifecycle: Lifecycle) -> dict[str, Any]:
    """The lifecycle as GET /v1/models shows it."""
    return {
        "status": lifecycle.status,
        "legacy_since": lifecycle.legacy_since.isoformat() if lifecycle.legacy_since else None,
        "end_of_life": lifecycle.end_of_life.isoformat() if lifecycle.end_of_life else None,
        "successor": lifecycle.successor,
    }


def model_url(public_base_url: str, model_id: str) -> str:
    return f"{public_base_url}/v1/models/{quote(model_id, safe=':')}"


def deprecation_headers(lifecycle: Lifecycle, public_base_url: str) -> dict[str, str]:
    """For a LEGACY model: Deprecation (RFC 9745, `@epoch`), Sunset (RFC 8594, an
    HTTP-date) and a successor-version Link, each where its date or model is known."""
    if lifecycle.status != LEGACY:
        return {}
    headers: dict[str, str] = {}
    if lifecycle.legacy_since is not None:
        headers["Deprecation"] = f"@{int(_midnight(lifecycle.legacy_since).timestamp())}"
    if lifecycle.end_of_life is not None:
        headers["Sunset"] = format_datetime(_midnight(lifecycle.end_of_life), usegmt=True)
    if lifecycle.successor is not None:
        url = model_url(public_base_url, lifecycle.successor)
        headers["Link"] = f'<{url}>; rel="successor-version"'
    return headers


def legacy_warning(model_id: str, lifecycle: Lifecycle) -> str | None:
    if lifecycle.status != LEGACY:
        return None
    when = f" on {lifecycle.end_of_life.isoformat()}" if lifecycle.end_of_life else ""
    move = f"; move to {lifecycle.successor}" if lifecycle.successor else ""
    return f"{model_id} is Legacy on Amazon Bedrock and reaches its end of life{when}{move}"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def log_default_model(choice: DefaultChoice, role: str) -> None:
    """Say at start which default this process serves and why."""
    log.info(
        "default model",
        extra={
            "role": role,
            "model": choice.model_id,
            "configured_model": choice.configured,
            "reason": choice.reason,
        },
    )

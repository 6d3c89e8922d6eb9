"""Delivers webhooks from the outbox, retrying on a schedule, and logs every attempt.

Each worker container runs one dispatcher. It claims due webhooks (a conditional write, so
two dispatchers never send the same attempt), sends them concurrently, and records each
attempt: delivered on a 2xx; otherwise tried again after an exponential, jittered delay
(imagegen.webhooks.sender.retry_delay) until IMAGEGEN_WEBHOOK_MAX_ATTEMPTS, then failed.
A dispatcher that dies mid-send loses nothing: the claim runs out and another sends it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from imagegen.events import event_payload
from imagegen.records import (
    WEBHOOK_DELIVERED,
    WEBHOOK_FAILED,
    WEBHOOK_PENDING,
    Webhook,
    WebhookAttempt,
    utc_timestamp,
)
from imagegen.services import Services
from imagegen.webhooks.sender import DeliveryResult, deliver, retry_delay
from imagegen.webhooks.signing import encode_event, tenant_secret

log = logging.getLogger(__name__)

_SENDERS = 8
_CLAIM_MARGIN_SECONDS = 30


class WebhookDispatcher:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._settings = services.settings

    def run(self, stop: threading.Event) -> None:
        with ThreadPoolExecutor(max_workers=_SENDERS, thread_name_prefix="webhook") as pool:
            while not stop.is_set():
                try:
                    due = self._claim()
                except Exception:
                    log.exception("claiming due webhooks failed")
                    due = []
                # Wait for this round, so a claim never outlives the attempts it covers.
                list(pool.map(self._attempt, due))
                if not due:
                    stop.wait(self._settings.webhook_poll_seconds)

    def _claim(self) -> list[Webhook]:
        now = datetime.now(UTC)
        claim = timedelta(seconds=self._settings.webhook_timeout_seconds + _CLAIM_MARGIN_SECONDS)
        return self._services.repository.claim_due_webhooks(
            utc_timestamp(now), utc_timestamp(now + claim), _SENDERS * 4
        )

    def _attempt(self, webhook: Webhook) -> None:
        try:
            self.send(webhook)
        except Exception:
            log.exception("sending a webhook failed", extra={"webhook_id": webhook.webhook_id})

    def send(self, webhook: Webhook) -> DeliveryResult:
        """One attempt at one webhook, recorded in its log."""
        secret = tenant_secret(self._services.webhook_master_secret, webhook.tenant_id)
        body = webhook.body
        attempted_at = datetime.now(UTC)
        if body is None:
            try:
                payload = event_payload(webhook, self._services.repository, self._services.blobs)
            except LookupError as missing:
                # Its job or batch is gone: an attempt that failed, retried like any other.
                result = DeliveryResult(None, f"no event to send: {missing}", 0.0, None)
                self._record(webhook, None, attempted_at, result)
                return result
            body = encode_event(secret, payload).decode("utf-8")
        result = deliver(
            webhook.url,
            webhook.webhook_id,
            body.encode("utf-8"),
            secret,
            self._services.webhook_policy,
            timeout_seconds=self._settings.webhook_timeout_seconds,
        )
        self._record(webhook, body, attempted_at, result)
        return result

    def _record(
        self, webhook: Webhook, body: str | None, attempted_at: datetime, result: DeliveryResult
    ) -> None:
        attempt = webhook.attempts + 1
        next_attempt_at = None
        if result.delivered:
            status = WEBHOOK_DELIVERED
        elif attempt >= self._settings.webhook_max_attempts:
            status = WEBHOOK_FAILED
        else:
            status = WEBHOOK_PENDING
            delay = retry_delay(
                attempt,
                self._settings.webhook_backoff_base_seconds,
                self._settings.webhook_backoff_cap_seconds,
            )
            next_attempt_at = utc_timestamp(datetime.now(UTC) + timedelta(seconds=delay))
        self._services.repository.record_webhook_attempt(
            WebhookAttempt(
                webhook_id=webhook.webhook_id,
                subject_id=webhook.subject_id,
                tenant_id=webhook.tenant_id,
                event=webhook.event,
                attempt=attempt,
                attempted_at=utc_timestamp(attempted_at),
                status_code=result.status_code,
                error=result.error,
                duration_ms=round(result.duration_ms, 1),
            ),
            body,
            status,
            next_attempt_at,
        )
        log.info(
            "webhook attempt",
            extra={
                "webhook_id": webhook.webhook_id,
                "event": webhook.event,
                "attempt": attempt,
                "status_code": result.status_code,
                "outcome": status,
            },
        )

"""The dispatcher's bookkeeping: what an attempt that cannot be sent does to its webhook."""

from __future__ import annotations

import sqlite3
import uuid

from imagegen.config import Settings
from imagegen.generation import parse_request, plan_generation
from imagegen.records import WEBHOOK_FAILED, WEBHOOK_PENDING, Job, Webhook, utc_in, utc_now
from imagegen.services import build_services
from worker.dispatcher import WebhookDispatcher


def test_a_webhook_whose_job_is_gone_is_retried_then_given_up(tmp_path):
    settings = Settings.from_env(
        {"IMAGEGEN_DATA_DIR": str(tmp_path), "IMAGEGEN_WEBHOOK_MAX_ATTEMPTS": "2"}
    )
    services = build_services(settings)
    now = utc_now()
    job = Job(
        job_id="job_" + uuid.uuid4().hex, tenant_id="t1", user_id="u1", request_id="r",
        kind="text_to_image", request={}, plan=plan_generation(parse_request({"prompt": "x"}), "amazon.nova-canvas-v1:0"), status="pending",
        created_at=now,
    )  # fmt: skip
    webhook = Webhook(
        "msg_" + uuid.uuid4().hex, "t1", "job_missing", "image.generation.completed",
        "https://hooks.example.com/x", now, next_attempt_at=now,
    )  # fmt: skip
    # The outbox row rides on a real state change of some job; its subject is another id.
    services.repository.add_job(job)
    assert services.repository.fail_job(job.job_id, {"message": "x"}, now, None, webhook)
    dispatcher = WebhookDispatcher(services)

    [claimed] = services.repository.claim_due_webhooks(utc_in(1), utc_in(60), 10)
    result = dispatcher.send(claimed)
    assert not result.delivered and result.error.startswith("no event to send")
    [logged] = services.repository.webhook_attempts("t1", "job_missing")
    assert (logged.attempt, logged.status_code) == (1, None)
    assert services.repository.claim_due_webhooks(utc_now(), utc_in(60), 10) == []  # backing off

    [again] = services.repository.claim_due_webhooks(utc_in(60), utc_in(120), 10)
    assert again.status == WEBHOOK_PENDING and again.attempts == 1 and again.body is None
    dispatcher.send(again)
    assert services.repository.claim_due_webhooks(utc_in(7200), utc_in(7300), 10) == []
    assert [a.attempt for a in services.repository.webhook_attempts("t1", "job_missing")] == [1, 2]
    with sqlite3.connect(settings.database_path) as db:  # the final state is not exposed
        status = db.execute(
            "SELECT status FROM webhooks WHERE webhook_id = ?", (webhook.webhook_id,)
        ).fetchone()[0]
    assert status == WEBHOOK_FAILED

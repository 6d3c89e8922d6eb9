"""The repository interface: what the API and workers need from the record store.

SQLite implements it locally (imagegen.storage.sqlite), DynamoDB on AWS
(imagegen.storage.dynamodb); tests/contract holds both to the same behaviour. Every read of a
tenant's record takes the tenant id, so a missing tenant check cannot leak another tenant's
data.

A job's state only moves by conditional writes: each method says which state it moves the
job from, and returns False (writing nothing) when the job is not in it. A running attempt
holds a run id; the writes of an attempt name it, so an attempt that was given up on (its
worker seemed dead, or shut down) can never record over the attempt that replaced it.

A metered tenant's job (reserved_credits set) holds its price from the tenant's credits
while it is pending or processing: the write that records it (or retries it) reserves the
price, and the write that moves it out of those states settles it (complete_job charges
the images made and refunds the rest; fail_job and cancel_job refund all). The hold rides on
the job's own conditional moves, so it is reserved and settled exactly once per attempt.
"""

from __future__ import annotations

from typing import Any, Protocol

from imagegen.records import (
    ApiKey,
    Batch,
    CreditAccount,
    IdempotencyKey,
    Image,
    ImageChanges,
    ImagePage,
    ImageQuery,
    ImageSummary,
    Job,
    LedgerEntry,
    TenantLimits,
    Webhook,
    WebhookAttempt,
)


class IdempotencyKeyTaken(Exception):
    """The Idempotency-Key was already used; nothing was written."""

    def __init__(self, existing: IdempotencyKey) -> None:
        super().__init__(existing.key)
        self.existing = existing


class InsufficientCredits(Exception):
    """The tenant's balance cannot hold the price; nothing was written."""

    def __init__(self, account: CreditAccount | None, price: int) -> None:
        super().__init__(f"price {price}")
        self.account = account
        self.price = price


class Repository(Protocol):
    def add_api_key(self, key: ApiKey) -> None: ...

    def find_api_key(self, key_hash: str) -> ApiKey | None: ...

    # --- tenants' limits (set by operators) ----------------------------------------------

    def get_tenant_limits(self, tenant_id: str) -> TenantLimits | None:
        """The tenant's record, or None when no operator has set one."""
        ...

    def put_tenant_limits(self, limits: TenantLimits) -> None:
        """Store the tenant's record, replacing the whole of any earlier one."""
        ...

    # --- tenants' credits ---------------------------------------------------------------

    def credit_account(self, tenant_id: str) -> CreditAccount | None:
        """The tenant's account; None: its credits are not metered."""
        ...

    def open_credit_account(self, tenant_id: str, balance: int, at: str) -> CreditAccount:
        """The tenant's account, opened with `balance` (and its grant in the ledger) when it
        has none; an existing account is left as it is."""
        ...

    def grant_credits(self, tenant_id: str, amount: int, at: str, note: str) -> CreditAccount:
        """Add amount (negative: take away, never below 0: ValueError) to the balance, with
        its grant entry, opening the account when there is none; the account afterwards."""
        ...

    def ledger_entries(
        self, tenant_id: str, limit: int, job_id: str | None = None
    ) -> list[LedgerEntry]:
        """The tenant's ledger (or one job's entries), newest first."""
        ...

    # --- jobs ---------------------------------------------------------------------------

    def add_job(self, job: Job, idempotency: IdempotencyKey | None = None) -> None:
        """Record a new job, and bind the idempotency key to it in the same write; a job
        with reserved_credits reserves them from its tenant's account in that write too.

        Raises IdempotencyKeyTaken or InsufficientCredits, writing nothing.
        """
        ...

    def get_job(self, tenant_id: str, job_id: str) -> Job | None: ...

    def load_job(self, job_id: str) -> Job | None:
        """For workers, which act on a job id taken from the queue."""
        ...

    def list_jobs(
        self,
        tenant_id: str | None,
        status: str | None,
        limit: int,
        after: tuple[str, str] | None = None,
        user_id: str | None = None,
    ) -> list[Job]:
        """Newest first (by created_at, then job id); `after` is the (created_at, job_id) of
        the last job of the previous page. tenant_id None is the operator's view, which
        needs a status. user_id narrows a tenant's jobs to one user's (their history)."""
        ...

    def start_job(self, job_id: str, run_id: str, started_at: str, lease_expires_at: str) -> bool:
        """pending -> processing under a new run id and lease."""
        ...

    def renew_lease(self, job_id: str, run_id: str, lease_expires_at: str) -> bool:
        """False when the run no longer holds the job (cancelled, or taken back)."""
        ...

    def update_progress(self, job_id: str, run_id: str, progress: int, message: str) -> bool:
        """False when the run no longer holds the job."""
        ...

    def complete_job(
        self,
        job_id: str,
        run_id: str,
        images: list[Image],
        cost: dict[str, float],
        completed_at: str,
        webhook: Webhook | None = None,
    ) -> bool:
        """Record the images, the completed job and its webhook together, or nothing."""
        ...

    def fail_job(
        self,
        job_id: str,
        error: dict[str, Any],
        completed_at: str,
        run_id: str | None = None,
        webhook: Webhook | None = None,
    ) -> bool:
        """The run's processing job (or, with no run id, a pending job) fails.

        A cancelled job stays cancelled.
        """
        ...

    def cancel_job(self, tenant_id: str, job_id: str, cancelled_at: str) -> bool:
        """pending/processing -> cancelled."""
        ...

    def retry_job(self, tenant_id: str, job_id: str, queued_at: str) -> bool:
        """failed -> pending with retry_count + 1 and the error cleared; a metered job
        reserves its price again (InsufficientCredits, writing nothing, when it cannot)."""
        ...

    def requeue_job(self, job_id: str, run_id: str, queued_at: str, message: str) -> bool:
        """Take a job back from its run: processing -> pending, recoveries + 1.

        For a worker that died (its lease ran out) or that shut down before finishing.
        """
        ...

    def mark_queued(self, job_id: str, queued_at: str, message: str | None = None) -> bool:
        """A pending job was queued again (the queue had lost it) or parked to wait for its
        model's quota; message, when given, is its new status message."""
        ...

    def jobs_with_expired_leases(self, now: str, limit: int) -> list[Job]:
        """Processing jobs whose run stopped renewing its lease: their worker is gone."""
        ...

    def pending_jobs(self, queued_before: str, limit: int) -> list[Job]:
        """Pending jobs queued before the given time, oldest first."""
        ...

    # --- batches ------------------------------------------------------------------------

    def add_batch(
        self, batch: Batch, jobs: list[Job], idempotency: IdempotencyKey | None = None
    ) -> None:
        """The batch and all its jobs in one write, reserving the sum of their
        reserved_credits in one ledger entry (raises as add_job)."""
        ...

    def get_batch(self, tenant_id: str, batch_id: str) -> Batch | None: ...

    def batch_job_states(self, batch_id: str) -> dict[str, str]:
        """job id -> status, for every job of the batch."""
        ...

    def finish_batch_if_done(
        self, batch_id: str, completed_at: str, webhook: Webhook | None = None
    ) -> bool:
        """pending -> completed when every job of the batch has finished; True for the one
        caller that made that move (so the batch's webhook is written once)."""
        ...

    # --- idempotency keys ---------------------------------------------------------------

    def find_idempotency_key(self, tenant_id: str, key: str, now: str) -> IdempotencyKey | None:
        """The binding of a key that has not expired."""
        ...

    def delete_idempotency_key(self, tenant_id: str, key: str) -> None: ...

    def delete_expired_idempotency_keys(self, now: str) -> int: ...

    # --- webhooks (an outbox: rows are written with the change they report) ------------

    def claim_due_webhooks(self, now: str, claim_until: str, limit: int) -> list[Webhook]:
        """Pending webhooks due by now, pushed to claim_until so no other sender takes them."""
        ...

    def record_webhook_attempt(
        self,
        attempt: WebhookAttempt,
        body: str | None,
        status: str,
        next_attempt_at: str | None,
    ) -> None:
        """Log the attempt and move the webhook on; a delivered one marks its job or batch."""
        ...

    def webhook_attempts(self, tenant_id: str, subject_id: str) -> list[WebhookAttempt]:
        """The delivery log of a job or batch, oldest first."""
        ...

    # --- images -------------------------------------------------------------------------

    def add_image(self, image: Image) -> None:
        """A single image outside any job: an upload."""
        ...

    def get_images(self, tenant_id: str, image_ids: list[str]) -> list[Image]:
        """The images that exist and are not deleted, in the order asked for."""
        ...

    # --- the image library --------------------------------------------------------------
    # Every change below is conditional on the image not being deleted (a tombstone stays),
    # and moves the tenant's counters in the same write, so the summary is never recounted.

    def get_image(self, tenant_id: str, image_id: str) -> Image | None: ...

    def list_images(
        self,
        tenant_id: str,
        query: ImageQuery,
        limit: int,
        offset: int = 0,
        after: str | None = None,
    ) -> ImagePage:
        """A page of the tenant's library in the query's order (by image_sort_key).

        `after` (a next_after from the previous page) starts the page after that image;
        otherwise `offset` images are skipped, which costs reading them.
        """
        ...

    def image_summary(self, tenant_id: str) -> ImageSummary: ...

    def record_image_view(self, tenant_id: str, image_id: str) -> Image | None:
        """view_count + 1; the image as it is now, or None when there is none."""
        ...

    def record_image_download(self, tenant_id: str, image_id: str) -> Image | None:
        """download_count + 1; the image as it is now, or None when there is none."""
        ...

    def update_image(self, tenant_id: str, image_id: str, changes: ImageChanges) -> Image | None:
        """Apply a PATCH (saving only from temporary); None when there is no such image."""
        ...

    def delete_image(self, tenant_id: str, image_id: str, deleted_at: str) -> Image | None:
        """Mark the image deleted; the image as it was (its files are the caller's to
        remove), or None when there was none to delete."""
        ...

    def recount_images(self, tenant_id: str) -> ImageSummary:
        """Rebuild the tenant's counters from its images (after records vanished outside
        the repository, e.g. by DynamoDB TTL); the summary as recounted."""
        ...

    def expire_images(self, now: str, limit: int) -> list[Image]:
        """Remove the records of images (and tombstones) whose expiry has passed, oldest
        expiry first; the images removed, so the caller can remove their files."""
        ...

"""The repository interface: what the API and workers need from the record store.

SQLite implements it locally; DynamoDB will implement it on AWS. Every read of a tenant's
record takes the tenant id, so a missing tenant check cannot leak another tenant's data.
"""

from __future__ import annotations

from typing import Any, Protocol

from imagegen.records import ApiKey, Image, Job


class Repository(Protocol):
    def add_api_key(self, key: ApiKey) -> None: ...

    def find_api_key(self, key_hash: str) -> ApiKey | None: ...

    def add_job(self, job: Job) -> None: ...

    def get_job(self, tenant_id: str, job_id: str) -> Job | None: ...

    def load_job(self, job_id: str) -> Job | None:
        """For workers, which act on a job id taken from the queue."""
        ...

    def start_job(self, job_id: str, started_at: str) -> bool:
        """Move pending -> processing; False when the job is not pending any more."""
        ...

    def update_progress(self, job_id: str, progress: int, message: str) -> bool:
        """False when the job is no longer processing (it was cancelled)."""
        ...

    def complete_job(
        self, job_id: str, images: list[Image], cost: dict[str, float], completed_at: str
    ) -> bool:
        """Record the images and the completed job together, or neither; False (and nothing
        recorded) when the job is no longer processing."""
        ...

    def fail_job(self, job_id: str, error: dict[str, Any], completed_at: str) -> bool:
        """Only a pending or processing job fails: a cancelled one stays cancelled."""
        ...

    def cancel_job(self, tenant_id: str, job_id: str, cancelled_at: str) -> bool:
        """pending/processing -> cancelled; False when the job is in no state to cancel."""
        ...

    def retry_job(self, tenant_id: str, job_id: str) -> bool:
        """failed -> pending with retry_count + 1 and the error cleared; False otherwise."""
        ...

    def add_image(self, image: Image) -> None:
        """A single image outside any job: an upload."""
        ...

    def get_images(self, tenant_id: str, image_ids: list[str]) -> list[Image]: ...

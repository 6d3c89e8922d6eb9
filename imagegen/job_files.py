"""The files of a job: the images it makes and the prepared inputs of an edit.

Image ids and keys follow from the job and the image's place in it, so every run of a job (a
retry, or a run replacing one whose worker died) writes the same files: a second run
overwrites the first's instead of leaving a second set."""

from __future__ import annotations

import hashlib

from imagegen import catalog
from imagegen.imaging import FORMATS
from imagegen.plan import GenerationPlan
from imagegen.records import Job
from imagegen.storage.blobs import BlobStore, blob_key


def image_id(job_id: str, index: int) -> str:
    return "img_" + hashlib.sha256(f"{job_id}/{index}".encode()).hexdigest()[:32]


def image_keys(job: Job, index: int, fmt: str) -> tuple[str, str]:
    """The original's and the thumbnail's keys, dated by the job so every run agrees."""
    kind = "generated" if job.kind == catalog.TEXT_TO_IMAGE else "edited"
    name = image_id(job.job_id, index)
    return (
        blob_key(job.tenant_id, kind, job.created_at, f"{name}.{fmt}"),
        blob_key(job.tenant_id, "thumbnails", job.created_at, f"{name}.webp"),
    )


def discard_files(blobs: BlobStore, job: Job) -> None:
    """Remove every file any run of this job may have written (missing ones are fine)."""
    for index in range(job.plan.n):
        for fmt, _content_type in FORMATS.values():
            for key in image_keys(job, index, fmt):
                blobs.delete(key)


def discard_inputs(blobs: BlobStore, plan: GenerationPlan) -> None:
    """Remove an edit's prepared inputs: once its job can no longer run (cancelled, or never
    recorded), nothing reads them again. A failed job keeps them, for its retry."""
    for key in [plan.source_key, plan.mask_key, *plan.reference_keys]:
        if key:
            blobs.delete(key)

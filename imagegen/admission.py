"""Whether a tenant may make a request, or submit more images, now: its rate limits and
its storage quota.

Every authenticated request counts against the tenant's requests a minute; every
submission (a generation, an edit, a batch, a retry) against its images a minute, by the
images it asks for. A refusal is 429 IMG102 with `details.retry_after` (and Retry-After).

The limits are read from the repository (set with `python -m imagegen.cli set-limits`) and
kept per process for a few seconds (imagegen.limits_cache), so a change reaches every API task within that
time without a restart, and a request costs no database read.
"""

from __future__ import annotations

from imagegen import errors
from imagegen.caller import Caller
from imagegen.errors import ServiceError
from imagegen.rate_limits import WINDOW_SECONDS, RateLimitState
from imagegen.services import Services

REQUESTS = "requests"
IMAGES = "images"


def admit_request(svc: Services, caller: Caller) -> RateLimitState | None:
    """Count one request against the tenant's request limit: its state afterwards (None:
    no limit), refused or not; refuse_over_limit says which."""
    limit = svc.limits.get(caller.tenant_id).requests_per_minute
    if limit is None:
        return None
    return svc.rate_limiter.check(caller.tenant_id, REQUESTS, limit)


def refuse_over_limit(state: RateLimitState | None) -> None:
    """429 IMG102 when the checked limit had no room."""
    if state is not None and not state.allowed:
        raise _refused(state, f"more than {state.limit} {state.policy} a minute")


def admit_images(svc: Services, caller: Caller, count: int) -> None:
    """Count the images a submission asks for, before anything of it is stored."""
    limit = svc.limits.get(caller.tenant_id).images_per_minute
    if limit is None:
        return
    if count > limit:
        # It would never fit: waiting does not help, so no retry_after.
        raise ServiceError(
            errors.RATE_LIMIT_EXCEEDED,
            f"this submission asks for {count} images; the limit is {limit} a minute: "
            "split it into smaller ones",
            {"policy": IMAGES, "limit": limit, "images": count},
        )
    refuse_over_limit(svc.rate_limiter.check(caller.tenant_id, IMAGES, limit, count))


def admit_storage(svc: Services, caller: Caller, adding_bytes: int = 0) -> None:
    """413 IMG103 when the tenant's library (deleted images excluded) has no room: its
    stored bytes have reached the quota, or the upload of adding_bytes would pass it. A
    generation's size is not known before it runs, so a job accepted under the quota keeps
    all its images even when they take the library past it; the next is refused."""
    limit = svc.limits.get(caller.tenant_id).storage_bytes
    if limit is None:
        return
    used = svc.repository.image_summary(caller.tenant_id).total_size_bytes
    full = used + adding_bytes > limit if adding_bytes else used >= limit
    if not full:
        return
    raise ServiceError(
        errors.STORAGE_LIMIT_EXCEEDED,
        f"the image library is full: {used} of {limit} bytes are used; delete images to make room",
        {"used_bytes": used, "limit_bytes": limit, "adding_bytes": adding_bytes},
    )


def _refused(state: RateLimitState, what: str) -> ServiceError:
    retry_after = max(state.retry_after_seconds, 1)
    return ServiceError(
        errors.RATE_LIMIT_EXCEEDED,
        f"rate limit exceeded: {what}; try again in {retry_after} s",
        {
            "policy": state.policy,
            "limit": state.limit,
            "window_seconds": WINDOW_SECONDS,
            "remaining": state.remaining,
            "retry_after": retry_after,
        },
    )

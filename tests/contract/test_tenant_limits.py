"""Tenants' limits as operators set them: one record per tenant, replaced whole, on every
repository."""

from __future__ import annotations

from imagegen.records import TenantLimits, utc_now
from imagegen.storage.repository import Repository


def test_a_tenant_with_no_limits_set_has_no_record(repository: Repository):
    assert repository.get_tenant_limits("acme") is None


def test_limits_come_back_as_they_were_put(repository: Repository):
    limits = TenantLimits(
        tenant_id="acme",
        requests_per_minute=60,
        images_per_minute=0,  # unlimited, whatever the default
        storage_bytes=5 * 1024**3,
        max_concurrent_jobs=None,  # the default applies
        updated_at=utc_now(),
    )

    repository.put_tenant_limits(limits)

    assert repository.get_tenant_limits("acme") == limits


def test_a_put_replaces_the_whole_record(repository: Repository):
    repository.put_tenant_limits(
        TenantLimits("acme", requests_per_minute=60, images_per_minute=10, storage_bytes=1000)
    )
    replacement = TenantLimits("acme", images_per_minute=20, updated_at=utc_now())

    repository.put_tenant_limits(replacement)

    # The limits the new record leaves None are None again, not the old values.
    assert repository.get_tenant_limits("acme") == replacement


def test_tenants_limits_are_their_own(repository: Repository):
    acme = TenantLimits("acme", requests_per_minute=60)
    globex = TenantLimits("globex", requests_per_minute=5, max_concurrent_jobs=1)
    repository.put_tenant_limits(acme)
    repository.put_tenant_limits(globex)

    assert repository.get_tenant_limits("acme") == acme
    assert repository.get_tenant_limits("globex") == globex
    assert repository.get_tenant_limits("initech") is None

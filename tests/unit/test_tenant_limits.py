"""The limits that apply to a tenant: its stored ones over the IMAGEGEN_DEFAULT_* settings,
with 0 meaning unlimited either way."""

from __future__ import annotations

import pytest

from imagegen.config import ConfigError, Settings
from imagegen.records import TenantLimits
from imagegen.tenant_limits import LIMIT_NAMES, EffectiveLimits, effective_limits

DEFAULTS = {
    "IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE": "120",
    "IMAGEGEN_DEFAULT_IMAGES_PER_MINUTE": "30",
    "IMAGEGEN_DEFAULT_STORAGE_BYTES": "1000000",
    "IMAGEGEN_DEFAULT_MAX_CONCURRENT_JOBS": "4",
}


def test_with_no_defaults_and_no_record_nothing_is_limited():
    assert effective_limits(Settings.from_env({}), None) == EffectiveLimits(None, None, None, None)


def test_a_tenant_with_no_record_gets_the_defaults():
    settings = Settings.from_env(DEFAULTS)
    defaults = [getattr(settings, f"default_{name}") for name in LIMIT_NAMES]
    assert defaults == [120, 30, 1_000_000, 4]

    assert effective_limits(settings, None) == EffectiveLimits(120, 30, 1_000_000, 4)
    # A record that sets nothing is the same as none.
    assert effective_limits(settings, TenantLimits("acme")) == EffectiveLimits(
        120, 30, 1_000_000, 4
    )


def test_a_stored_limit_overrides_its_default_and_the_others_stay():
    stored = TenantLimits("acme", requests_per_minute=600, max_concurrent_jobs=1)

    limits = effective_limits(Settings.from_env(DEFAULTS), stored)

    assert limits == EffectiveLimits(600, 30, 1_000_000, 1)


def test_a_stored_limit_applies_where_there_is_no_default():
    stored = TenantLimits("acme", images_per_minute=10)

    assert effective_limits(Settings.from_env({}), stored) == EffectiveLimits(None, 10, None, None)


def test_zero_is_unlimited_stored_or_as_the_default():
    settings = Settings.from_env({**DEFAULTS, "IMAGEGEN_DEFAULT_STORAGE_BYTES": "0"})
    stored = TenantLimits("acme", requests_per_minute=0, images_per_minute=0)

    assert effective_limits(settings, stored) == EffectiveLimits(None, None, None, 4)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_a_negative_or_non_integer_default_refuses_to_start(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})

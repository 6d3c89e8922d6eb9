"""Settings from the environment, and production's refusal of unsafe ones."""

from __future__ import annotations

import pytest

from imagegen.config import ConfigError, Settings, url_signing_secret
from imagegen.services import build_services
from imagegen.webhooks.destinations import UnsafeDestination, check_destination

SAFE_PRODUCTION = {
    "IMAGEGEN_ENV": "production",
    "IMAGEGEN_URL_SIGNING_SECRET": "s" * 40,
    "IMAGEGEN_REDIS_URL": "rediss://cache.internal:6379/0",
    "IMAGEGEN_PUBLIC_BASE_URL": "https://images.example.com",
    "IMAGEGEN_WEBHOOK_SIGNING_SECRET": "w" * 40,
}


def test_defaults_run_locally(tmp_path):
    settings = Settings.from_env({"IMAGEGEN_DATA_DIR": str(tmp_path)})
    assert settings.environment == "development"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.signed_url_ttl_seconds == 24 * 3600
    assert settings.database_path == tmp_path / "imagegen.sqlite3"


def test_safe_production_settings_are_accepted():
    assert Settings.from_env(SAFE_PRODUCTION).is_production


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGEGEN_URL_SIGNING_SECRET", ""),
        ("IMAGEGEN_URL_SIGNING_SECRET", "short"),
        ("IMAGEGEN_REDIS_URL", "redis://cache.internal:6379/0"),
        ("IMAGEGEN_PUBLIC_BASE_URL", "http://images.example.com"),
        ("IMAGEGEN_WEBHOOK_SIGNING_SECRET", ""),
        ("IMAGEGEN_WEBHOOK_SIGNING_SECRET", "short"),
    ],
)
def test_production_refuses_unsafe_settings(name, value):
    with pytest.raises(ConfigError):
        Settings.from_env({**SAFE_PRODUCTION, name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGEGEN_ENV", "staging"),
        ("IMAGEGEN_SYNC_WAIT_SECONDS", "soon"),
        ("IMAGEGEN_WORKER_CONCURRENCY", "0"),
        ("IMAGEGEN_BEDROCK_MAX_ATTEMPTS", "x"),
        ("IMAGEGEN_MAX_IMAGE_BYTES", "0"),
        ("IMAGEGEN_MAX_IMAGE_BYTES", str(64 * 1024 * 1024)),  # over the request limit
        ("IMAGEGEN_MAX_IMAGE_PIXELS", "1000"),
        ("IMAGEGEN_JOB_LEASE_SECONDS", "1"),
        ("IMAGEGEN_JOB_MAX_RECOVERIES", "-1"),
        ("IMAGEGEN_MAX_BATCH_REQUESTS", "0"),
        ("IMAGEGEN_WEBHOOK_MAX_ATTEMPTS", "0"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_development_signing_secret_is_made_once_and_kept(tmp_path):
    settings = Settings.from_env({"IMAGEGEN_DATA_DIR": str(tmp_path)})
    first = url_signing_secret(settings)
    assert len(first) >= 32
    assert url_signing_secret(settings) == first
    assert (tmp_path / "url-signing-secret").stat().st_mode & 0o777 == 0o600


def test_production_delivers_webhooks_over_https_only(tmp_path):
    public = "93.184.215.14"
    production = build_services(
        Settings.from_env({**SAFE_PRODUCTION, "IMAGEGEN_DATA_DIR": str(tmp_path / "p")})
    )
    with pytest.raises(UnsafeDestination, match="https"):
        check_destination(f"http://{public}/hook", production.webhook_policy)
    assert check_destination(f"https://{public}/hook", production.webhook_policy)
    development = build_services(Settings.from_env({"IMAGEGEN_DATA_DIR": str(tmp_path / "d")}))
    assert check_destination(f"http://{public}/hook", development.webhook_policy)

"""Configuration, read from environment variables in one place.

Every variable is listed in README.md's configuration table. Production mode refuses unsafe
settings at start rather than running with them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from imagegen import catalog, model_lifecycle, model_regions
from imagegen.catalog import Lifecycle
from imagegen.model_lifecycle import DefaultChoice
from imagegen.model_regions import Route
from imagegen.quota import parse_quotas
from imagegen.webhooks.destinations import parse_allowed_hosts


class ConfigError(ValueError):
    """A setting is missing or unsafe; the process must not start."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _optional_int(env: dict[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _limit(env: dict[str, str], name: str) -> int | None:
    """A default tenant limit: unset is None (unlimited), 0 unlimited too; never negative."""
    value = _optional_int(env, name)
    if value is not None and value < 0:
        raise ConfigError(f"{name} must not be negative (0 or unset: unlimited), got {value}")
    return value


def _quotas(env: dict[str, str]) -> dict[str, int]:
    try:
        quotas = parse_quotas(env.get("IMAGEGEN_BEDROCK_QUOTAS", ""))
    except ValueError as exc:
        raise ConfigError(f"IMAGEGEN_BEDROCK_QUOTAS: {exc}") from exc
    unknown = sorted(set(quotas) - set(catalog.MODELS))
    if unknown:
        raise ConfigError(f"IMAGEGEN_BEDROCK_QUOTAS names unknown models: {', '.join(unknown)}")
    return quotas


def _lifecycle_overrides(env: dict[str, str]) -> dict[str, Lifecycle]:
    try:
        return model_lifecycle.parse_overrides(env.get("IMAGEGEN_MODEL_LIFECYCLE", ""))
    except ValueError as exc:
        raise ConfigError(f"IMAGEGEN_MODEL_LIFECYCLE: {exc}") from exc


def _default_model(env: dict[str, str], overrides: dict[str, Lifecycle]) -> DefaultChoice:
    """Always an ACTIVE model (imagegen.model_lifecycle.choose_default); unset or empty
    lets the service choose, and an EOL model named explicitly stops the start."""
    try:
        return model_lifecycle.choose_default(
            env.get("IMAGEGEN_DEFAULT_MODEL", "").strip() or None,
            overrides,
            model_lifecycle.utc_today(),
        )
    except ValueError as exc:
        raise ConfigError(f"IMAGEGEN_DEFAULT_MODEL: {exc}") from exc


def _model_routes(env: dict[str, str], aws_region: str) -> dict[str, Route]:
    """Every model's region and invoke id, checked once at start (imagegen.model_regions)."""
    try:
        regions = model_regions.parse_regions(env.get("IMAGEGEN_MODEL_REGIONS", ""))
    except ValueError as exc:
        raise ConfigError(f"IMAGEGEN_MODEL_REGIONS: {exc}") from exc
    try:
        profiles = model_regions.parse_profiles(env.get("IMAGEGEN_INFERENCE_PROFILES", ""))
        return {
            model_id: model_regions.route(model_id, aws_region, regions, profiles)
            for model_id in catalog.MODELS
        }
    except ValueError as exc:
        raise ConfigError(f"IMAGEGEN_INFERENCE_PROFILES: {exc}") from exc


def _allowed_hosts(env: dict[str, str]) -> frozenset[tuple[str, int]]:
    try:
        return parse_allowed_hosts(env.get("IMAGEGEN_WEBHOOK_ALLOWED_HOSTS", ""))
    except ValueError as exc:
        raise ConfigError(f"IMAGEGEN_WEBHOOK_ALLOWED_HOSTS: {exc}") from exc


@dataclass(frozen=True)
class Settings:
    environment: str
    redis_url: str
    data_dir: Path
    url_signing_secret: str
    public_base_url: str
    # The ACTIVE model a request that names none gets, and why it is that one.
    default_model: str
    default_model_choice: DefaultChoice
    # The operator's word on models' lifecycles, over the control plane and the table, and
    # how long what the control plane said is kept.
    model_lifecycle: dict[str, Lifecycle]
    model_lifecycle_ttl_seconds: float
    # A Bedrock control plane of its own (AWS_ENDPOINT_URL_BEDROCK, which boto3 reads for
    # the `bedrock` client): set, the lifecycles are asked of it on any storage backend.
    bedrock_control_plane_endpoint: str
    sync_wait_seconds: float
    signed_url_ttl_seconds: int
    worker_concurrency: int
    aws_region: str
    # Where each model of the catalogue is called, and the id it is invoked by.
    model_routes: dict[str, Route]
    bedrock_max_attempts: int
    bedrock_read_timeout_seconds: float
    bedrock_backoff_base_seconds: float
    bedrock_backoff_cap_seconds: float
    # Requests a minute per model (the account's Bedrock quotas); a model not listed has
    # bedrock_default_rpm, and None means the fleet learns it from throttling.
    bedrock_quotas: dict[str, int]
    bedrock_default_rpm: int | None
    job_deadline_seconds: float
    max_request_bytes: int
    max_image_request_bytes: int
    max_image_bytes: int
    max_image_pixels: int
    log_level: str
    metrics_namespace: str
    metrics_interval_seconds: float
    job_lease_seconds: float
    job_max_recoveries: int
    sweep_interval_seconds: float
    requeue_after_seconds: float
    worker_shutdown_grace_seconds: float
    idempotency_ttl_seconds: int
    max_batch_requests: int
    webhook_signing_secret: str
    webhook_allowed_hosts: frozenset[tuple[str, int]]
    webhook_max_attempts: int
    webhook_backoff_base_seconds: float
    webhook_backoff_cap_seconds: float
    webhook_timeout_seconds: float
    webhook_poll_seconds: float
    # Where records and files live: "local" (SQLite + files under the data directory) or
    # "aws" (DynamoDB + S3, created by infra/modules/data).
    storage_backend: str
    dynamodb_table: str
    s3_bucket: str
    # Days an image is kept after it was created, until it is saved and after (0: forever).
    temporary_retention_days: int
    saved_retention_days: int
    # Each tenant's limits where its record (cli set-limits) leaves one unset; None or 0:
    # unlimited (imagegen.tenant_limits).
    default_requests_per_minute: int | None
    default_images_per_minute: int | None
    default_storage_bytes: int | None
    default_max_concurrent_jobs: int | None
    # The credits a tenant without an account opens one with at its first job; unset (or
    # 0): such a tenant's credits are not metered.
    default_credits: int | None

    def route(self, model_id: str) -> Route:
        """A model outside the catalogue (none reaches the worker) is called in AWS_REGION."""
        return self.model_routes.get(model_id) or Route(self.aws_region, model_id)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "imagegen.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("IMAGEGEN_DATA_DIR", "var")).resolve()
        lifecycle_overrides = _lifecycle_overrides(env)
        default_choice = _default_model(env, lifecycle_overrides)
        aws_region = env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1"))
        settings = cls(
            environment=env.get("IMAGEGEN_ENV", "development"),
            redis_url=env.get("IMAGEGEN_REDIS_URL", "redis://127.0.0.1:6379/0"),
            data_dir=data_dir,
            url_signing_secret=env.get("IMAGEGEN_URL_SIGNING_SECRET", ""),
            public_base_url=env.get("IMAGEGEN_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip(
                "/"
            ),
            default_model=default_choice.model_id,
            default_model_choice=default_choice,
            model_lifecycle=lifecycle_overrides,
            model_lifecycle_ttl_seconds=_float(env, "IMAGEGEN_MODEL_LIFECYCLE_TTL_SECONDS", 3600.0),
            bedrock_control_plane_endpoint=env.get("AWS_ENDPOINT_URL_BEDROCK", ""),
            sync_wait_seconds=_float(env, "IMAGEGEN_SYNC_WAIT_SECONDS", 60.0),
            signed_url_ttl_seconds=_int(env, "IMAGEGEN_SIGNED_URL_TTL_SECONDS", 24 * 3600),
            worker_concurrency=_int(env, "IMAGEGEN_WORKER_CONCURRENCY", 64),
            aws_region=aws_region,
            model_routes=_model_routes(env, aws_region),
            bedrock_max_attempts=_int(env, "IMAGEGEN_BEDROCK_MAX_ATTEMPTS", 4),
            bedrock_read_timeout_seconds=_float(
                env, "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS", 120.0
            ),
            bedrock_backoff_base_seconds=_float(env, "IMAGEGEN_BEDROCK_BACKOFF_BASE_SECONDS", 0.5),
            bedrock_backoff_cap_seconds=_float(env, "IMAGEGEN_BEDROCK_BACKOFF_CAP_SECONDS", 8.0),
            bedrock_quotas=_quotas(env),
            bedrock_default_rpm=_optional_int(env, "IMAGEGEN_BEDROCK_DEFAULT_RPM"),
            job_deadline_seconds=_float(env, "IMAGEGEN_JOB_DEADLINE_SECONDS", 3600.0),
            max_request_bytes=_int(env, "IMAGEGEN_MAX_REQUEST_BYTES", 1024 * 1024),
            max_image_request_bytes=_int(env, "IMAGEGEN_MAX_IMAGE_REQUEST_BYTES", 32 * 1024 * 1024),
            max_image_bytes=_int(env, "IMAGEGEN_MAX_IMAGE_BYTES", 10 * 1024 * 1024),
            max_image_pixels=_int(env, "IMAGEGEN_MAX_IMAGE_PIXELS", 40_000_000),
            log_level=env.get("IMAGEGEN_LOG_LEVEL", "INFO").upper(),
            metrics_namespace=env.get("IMAGEGEN_METRICS_NAMESPACE", ""),
            metrics_interval_seconds=_float(env, "IMAGEGEN_METRICS_INTERVAL_SECONDS", 60.0),
            job_lease_seconds=_float(env, "IMAGEGEN_JOB_LEASE_SECONDS", 30.0),
            job_max_recoveries=_int(env, "IMAGEGEN_JOB_MAX_RECOVERIES", 2),
            sweep_interval_seconds=_float(env, "IMAGEGEN_SWEEP_INTERVAL_SECONDS", 10.0),
            requeue_after_seconds=_float(env, "IMAGEGEN_REQUEUE_AFTER_SECONDS", 30.0),
            worker_shutdown_grace_seconds=_float(
                env, "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS", 90.0
            ),
            idempotency_ttl_seconds=_int(env, "IMAGEGEN_IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
            max_batch_requests=_int(env, "IMAGEGEN_MAX_BATCH_REQUESTS", 50),
            webhook_signing_secret=env.get("IMAGEGEN_WEBHOOK_SIGNING_SECRET", ""),
            webhook_allowed_hosts=_allowed_hosts(env),
            webhook_max_attempts=_int(env, "IMAGEGEN_WEBHOOK_MAX_ATTEMPTS", 10),
            webhook_backoff_base_seconds=_float(env, "IMAGEGEN_WEBHOOK_BACKOFF_BASE_SECONDS", 10.0),
            webhook_backoff_cap_seconds=_float(env, "IMAGEGEN_WEBHOOK_BACKOFF_CAP_SECONDS", 3600.0),
            webhook_timeout_seconds=_float(env, "IMAGEGEN_WEBHOOK_TIMEOUT_SECONDS", 10.0),
            webhook_poll_seconds=_float(env, "IMAGEGEN_WEBHOOK_POLL_SECONDS", 1.0),
            storage_backend=env.get("IMAGEGEN_STORAGE_BACKEND", "local"),
            dynamodb_table=env.get("IMAGEGEN_DYNAMODB_TABLE", ""),
            s3_bucket=env.get("IMAGEGEN_S3_BUCKET", ""),
            temporary_retention_days=_int(env, "IMAGEGEN_TEMPORARY_RETENTION_DAYS", 7),
            saved_retention_days=_int(env, "IMAGEGEN_SAVED_RETENTION_DAYS", 90),
            default_requests_per_minute=_limit(env, "IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE"),
            default_images_per_minute=_limit(env, "IMAGEGEN_DEFAULT_IMAGES_PER_MINUTE"),
            default_storage_bytes=_limit(env, "IMAGEGEN_DEFAULT_STORAGE_BYTES"),
            default_max_concurrent_jobs=_limit(env, "IMAGEGEN_DEFAULT_MAX_CONCURRENT_JOBS"),
            default_credits=_limit(env, "IMAGEGEN_DEFAULT_CREDITS"),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if self.environment not in ("development", "production"):
            raise ConfigError("IMAGEGEN_ENV must be 'development' or 'production'")
        if self.worker_concurrency < 1:
            raise ConfigError("IMAGEGEN_WORKER_CONCURRENCY must be at least 1")
        if catalog.resolve(self.default_model)[0] is None:
            raise ConfigError(f"IMAGEGEN_DEFAULT_MODEL {self.default_model!r} is not a known model")
        if not 0 < self.max_image_bytes <= self.max_image_request_bytes:
            raise ConfigError(
                "IMAGEGEN_MAX_IMAGE_BYTES must be positive and at most "
                "IMAGEGEN_MAX_IMAGE_REQUEST_BYTES"
            )
        if self.max_image_pixels < 1_000_000:
            raise ConfigError("IMAGEGEN_MAX_IMAGE_PIXELS must be at least 1000000")
        if self.bedrock_max_attempts < 1:
            raise ConfigError("IMAGEGEN_BEDROCK_MAX_ATTEMPTS must be at least 1")
        if self.bedrock_default_rpm is not None and self.bedrock_default_rpm < 1:
            raise ConfigError("IMAGEGEN_BEDROCK_DEFAULT_RPM must be at least 1 (or unset)")
        if self.job_deadline_seconds <= 0:
            raise ConfigError("IMAGEGEN_JOB_DEADLINE_SECONDS must be positive")
        if self.job_lease_seconds < 3:
            raise ConfigError("IMAGEGEN_JOB_LEASE_SECONDS must be at least 3")
        if self.job_max_recoveries < 0:
            raise ConfigError("IMAGEGEN_JOB_MAX_RECOVERIES must not be negative")
        if self.model_lifecycle_ttl_seconds < 0:
            raise ConfigError("IMAGEGEN_MODEL_LIFECYCLE_TTL_SECONDS must not be negative")
        if self.max_batch_requests < 1:
            raise ConfigError("IMAGEGEN_MAX_BATCH_REQUESTS must be at least 1")
        if self.webhook_max_attempts < 1:
            raise ConfigError("IMAGEGEN_WEBHOOK_MAX_ATTEMPTS must be at least 1")
        if self.storage_backend not in ("local", "aws"):
            raise ConfigError("IMAGEGEN_STORAGE_BACKEND must be 'local' or 'aws'")
        if self.storage_backend == "aws" and not (self.dynamodb_table and self.s3_bucket):
            raise ConfigError(
                "IMAGEGEN_STORAGE_BACKEND=aws needs IMAGEGEN_DYNAMODB_TABLE and IMAGEGEN_S3_BUCKET"
            )
        # A DynamoDB transaction holds at most 100 items: a batch, its jobs, its key, and
        # its credits' reservation (the account and the ledger entry).
        if self.storage_backend == "aws" and self.max_batch_requests > 96:
            raise ConfigError("IMAGEGEN_MAX_BATCH_REQUESTS must be at most 96 on DynamoDB")
        if self.temporary_retention_days < 1:
            raise ConfigError("IMAGEGEN_TEMPORARY_RETENTION_DAYS must be at least 1")
        if self.saved_retention_days < 0:
            raise ConfigError("IMAGEGEN_SAVED_RETENTION_DAYS must not be negative")
        if self.is_production:
            if len(self.url_signing_secret) < 32:
                raise ConfigError(
                    "IMAGEGEN_URL_SIGNING_SECRET must be set (32+ characters) in production"
                )
            if not self.redis_url.startswith("rediss://"):
                raise ConfigError("production requires TLS to Redis (a rediss:// URL)")
            if not self.public_base_url.startswith("https://"):
                raise ConfigError("production requires an https:// IMAGEGEN_PUBLIC_BASE_URL")
            if len(self.webhook_signing_secret) < 32:
                raise ConfigError(
                    "IMAGEGEN_WEBHOOK_SIGNING_SECRET must be set (32+ characters) in production"
                )


def url_signing_secret(settings: Settings) -> str:
    """The secret that signs file URLs.

    In development, when none is configured, one is generated once and kept in the data
    directory so the API and the worker agree and URLs survive restarts.
    """
    return settings.url_signing_secret or _development_secret(settings, "url-signing-secret")


def webhook_signing_secret(settings: Settings) -> str:
    """The master secret every tenant's webhook signing secret is derived from (as above)."""
    return settings.webhook_signing_secret or _development_secret(
        settings, "webhook-signing-secret"
    )


def _development_secret(settings: Settings, name: str) -> str:
    path = settings.data_dir / name
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        path.chmod(0o600)
    except FileExistsError:
        pass
    return path.read_text(encoding="ascii").strip()

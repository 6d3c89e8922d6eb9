"""Builds the adapters from settings: the one place that knows which backend is in use."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from imagegen.config import Settings, url_signing_secret, webhook_signing_secret
from imagegen.jobqueue import JobQueue
from imagegen.limits_cache import LimitsCache
from imagegen.model_lifecycle import ModelLifecycles, ReportSource
from imagegen.quota import ModelQuotas, ProviderBudget
from imagegen.rate_limits import RateLimiter
from imagegen.signing import UrlSigner
from imagegen.storage.blobs import BlobStore, DiskBlobStore
from imagegen.storage.repository import Repository
from imagegen.storage.sqlite import SqliteRepository
from imagegen.webhooks.destinations import DestinationPolicy

# How long one Redis command may take before the API gives up on it: a Redis that hangs
# must not hold request threads. Blocking waits are sliced to stay under it (jobqueue).
REDIS_SOCKET_TIMEOUT_SECONDS = 5.0


@dataclass
class Services:
    settings: Settings
    repository: Repository
    blobs: BlobStore
    signer: UrlSigner
    redis: Redis
    queue: JobQueue
    # Where webhooks may go (checked when a job is created and again at each delivery), and
    # the secret each tenant's webhook signing secret is derived from.
    webhook_policy: DestinationPolicy
    webhook_master_secret: str
    # The fleet's shared budget of model calls per model and region (imagegen.quota).
    budget: ProviderBudget
    # Tenants' limits (set by operators) and the shared counters that enforce their rates.
    limits: LimitsCache
    rate_limiter: RateLimiter
    # Each model's lifecycle: whether a request for it is served, warned or refused. The
    # default (the built-in table alone) serves the parts built without build_services.
    lifecycle: ModelLifecycles = field(default_factory=lambda: ModelLifecycles({}, None, 0))


def build_services(settings: Settings) -> Services:
    signer = UrlSigner(
        url_signing_secret(settings), settings.public_base_url, settings.signed_url_ttl_seconds
    )
    redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
    repository = build_repository(settings)
    return Services(
        settings=settings,
        repository=repository,
        blobs=build_blob_store(settings, signer),
        signer=signer,
        redis=redis,
        queue=JobQueue(redis),
        webhook_policy=DestinationPolicy(
            require_https=settings.is_production, allowed_hosts=settings.webhook_allowed_hosts
        ),
        webhook_master_secret=webhook_signing_secret(settings),
        budget=ProviderBudget(
            redis,
            settings.aws_region,
            ModelQuotas(settings.bedrock_quotas, settings.bedrock_default_rpm),
            job_deadline_seconds=settings.job_deadline_seconds,
        ),
        limits=LimitsCache(repository, settings),
        rate_limiter=RateLimiter(redis),
        lifecycle=ModelLifecycles(
            settings.model_lifecycle,
            build_lifecycle_source(settings),
            settings.model_lifecycle_ttl_seconds,
        ),
    )


def build_lifecycle_source(settings: Settings) -> ReportSource | None:
    """Bedrock's control plane where the service runs on AWS, or where one is named
    (AWS_ENDPOINT_URL_BEDROCK: localbedrock, in the tests). Otherwise there is no Bedrock
    to ask locally, and botocore's search for credentials (instance metadata included)
    would be a wait for nothing, so the built-in table and the overrides decide."""
    if settings.storage_backend != "aws" and not settings.bedrock_control_plane_endpoint:
        return None
    from imagegen.providers.lifecycle import BedrockLifecycleSource

    return BedrockLifecycleSource(settings.aws_region)


# The backend (settings.storage_backend): "local" keeps records in SQLite and files under the
# data directory; "aws" keeps them in DynamoDB and S3 (docs/data-model.md). The AWS adapters
# are imported only for it, and find their endpoints through boto3's own AWS_ENDPOINT_URL_*
# variables (moto, in tests).


def build_repository(settings: Settings) -> Repository:
    """The record store alone, for commands that need nothing else (the operator CLI)."""
    if settings.storage_backend == "aws":
        from imagegen.storage.dynamodb import DynamoRepository

        return DynamoRepository(settings.dynamodb_table, region_name=settings.aws_region)
    return SqliteRepository(settings.database_path)


def build_blob_store(settings: Settings, signer: UrlSigner) -> BlobStore:
    if settings.storage_backend == "aws":
        from imagegen.storage.s3 import S3BlobStore

        return S3BlobStore(
            settings.s3_bucket, settings.signed_url_ttl_seconds, region_name=settings.aws_region
        )
    return DiskBlobStore(settings.blob_dir, signer)

# The whole service for one environment: network, load balancer, Redis, the records table
# and images bucket, the API and worker services, their image repository and secrets, and
# monitoring. The env roots only size it.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region            = data.aws_region.current.name
  metrics_namespace = "ImageGen/${var.environment}"
  app_port          = 8000
  public_base_url   = coalesce(var.public_base_url, module.alb.api_url)

  default_tenant_limits = {
    for name, value in var.default_tenant_limits : name => value == null ? "" : tostring(value)
  }

  bedrock_models = {
    for model, m in var.bedrock_models : model => {
      region               = m.region
      inference_profile_id = m.inference_profile == null ? null : "${m.inference_profile}.${model}"
      profile_regions      = m.profile_regions
    }
  }
  # An interface endpoint serves its own region only: calls to other regions go through NAT.
  interface_endpoints = [
    for service in var.interface_endpoints : service
    if service != "bedrock-runtime" || contains([for m in values(var.bedrock_models) : m.region], local.region)
  ]

  # Settings both roles read; secrets travel separately, from Secrets Manager.
  app_environment = merge({
    IMAGEGEN_ENV                          = var.certificate_arn == null ? "development" : "production"
    IMAGEGEN_PUBLIC_BASE_URL              = local.public_base_url
    IMAGEGEN_DEFAULT_MODEL                = var.default_model == null ? "" : var.default_model
    IMAGEGEN_MODEL_LIFECYCLE              = join(",", [for model, status in var.model_lifecycle : "${model}=${status}"])
    IMAGEGEN_MODEL_LIFECYCLE_TTL_SECONDS  = "3600"
    IMAGEGEN_DATA_DIR                     = "/tmp/imagegen"
    IMAGEGEN_SYNC_WAIT_SECONDS            = "60"
    IMAGEGEN_SIGNED_URL_TTL_SECONDS       = "86400"
    IMAGEGEN_MAX_REQUEST_BYTES            = "1048576"
    IMAGEGEN_MAX_IMAGE_REQUEST_BYTES      = "33554432"
    IMAGEGEN_MAX_IMAGE_BYTES              = "10485760"
    IMAGEGEN_MAX_IMAGE_PIXELS             = "40000000"
    IMAGEGEN_WORKER_CONCURRENCY           = tostring(var.worker_concurrency)
    IMAGEGEN_BEDROCK_MAX_ATTEMPTS         = "4"
    IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS = "120"
    IMAGEGEN_BEDROCK_BACKOFF_BASE_SECONDS = "0.5"
    IMAGEGEN_BEDROCK_BACKOFF_CAP_SECONDS  = "8"
    IMAGEGEN_BEDROCK_QUOTAS               = join(",", [for model, rpm in var.bedrock_quotas : "${model}=${rpm}"])
    IMAGEGEN_MODEL_REGIONS                = join(",", [for model, m in var.bedrock_models : "${model}=${m.region}"])
    IMAGEGEN_INFERENCE_PROFILES           = join(",", [for model, m in var.bedrock_models : "${model}=${m.inference_profile}" if m.inference_profile != null])
    IMAGEGEN_BEDROCK_DEFAULT_RPM          = var.bedrock_default_rpm == null ? "" : tostring(var.bedrock_default_rpm)
    IMAGEGEN_JOB_DEADLINE_SECONDS         = tostring(var.job_deadline_seconds)
    IMAGEGEN_METRICS_INTERVAL_SECONDS     = "60"
    IMAGEGEN_LOG_LEVEL                    = "INFO"
    IMAGEGEN_JOB_LEASE_SECONDS            = "30"
    IMAGEGEN_JOB_MAX_RECOVERIES           = "2"
    IMAGEGEN_SWEEP_INTERVAL_SECONDS       = "10"
    IMAGEGEN_REQUEUE_AFTER_SECONDS        = "30"
    IMAGEGEN_IDEMPOTENCY_TTL_SECONDS      = "86400"
    IMAGEGEN_MAX_BATCH_REQUESTS           = "50"
    # Each tenant's limits where an operator set none (cli set-limits); empty: unlimited.
    IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE = local.default_tenant_limits.requests_per_minute
    IMAGEGEN_DEFAULT_IMAGES_PER_MINUTE   = local.default_tenant_limits.images_per_minute
    IMAGEGEN_DEFAULT_STORAGE_BYTES       = local.default_tenant_limits.storage_bytes
    IMAGEGEN_DEFAULT_MAX_CONCURRENT_JOBS = local.default_tenant_limits.max_concurrent_jobs
    IMAGEGEN_DEFAULT_CREDITS             = local.default_tenant_limits.credits
    # No host may skip the check that webhook URLs resolve to public addresses (the allow
    # list exists for a receiver on loopback in development). The ecs module leaves empty
    # values out of the container definitions, as ECS itself does; unset reads as empty.
    IMAGEGEN_WEBHOOK_ALLOWED_HOSTS        = ""
    IMAGEGEN_WEBHOOK_MAX_ATTEMPTS         = "10"
    IMAGEGEN_WEBHOOK_BACKOFF_BASE_SECONDS = "10"
    IMAGEGEN_WEBHOOK_BACKOFF_CAP_SECONDS  = "3600"
    IMAGEGEN_WEBHOOK_TIMEOUT_SECONDS      = "10"
    IMAGEGEN_WEBHOOK_POLL_SECONDS         = "1"
    GUNICORN_WORKERS                      = tostring(var.gunicorn_workers)
    GUNICORN_THREADS                      = tostring(var.gunicorn_threads)
    AWS_REGION                            = local.region
  }, var.app_settings, local.data_environment)

  # Merged last so app_settings cannot point the code at another store, or at retentions the
  # bucket's lifecycle rules do not follow.
  data_environment = {
    IMAGEGEN_STORAGE_BACKEND          = "aws"
    IMAGEGEN_DYNAMODB_TABLE           = module.data.table_name
    IMAGEGEN_S3_BUCKET                = module.data.bucket_name
    IMAGEGEN_TEMPORARY_RETENTION_DAYS = tostring(module.data.temporary_retention_days)
    IMAGEGEN_SAVED_RETENTION_DAYS     = tostring(module.data.saved_retention_days)
  }

  app_secrets = {
    IMAGEGEN_REDIS_URL              = module.cache.redis_url_secret_arn
    IMAGEGEN_URL_SIGNING_SECRET     = aws_secretsmanager_secret.url_signing.arn
    IMAGEGEN_WEBHOOK_SIGNING_SECRET = aws_secretsmanager_secret.webhook_signing.arn
  }
}

# One customer-managed key encrypts this stack's logs, secrets, image repository and alarms.
resource "aws_kms_key" "this" {
  description         = "${var.name}: logs, secrets, images repository, alarm topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.kms.json
  tags                = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_111: a key policy's Resource "*" means this key only; the account statement delegates its use to IAM, as AWS's default key policy does.
  # checkov:skip=CKV_AWS_356: as above, "*" in a key policy is the key itself.
  # checkov:skip=CKV_AWS_109: as above; without the account statement the key could become unmanageable.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid = "ServicesEncrypt"
    actions = [
      "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
    ]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "logs.${local.region}.amazonaws.com",
        "sns.amazonaws.com",
        "cloudwatch.amazonaws.com",
      ]
    }
  }
}

resource "aws_ecr_repository" "app" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = !var.deletion_protection

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 30 most recent images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

data "aws_secretsmanager_random_password" "url_signing" {
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "url_signing" {
  name_prefix = "${var.name}-url-signing-"
  description = "HMAC key that signs the API's file URLs (IMAGEGEN_URL_SIGNING_SECRET)"
  kms_key_id  = aws_kms_key.this.arn
  tags        = var.tags
  # checkov:skip=CKV2_AWS_57: the signing key is rotated by replacing it; in-flight URLs must stay valid for their 24 h, so no automatic rotation.
}

resource "aws_secretsmanager_secret_version" "url_signing" {
  secret_id     = aws_secretsmanager_secret.url_signing.id
  secret_string = data.aws_secretsmanager_random_password.url_signing.random_password

  lifecycle {
    # The data source draws a new value on every plan; keep the first one.
    ignore_changes = [secret_string]
  }
}

data "aws_secretsmanager_random_password" "webhook_signing" {
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "webhook_signing" {
  name_prefix = "${var.name}-webhook-signing-"
  description = "Master HMAC key every tenant's webhook signing secret is derived from (IMAGEGEN_WEBHOOK_SIGNING_SECRET)"
  kms_key_id  = aws_kms_key.this.arn
  tags        = var.tags
  # checkov:skip=CKV2_AWS_57: rotating the master key changes every tenant's derived webhook secret, so receivers must be told first; it is rotated by replacing it, not automatically.
}

resource "aws_secretsmanager_secret_version" "webhook_signing" {
  secret_id     = aws_secretsmanager_secret.webhook_signing.id
  secret_string = data.aws_secretsmanager_random_password.webhook_signing.random_password

  lifecycle {
    # As for url_signing: keep the first value drawn.
    ignore_changes = [secret_string]
  }
}

module "network" {
  source = "../network"

  name                = var.name
  az_count            = var.az_count
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = local.interface_endpoints
  # Network forensics often look back further than application logs do.
  flow_log_retention_days = 365
  flow_log_kms_key_arn    = aws_kms_key.this.arn
  tags                    = var.tags
}

module "alb" {
  source = "../alb"

  name                       = var.name
  vpc_id                     = module.network.vpc_id
  vpc_cidr_block             = module.network.vpc_cidr_block
  public_subnet_ids          = module.network.public_subnet_ids
  app_port                   = local.app_port
  certificate_arn            = var.certificate_arn
  allow_http_only            = var.allow_http_only
  enable_deletion_protection = var.deletion_protection
  tags                       = var.tags
}

module "cache" {
  source = "../cache"

  name                       = var.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.ecs.api_security_group_id, module.ecs.worker_security_group_id]
  node_type                  = var.cache_node_type
  num_cache_clusters         = var.cache_num_nodes
  snapshot_retention_limit   = var.cache_snapshot_retention_days
  kms_key_arn                = aws_kms_key.this.arn
  log_retention_days         = var.log_retention_days
  tags                       = var.tags
}

module "data" {
  source = "../data"

  name                     = var.name
  deletion_protection      = var.deletion_protection
  versioning_enabled       = var.image_versioning_enabled
  temporary_retention_days = var.temporary_retention_days
  saved_retention_days     = var.saved_retention_days
  cors_allowed_origins     = var.image_cors_allowed_origins
  tags                     = var.tags
}

module "ecs" {
  source = "../ecs"

  name                           = var.name
  image                          = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
  app_port                       = local.app_port
  vpc_id                         = module.network.vpc_id
  vpc_cidr_block                 = module.network.vpc_cidr_block
  private_subnet_ids             = module.network.private_subnet_ids
  alb_security_group_id          = module.alb.security_group_id
  target_group_arn               = module.alb.target_group_arn
  environment                    = local.app_environment
  api_environment                = { IMAGEGEN_ROLE = "api" }
  worker_environment             = { IMAGEGEN_ROLE = "worker" }
  secrets                        = local.app_secrets
  bedrock_models                 = local.bedrock_models
  metrics_namespace              = local.metrics_namespace
  kms_key_arns                   = [aws_kms_key.this.arn]
  s3_bucket_arns                 = [module.data.bucket_arn]
  dynamodb_table_arns            = [module.data.table_arn]
  data_kms_key_arns              = [module.data.kms_key_arn]
  api_cpu                        = var.api_cpu
  api_memory                     = var.api_memory
  worker_cpu                     = var.worker_cpu
  worker_memory                  = var.worker_memory
  api_min_count                  = var.api_min_count
  api_max_count                  = var.api_max_count
  worker_min_count               = var.worker_min_count
  worker_max_count               = var.worker_max_count
  worker_backlog_per_task_target = var.worker_backlog_per_task_target
  log_retention_days             = var.log_retention_days
  kms_key_arn                    = aws_kms_key.this.arn
  tags                           = var.tags
}

module "observability" {
  source = "../observability"

  name                    = var.name
  region                  = local.region
  metrics_namespace       = local.metrics_namespace
  alb_arn_suffix          = module.alb.alb_arn_suffix
  target_group_arn_suffix = module.alb.target_group_arn_suffix
  cluster_name            = module.ecs.cluster_name
  api_service_name        = module.ecs.api_service_name
  worker_service_name     = module.ecs.worker_service_name
  s3_bucket_names         = [module.data.bucket_name]
  alarm_emails            = var.alarm_emails
  create_kms_key          = false
  kms_key_arn             = aws_kms_key.this.arn
  tags                    = var.tags
}

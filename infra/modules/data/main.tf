# The data layer of docs/data-model.md: one DynamoDB table and one private S3 bucket, both
# encrypted with this module's KMS key. The AWS contract tests apply this module to moto, so
# the application's key and index names are checked against these.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  table_name  = "${var.name}-records"
  bucket_name = "${var.name}-images-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"

  # docs/data-model.md, "Indexes". Every index projects ALL attributes, so a page is one Query.
  indexes = {
    by_tenant        = { hash_key = "tenant_pk", range_key = "created_sk" }
    by_tenant_status = { hash_key = "tenant_status_pk", range_key = "created_sk" }
    by_status        = { hash_key = "status_pk", range_key = "created_sk" }
    images_by_saved  = { hash_key = "tenant_status_pk", range_key = "saved_sk" }
    images_by_views  = { hash_key = "tenant_status_pk", range_key = "views_sk" }
    images_by_size   = { hash_key = "tenant_status_pk", range_key = "size_sk" }
    due              = { hash_key = "due_pk", range_key = "due_sk" }
  }

  key_attributes = sort(distinct(concat(
    ["pk", "sk"],
    flatten([for index in values(local.indexes) : [index.hash_key, index.range_key]]),
  )))

  # A transition is only worth having while the object still exists; S3 also rejects an
  # expiration that is not later than every transition.
  saved_transitions = [
    for t in [
      { days = 30, storage_class = "STANDARD_IA" },
      # Instant Retrieval: a presigned GET of an object in Flexible Retrieval fails until it is restored.
      { days = 90, storage_class = "GLACIER_IR" },
    ] : t if var.saved_retention_days == 0 || var.saved_retention_days > t.days
  ]
}

# -----------------------------------------------------------------------------
# KMS
# -----------------------------------------------------------------------------

resource "aws_kms_key" "this" {
  description             = "${var.name}: records table and images bucket"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-data"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_111: a key policy's Resource "*" means this key only; the account statement delegates its use to IAM, as AWS's default key policy does.
  # checkov:skip=CKV_AWS_356: as above, "*" in a key policy is the key itself.
  # checkov:skip=CKV_AWS_109: as above; without the account statement the key could become unmanageable.
  # S3 and DynamoDB use the key on behalf of the caller, so no service statement is needed:
  # the task role gets kms:Decrypt/GenerateDataKey through IAM (infra/modules/ecs).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

# -----------------------------------------------------------------------------
# DynamoDB
# -----------------------------------------------------------------------------

resource "aws_dynamodb_table" "this" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = local.key_attributes

    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.indexes

    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  # The backstop for records no sweeper removed: `ttl` is the expiry plus a day.
  ttl {
    enabled        = true
    attribute_name = "ttl"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# -----------------------------------------------------------------------------
# S3
# -----------------------------------------------------------------------------

resource "aws_s3_bucket" "images" {
  # checkov:skip=CKV_AWS_18: S3 server access logs would need a further log bucket (SSE-S3 only) for best-effort records; audit object access with CloudTrail S3 data events instead.
  # checkov:skip=CKV_AWS_144: images are regenerable user content with a retention of days to months; a second-region copy is not worth its cost.
  # checkov:skip=CKV2_AWS_62: nothing reacts to new objects: the worker writes them and records them in DynamoDB itself.
  # checkov:skip=CKV_AWS_21: versioning is the versioning_enabled input: on by default and in prod (asserted by infra/envs/prod's test); dev suspends it, its images being disposable.
  bucket = local.bucket_name
  # Without deletion protection (dev) the stack must be destroyable while images remain.
  force_destroy = !var.deletion_protection

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "images" {
  bucket = aws_s3_bucket.images.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "images" {
  bucket = aws_s3_bucket.images.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "images" {
  bucket = aws_s3_bucket.images.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    # One data key per bucket instead of a KMS request per object.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "images" {
  bucket = aws_s3_bucket.images.id

  versioning_configuration {
    status = var.versioning_enabled ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "images" {
  bucket = aws_s3_bucket.images.id

  # Rules select by tag: keys start with the tenant, so no prefix separates temporary images
  # from saved ones, and saving an image only retags its objects.
  rule {
    id     = "expire-temporary"
    status = "Enabled"

    filter {
      tag {
        key   = "retention"
        value = "temporary"
      }
    }

    expiration {
      days = var.temporary_retention_days + 1
    }
  }

  rule {
    id     = "saved"
    status = "Enabled"

    filter {
      tag {
        key   = "retention"
        value = "saved"
      }
    }

    dynamic "transition" {
      for_each = local.saved_transitions

      content {
        days          = transition.value.days
        storage_class = transition.value.storage_class
      }
    }

    dynamic "expiration" {
      for_each = var.saved_retention_days > 0 ? [var.saved_retention_days + 1] : []

      content {
        days = expiration.value
      }
    }
  }

  # S3 accepts no multipart-upload or delete-marker action in a rule filtered by tag.
  rule {
    id     = "noncurrent-and-incomplete"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.images]
}

resource "aws_s3_bucket_cors_configuration" "images" {
  count = length(var.cors_allowed_origins) > 0 ? 1 : 0

  bucket = aws_s3_bucket.images.id

  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["Content-Length", "Content-Type", "ETag"]
    max_age_seconds = 3600
  }
}

data "aws_iam_policy_document" "images" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.images.arn, "${aws_s3_bucket.images.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "images" {
  bucket = aws_s3_bucket.images.id
  policy = data.aws_iam_policy_document.images.json

  # S3 answers OperationAborted to concurrent configuration changes on one bucket.
  depends_on = [aws_s3_bucket_public_access_block.images]
}

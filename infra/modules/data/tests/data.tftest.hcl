mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn = "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-test-records"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "imagegen-test-images-123456789012-us-east-1"
      arn = "arn:aws:s3:::imagegen-test-images-123456789012-us-east-1"
    }
  }
}

variables {
  name = "imagegen-test"
  tags = { Project = "imagegen" }
}

run "one_table_with_the_keys_and_indexes_of_the_data_model" {
  command = plan

  assert {
    condition = (
      aws_dynamodb_table.this.name == "imagegen-test-records"
      && aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
      && aws_dynamodb_table.this.hash_key == "pk"
      && aws_dynamodb_table.this.range_key == "sk"
    )
    error_message = "The table must be on-demand with hash key pk and range key sk."
  }

  assert {
    condition = {
      for a in aws_dynamodb_table.this.attribute : a.name => a.type
      } == {
      pk       = "S", sk = "S", tenant_pk = "S", tenant_status_pk = "S", status_pk = "S", created_sk = "S",
      saved_sk = "S", views_sk = "S", size_sk = "S", due_pk = "S", due_sk = "S",
    }
    error_message = "Exactly the key attributes of the table and its indexes must be declared, all strings."
  }

  assert {
    condition = {
      for g in aws_dynamodb_table.this.global_secondary_index : g.name => [g.hash_key, g.range_key, g.projection_type]
      } == {
      by_tenant        = ["tenant_pk", "created_sk", "ALL"]
      by_tenant_status = ["tenant_status_pk", "created_sk", "ALL"]
      by_status        = ["status_pk", "created_sk", "ALL"]
      images_by_saved  = ["tenant_status_pk", "saved_sk", "ALL"]
      images_by_views  = ["tenant_status_pk", "views_sk", "ALL"]
      images_by_size   = ["tenant_status_pk", "size_sk", "ALL"]
      due              = ["due_pk", "due_sk", "ALL"]
    }
    error_message = "The seven indexes must have docs/data-model.md's keys and project ALL attributes."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.ttl).enabled && one(aws_dynamodb_table.this.ttl).attribute_name == "ttl"
    error_message = "TTL must be on, on the ttl attribute."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.point_in_time_recovery).enabled
    error_message = "Point-in-time recovery must be on."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "The table must be protected from deletion by default."
  }

  assert {
    condition     = output.index_names == tolist(["by_status", "by_tenant", "by_tenant_status", "due", "images_by_saved", "images_by_size", "images_by_views"])
    error_message = "index_names must list the seven indexes."
  }

  assert {
    condition     = aws_dynamodb_table.this.tags["Project"] == "imagegen"
    error_message = "tags must reach the table."
  }
}

run "table_and_bucket_are_encrypted_with_the_rotated_key" {
  command = apply

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_alias.this.name == "alias/imagegen-test-data"
    error_message = "The key must rotate and have an alias."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.kms.statement :
      contains(s.actions, "kms:*") && anytrue([
        for p in s.principals : p.type == "AWS" && contains(p.identifiers, "arn:aws:iam::123456789012:root")
      ])
    ])
    error_message = "The key policy must let the account root administer the key."
  }

  assert {
    condition = (
      one(aws_dynamodb_table.this.server_side_encryption).enabled
      && one(aws_dynamodb_table.this.server_side_encryption).kms_key_arn == aws_kms_key.this.arn
    )
    error_message = "The table must be encrypted with the module's KMS key."
  }

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.images.rule :
      one(r.apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
      && one(r.apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.this.arn
      && r.bucket_key_enabled
    ])
    error_message = "The bucket must default to SSE-KMS with the module's key and a bucket key."
  }

  assert {
    condition     = output.kms_key_arn == aws_kms_key.this.arn && output.table_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-test-records"
    error_message = "The outputs must name the key and the table."
  }
}

run "bucket_is_private_owner_enforced_and_tls_only" {
  command = plan

  assert {
    condition     = aws_s3_bucket.images.bucket == "imagegen-test-images-123456789012-us-east-1"
    error_message = "The bucket name must carry the account and region, which makes it globally unique."
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.images.block_public_acls
      && aws_s3_bucket_public_access_block.images.block_public_policy
      && aws_s3_bucket_public_access_block.images.ignore_public_acls
      && aws_s3_bucket_public_access_block.images.restrict_public_buckets
    )
    error_message = "All public access must be blocked."
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.images.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "Object ownership must be BucketOwnerEnforced (no ACLs)."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.images.statement :
      s.effect == "Deny" && contains(s.actions, "s3:*") && anytrue([
        for c in s.condition : c.test == "Bool" && c.variable == "aws:SecureTransport" && length(c.values) == 1 && contains(c.values, "false")
      ])
    ])
    error_message = "The bucket policy must deny every request not made over TLS."
  }

  assert {
    condition     = aws_s3_bucket_policy.images.policy == data.aws_iam_policy_document.images.json
    error_message = "The TLS-only document must be the bucket's policy."
  }

  assert {
    condition     = !aws_s3_bucket.images.force_destroy
    error_message = "A protected bucket must not be destroyed with its images."
  }
}

run "lifecycle_rules_select_by_retention_tag" {
  command = plan

  assert {
    condition = {
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : r.id => one(one(r.filter).tag)
      if length(one(r.filter).tag) > 0
      } == {
      expire-temporary = { key = "retention", value = "temporary" }
      saved            = { key = "retention", value = "saved" }
    }
    error_message = "The temporary and saved rules must select objects by their retention tag."
  }

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : r.status == "Enabled"
    ])
    error_message = "Every lifecycle rule must be enabled."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : one(r.expiration).days if r.id == "expire-temporary"
    ]) == 8
    error_message = "Temporary objects must expire a day after the 7-day temporary retention."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : one(r.expiration).days if r.id == "saved"
    ]) == 91
    error_message = "Saved objects must expire a day after the 90-day saved retention."
  }

  # With 90 days' retention an object never reaches the 90-day Glacier transition.
  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : [for t in r.transition : [t.days, t.storage_class]] if r.id == "saved"
    ]) == [[30, "STANDARD_IA"]]
    error_message = "Saved objects kept 90 days must move to Standard-IA at 30 days and no further."
  }

  assert {
    condition = anytrue([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule :
      one(r.noncurrent_version_expiration).noncurrent_days == 30
      && one(r.abort_incomplete_multipart_upload).days_after_initiation == 1
      if length(r.noncurrent_version_expiration) > 0
    ])
    error_message = "Noncurrent versions must expire after noncurrent_version_days and incomplete uploads after a day."
  }

  assert {
    condition     = output.temporary_retention_days == 7 && output.saved_retention_days == 90
    error_message = "The retention outputs must be what the lifecycle rules follow."
  }
}

run "saved_images_kept_a_year_reach_glacier_instant_retrieval" {
  command = plan

  variables {
    temporary_retention_days = 3
    saved_retention_days     = 365
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : [for t in r.transition : [t.days, t.storage_class]] if r.id == "saved"
    ]) == [[30, "STANDARD_IA"], [90, "GLACIER_IR"]]
    error_message = "Saved objects must move to Standard-IA at 30 days and Glacier Instant Retrieval at 90."
  }

  assert {
    condition = {
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : r.id => one(r.expiration).days if r.id != "noncurrent-and-incomplete"
    } == { expire-temporary = 4, saved = 366 }
    error_message = "Each tagged rule must expire objects a day after its retention."
  }

  assert {
    condition     = output.temporary_retention_days == 3 && output.saved_retention_days == 365
    error_message = "The retention outputs must follow the variables."
  }
}

run "saved_images_kept_forever_never_expire" {
  command = plan

  variables {
    saved_retention_days = 0
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : length(r.expiration) if r.id == "saved"
    ]) == 0
    error_message = "With saved_retention_days = 0 saved objects must not expire."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : [for t in r.transition : t.storage_class] if r.id == "saved"
    ]) == ["STANDARD_IA", "GLACIER_IR"]
    error_message = "Saved objects kept forever must still move to the cheaper classes."
  }
}

run "saved_images_kept_a_month_are_not_transitioned" {
  command = plan

  variables {
    saved_retention_days = 30
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : length(r.transition) if r.id == "saved"
    ]) == 0
    error_message = "An object that expires at 31 days must not be moved to Standard-IA (30-day minimum charge) first."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.images.rule : one(r.expiration).days if r.id == "saved"
    ]) == 31
    error_message = "Saved objects must expire a day after the 30-day retention."
  }
}

run "versioning_is_enabled_by_default" {
  command = plan

  assert {
    condition     = one(aws_s3_bucket_versioning.images.versioning_configuration).status == "Enabled"
    error_message = "Versioning must be on by default."
  }
}

run "dev_suspends_versioning_and_is_destroyable" {
  command = plan

  variables {
    versioning_enabled  = false
    deletion_protection = false
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.images.versioning_configuration).status == "Suspended"
    error_message = "versioning_enabled = false must suspend versioning."
  }

  assert {
    condition     = !aws_dynamodb_table.this.deletion_protection_enabled && aws_s3_bucket.images.force_destroy
    error_message = "Without deletion protection the table and the bucket must be removable."
  }
}

run "no_cors_configuration_without_origins" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_cors_configuration.images) == 0 && !output.settings.cors_enabled
    error_message = "No CORS configuration may exist when cors_allowed_origins is empty."
  }
}

run "cors_allows_only_reads_from_the_given_origins" {
  command = plan

  variables {
    cors_allowed_origins = ["https://app.example.com"]
  }

  assert {
    condition = (
      length(aws_s3_bucket_cors_configuration.images) == 1
      && one(aws_s3_bucket_cors_configuration.images[0].cors_rule).allowed_origins == toset(["https://app.example.com"])
      && one(aws_s3_bucket_cors_configuration.images[0].cors_rule).allowed_methods == toset(["GET", "HEAD"])
    )
    error_message = "CORS must allow GET and HEAD from the given origins only."
  }
}

run "a_temporary_retention_of_zero_is_rejected" {
  command = plan

  variables {
    temporary_retention_days = 0
  }

  expect_failures = [var.temporary_retention_days]
}

run "a_negative_saved_retention_is_rejected" {
  command = plan

  variables {
    saved_retention_days = -1
  }

  expect_failures = [var.saved_retention_days]
}

run "an_origin_with_a_path_is_rejected" {
  command = plan

  variables {
    cors_allowed_origins = ["https://app.example.com/images"]
  }

  expect_failures = [var.cors_allowed_origins]
}

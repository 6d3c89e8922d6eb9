mock_provider "aws" {
  source = "../../mocks/aws"
}

# dev is small and cheap, may serve HTTP without a certificate, and can be torn down.
run "dev_is_small_and_disposable" {
  command = apply

  assert {
    condition     = module.stack.cache_settings.num_cache_clusters == 1 && !module.stack.cache_settings.multi_az_enabled
    error_message = "dev runs one Redis node without failover."
  }

  assert {
    condition = (
      module.stack.cache_settings.transit_encryption_enabled
      && module.stack.cache_settings.auth_token_enabled
      && module.stack.cache_settings.maxmemory_policy == "noeviction"
    )
    error_message = "Even dev's Redis uses TLS, AUTH and noeviction."
  }

  assert {
    condition     = !module.stack.alb_settings.https_enabled && startswith(output.api_url, "http://")
    error_message = "Without a certificate dev serves HTTP."
  }

  assert {
    condition     = !module.stack.alb_settings.deletion_protection_enabled
    error_message = "dev must be removable by make destroy."
  }

  assert {
    condition     = module.stack.app_environment.IMAGEGEN_ENV == "development"
    error_message = "Over plain HTTP the application cannot run in production mode."
  }

  assert {
    condition = (
      module.stack.data_settings.deletion_protection_enabled == false
      && module.stack.data_settings.versioning_status == "Suspended"
      && module.stack.data_settings.point_in_time_recovery
    )
    error_message = "dev's table must be removable and its bucket unversioned; point-in-time recovery stays on."
  }

  assert {
    condition = (
      module.stack.data_settings.temporary_retention_days == 7 && module.stack.data_settings.saved_retention_days == 30
      && module.stack.app_environment.IMAGEGEN_TEMPORARY_RETENTION_DAYS == "7"
      && module.stack.app_environment.IMAGEGEN_SAVED_RETENTION_DAYS == "30"
    )
    error_message = "dev keeps saved images 30 days, and the application must be told the bucket's retentions."
  }

  assert {
    condition = (
      module.stack.app_environment.IMAGEGEN_STORAGE_BACKEND == "aws"
      && module.stack.app_environment.IMAGEGEN_DYNAMODB_TABLE == output.table_name
      && module.stack.app_environment.IMAGEGEN_S3_BUCKET == output.bucket_name
      && output.table_name == "imagegen-dev-records"
      && output.bucket_name == "imagegen-dev-images-123456789012-us-east-1"
    )
    error_message = "dev's tasks must use its own table and bucket."
  }
}

run "dev_with_a_certificate_serves_https" {
  command = apply

  variables {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abcdef01-2345-6789-abcd-ef0123456789"
  }

  assert {
    condition     = module.stack.alb_settings.https_enabled && startswith(output.api_url, "https://")
    error_message = "Given a certificate, dev serves HTTPS too."
  }
}

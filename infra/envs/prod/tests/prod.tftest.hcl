# What prod must be, checked offline with a mocked AWS provider: highly available Redis with
# TLS, AUTH and noeviction; HTTPS with deletion protection; a task role allowing exactly what
# the code calls; workers scaling on backlog; every setting in both task definitions, with
# secrets only from Secrets Manager.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  image_tag       = "0123456789ab"
  certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abcdef01-2345-6789-abcd-ef0123456789"
  public_base_url = "https://images.example.com"
}

run "prod_is_highly_available_and_protected" {
  command = apply

  assert {
    condition = (
      module.stack.cache_settings.multi_az_enabled
      && module.stack.cache_settings.automatic_failover_enabled
      && module.stack.cache_settings.num_cache_clusters >= 2
    )
    error_message = "prod Redis must be a Multi-AZ replication group with automatic failover."
  }

  assert {
    condition = (
      module.stack.cache_settings.transit_encryption_enabled
      && module.stack.cache_settings.at_rest_encryption_enabled
      && module.stack.cache_settings.auth_token_enabled
    )
    error_message = "prod Redis must use TLS, encryption at rest and an AUTH token."
  }

  assert {
    condition     = module.stack.cache_settings.maxmemory_policy == "noeviction"
    error_message = "Redis must never evict: an evicted queue key is a lost job."
  }

  assert {
    condition     = module.stack.alb_settings.deletion_protection_enabled && module.stack.alb_settings.https_enabled
    error_message = "prod's load balancer must serve HTTPS and be protected from deletion."
  }

  assert {
    condition     = startswith(output.api_url, "https://")
    error_message = "prod's API URL must be https."
  }
}

run "task_role_allows_exactly_what_the_code_calls" {
  command = apply

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.stack.task_role_policy_json).Statement : s.Action
      ])) == toset([
      "bedrock:InvokeModel", "cloudwatch:PutMetricData",
      "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject",
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
      "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
      "dynamodb:TransactWriteItems", "dynamodb:TransactGetItems",
      "kms:Decrypt", "kms:GenerateDataKey",
    ])
    error_message = "The task role may only invoke the models, put metrics, use the images' objects and records' items, and their key."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.stack.task_role_policy_json).Statement : s.Resource if contains(flatten([s.Action]), "dynamodb:Query")
    ])) == toset(["arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-test-records", "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-test-records/index/*"])
    error_message = "Item access must be limited to the records table and its indexes."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(module.stack.task_role_policy_json).Statement : s.Resource if contains(flatten([s.Action]), "bedrock:InvokeModel")
      ])) == toset(concat(
      [
        for id in ["amazon.nova-canvas-v1:0", "amazon.titan-image-generator-v1", "amazon.titan-image-generator-v2:0"] :
        "arn:aws:bedrock:us-east-1::foundation-model/${id}"
      ],
      [
        for id in [
          "stability.stable-diffusion-xl-v1", "stability.sd3-5-large-v1:0",
          "stability.stable-image-core-v1:1", "stability.stable-image-ultra-v1:1",
        ] : "arn:aws:bedrock:us-west-2::foundation-model/${id}"
      ],
    ))
    error_message = "bedrock:InvokeModel must cover exactly the seven supported models, each in its home region."
  }

  assert {
    condition = (
      module.stack.app_environment.IMAGEGEN_MODEL_REGIONS == join(",", [
        "amazon.nova-canvas-v1:0=us-east-1", "amazon.titan-image-generator-v1=us-east-1",
        "amazon.titan-image-generator-v2:0=us-east-1", "stability.sd3-5-large-v1:0=us-west-2",
        "stability.stable-diffusion-xl-v1=us-west-2", "stability.stable-image-core-v1:1=us-west-2",
        "stability.stable-image-ultra-v1:1=us-west-2",
      ])
      && module.stack.app_environment.IMAGEGEN_INFERENCE_PROFILES == ""
    )
    error_message = "The workers must be told the regions the task role allows, and no profiles by default."
  }
}

run "prod_keeps_its_records_and_images" {
  command = apply

  assert {
    condition = (
      module.stack.data_settings.deletion_protection_enabled
      && module.stack.data_settings.point_in_time_recovery
      && module.stack.data_settings.versioning_status == "Enabled"
    )
    error_message = "prod's table must be deletion-protected with point-in-time recovery, and its bucket versioned."
  }

  assert {
    condition     = module.stack.data_settings.temporary_retention_days == 7 && module.stack.data_settings.saved_retention_days == 365
    error_message = "prod keeps temporary images 7 days and saved images a year."
  }

  assert {
    condition     = output.table_name == "imagegen-prod-records" && output.bucket_name == "imagegen-prod-images-123456789012-us-east-1"
    error_message = "The outputs must name prod's table and bucket."
  }
}

run "workers_scale_on_backlog_per_task" {
  command = apply

  assert {
    condition     = module.stack.worker_scaling_metric_math.e1 == "m1 / m2"
    error_message = "The worker target must be queue depth divided by running tasks."
  }

  assert {
    condition     = module.stack.worker_scaling_metric_math.m1 == "ImageGen/prod/QueueDepth"
    error_message = "The worker scaling metric must be the QueueDepth the worker publishes."
  }
}

run "both_task_definitions_set_every_setting" {
  command = apply

  # Settings with empty values are left out of the containers, as ECS would drop them.
  assert {
    condition = alltrue([
      for definition in [module.stack.api_container_definition, module.stack.worker_container_definition] :
      length(setsubtract(
        [for name, value in module.stack.app_environment : name if value != ""],
        [for pair in jsondecode(definition).environment : pair.name]
      )) == 0
    ])
    error_message = "Every application setting must be in both containers' environment."
  }

  assert {
    condition = alltrue([
      for definition in [module.stack.api_container_definition, module.stack.worker_container_definition] :
      alltrue([
        for pair in jsondecode(definition).environment :
        pair.value == module.stack.app_environment[pair.name] if contains(keys(module.stack.app_environment), pair.name)
      ])
    ])
    error_message = "Both containers must carry the stack's values of the application settings."
  }

  assert {
    condition = length(setsubtract([
      "IMAGEGEN_JOB_LEASE_SECONDS", "IMAGEGEN_JOB_MAX_RECOVERIES", "IMAGEGEN_SWEEP_INTERVAL_SECONDS",
      "IMAGEGEN_REQUEUE_AFTER_SECONDS", "IMAGEGEN_IDEMPOTENCY_TTL_SECONDS", "IMAGEGEN_MAX_BATCH_REQUESTS",
      "IMAGEGEN_WEBHOOK_ALLOWED_HOSTS", "IMAGEGEN_WEBHOOK_MAX_ATTEMPTS", "IMAGEGEN_WEBHOOK_BACKOFF_BASE_SECONDS",
      "IMAGEGEN_WEBHOOK_BACKOFF_CAP_SECONDS", "IMAGEGEN_WEBHOOK_TIMEOUT_SECONDS", "IMAGEGEN_WEBHOOK_POLL_SECONDS",
    ], keys(module.stack.app_environment))) == 0
    error_message = "The job recovery, idempotency, batch and webhook settings must be in the shared environment."
  }

  assert {
    condition     = module.stack.app_environment.IMAGEGEN_WEBHOOK_ALLOWED_HOSTS == ""
    error_message = "In AWS no webhook host may skip the public-address check."
  }

  assert {
    condition = alltrue([
      for definition in [module.stack.api_container_definition, module.stack.worker_container_definition] :
      toset([for pair in jsondecode(definition).secrets : pair.name]) == toset(module.stack.app_secret_names)
    ])
    error_message = "The Redis URL and the URL and webhook signing keys must come from Secrets Manager in both containers."
  }

  assert {
    condition = alltrue([
      for definition in [module.stack.api_container_definition, module.stack.worker_container_definition] :
      startswith(
        one([for pair in jsondecode(definition).secrets : pair.valueFrom if pair.name == "IMAGEGEN_WEBHOOK_SIGNING_SECRET"]),
        "arn:aws:secretsmanager:"
      )
      && !contains([for pair in jsondecode(definition).environment : pair.name], "IMAGEGEN_WEBHOOK_SIGNING_SECRET")
    ])
    error_message = "Both containers must take IMAGEGEN_WEBHOOK_SIGNING_SECRET from Secrets Manager, never from plain environment."
  }

  assert {
    condition = alltrue([
      for definition in [module.stack.api_container_definition, module.stack.worker_container_definition] :
      length(setintersection(
        [for pair in jsondecode(definition).environment : pair.name],
        module.stack.app_secret_names
      )) == 0
    ])
    error_message = "Secrets must never be in plain environment."
  }

  assert {
    condition = (
      tonumber(one([
        for pair in jsondecode(module.stack.worker_container_definition).environment : pair.value
        if pair.name == "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS"
      ])) == jsondecode(module.stack.worker_container_definition).stopTimeout - 15
      && !contains([for pair in jsondecode(module.stack.api_container_definition).environment : pair.name], "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS")
    )
    error_message = "The worker, and only the worker, hands jobs back 15 s before its stopTimeout's SIGKILL."
  }

  assert {
    condition     = module.stack.app_environment.IMAGEGEN_ENV == "production"
    error_message = "prod must run the application in production mode (refuses unsafe settings)."
  }

  assert {
    condition = alltrue([
      for definition in [module.stack.api_container_definition, module.stack.worker_container_definition] :
      alltrue([
        for name, value in {
          IMAGEGEN_STORAGE_BACKEND          = "aws"
          IMAGEGEN_DYNAMODB_TABLE           = "imagegen-prod-records"
          IMAGEGEN_S3_BUCKET                = "imagegen-prod-images-123456789012-us-east-1"
          IMAGEGEN_TEMPORARY_RETENTION_DAYS = "7"
          IMAGEGEN_SAVED_RETENTION_DAYS     = "365"
        } : contains(jsondecode(definition).environment, { name = name, value = value })
      ])
    ])
    error_message = "Both containers must use DynamoDB and S3, with the retentions the bucket's lifecycle rules follow."
  }
}

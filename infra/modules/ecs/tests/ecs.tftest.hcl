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
}

variables {
  name                  = "imagegen"
  image                 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/imagegen:1.0.0"
  vpc_id                = "vpc-0123456789abcdef0"
  vpc_cidr_block        = "10.20.0.0/16"
  private_subnet_ids    = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  alb_security_group_id = "sg-0123456789abcdef0"
  target_group_arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/imagegen-api/0123456789abcdef"
  environment = {
    IMAGEGEN_ENV             = "production"
    IMAGEGEN_PUBLIC_BASE_URL = "https://images.example.com"
  }
  api_environment    = { GUNICORN_THREADS = "32" }
  worker_environment = { IMAGEGEN_WORKER_CONCURRENCY = "64" }
  secrets = {
    IMAGEGEN_REDIS_URL              = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/redis-AbCdEf"
    IMAGEGEN_URL_SIGNING_SECRET     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/app-GhIjKl:signing_key::"
    IMAGEGEN_WEBHOOK_SIGNING_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/webhook-MnOpQr"
  }
  bedrock_models = {
    "amazon.nova-canvas-v1:0"           = { region = "us-east-1" }
    "amazon.titan-image-generator-v2:0" = { region = "us-east-1" }
  }
  metrics_namespace = "ImageGen"
}

run "cluster_has_container_insights_and_fargate" {
  command = plan

  assert {
    condition     = anytrue([for s in aws_ecs_cluster.this.setting : s.name == "containerInsights" && s.value == "enabled"])
    error_message = "Container Insights must be enabled on the cluster."
  }

  assert {
    condition     = toset(aws_ecs_cluster_capacity_providers.this.capacity_providers) == toset(["FARGATE", "FARGATE_SPOT"])
    error_message = "The cluster must offer the Fargate capacity providers."
  }

  assert {
    condition = alltrue([
      for td in aws_ecs_task_definition.this :
      td.requires_compatibilities == toset(["FARGATE"]) && td.network_mode == "awsvpc"
    ])
    error_message = "Both task definitions must be Fargate/awsvpc."
  }

  assert {
    condition     = aws_ecs_task_definition.this["api"].cpu == "512" && aws_ecs_task_definition.this["worker"].memory == "2048"
    error_message = "Task sizes must come from api_cpu/api_memory and worker_cpu/worker_memory."
  }
}

run "task_role_allows_only_bedrock_and_metrics_by_default" {
  command = plan

  assert {
    condition = toset(flatten([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Action
    ])) == toset(["bedrock:InvokeModel", "cloudwatch:PutMetricData"])
    error_message = "Without buckets or tables the task role may only invoke models and put metrics."
  }

  assert {
    condition = toset(one([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Resource if contains(s.Action, "bedrock:InvokeModel")
      ])) == toset([
      "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-canvas-v1:0",
      "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-image-generator-v2:0",
    ])
    error_message = "bedrock:InvokeModel must be limited to exactly the given foundation models."
  }

  assert {
    condition = one([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Condition.StringEquals["cloudwatch:namespace"]
      if contains(s.Action, "cloudwatch:PutMetricData")
    ]) == "ImageGen"
    error_message = "cloudwatch:PutMetricData must be conditioned on the metrics namespace."
  }

  assert {
    condition     = aws_iam_role_policy.task.policy == output.task_role_policy_json
    error_message = "The output must be the policy actually attached to the task role."
  }
}

run "models_in_other_regions_and_through_profiles_are_allowed_exactly_there" {
  command = plan

  variables {
    bedrock_models = {
      "amazon.nova-canvas-v1:0"           = { region = "us-east-1" }
      "stability.stable-image-ultra-v1:1" = { region = "us-west-2" }
      "stability.sd3-5-large-v1:0" = {
        region               = "us-east-1"
        inference_profile_id = "us.stability.sd3-5-large-v1:0"
        profile_regions      = ["us-east-1", "us-west-2"]
      }
    }
  }

  assert {
    condition = toset(one([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Resource if contains(s.Action, "bedrock:InvokeModel")
      ])) == toset([
      "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-canvas-v1:0",
      "arn:aws:bedrock:us-west-2::foundation-model/stability.stable-image-ultra-v1:1",
      "arn:aws:bedrock:us-east-1::foundation-model/stability.sd3-5-large-v1:0",
      "arn:aws:bedrock:us-west-2::foundation-model/stability.sd3-5-large-v1:0",
      "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.stability.sd3-5-large-v1:0",
    ])
    error_message = "Each model must be allowed in its own region, or through its profile (invoked in its region) and in each region the profile routes to, and nowhere else."
  }
}

run "a_profile_without_its_regions_is_refused" {
  command = plan

  variables {
    bedrock_models = {
      "stability.sd3-5-large-v1:0" = { region = "us-west-2", inference_profile_id = "us.stability.sd3-5-large-v1:0" }
    }
  }

  expect_failures = [var.bedrock_models]
}

run "task_and_execution_roles_are_separate" {
  command = apply

  # The mock provider's random strings are not ARNs, which the task definition rejects.
  override_resource {
    target = aws_iam_role.task
    values = { arn = "arn:aws:iam::123456789012:role/imagegen-task" }
  }

  override_resource {
    target = aws_iam_role.execution
    values = { arn = "arn:aws:iam::123456789012:role/imagegen-task-execution" }
  }

  assert {
    condition = alltrue([
      for td in aws_ecs_task_definition.this :
      td.task_role_arn == output.task_role_arn && td.execution_role_arn == output.task_execution_role_arn
    ]) && output.task_role_arn != output.task_execution_role_arn
    error_message = "Both task definitions must use the task role for the code and a separate execution role for ECS."
  }
}

run "task_role_grows_by_exactly_the_store_actions" {
  command = plan

  variables {
    s3_bucket_arns      = ["arn:aws:s3:::imagegen-images"]
    dynamodb_table_arns = ["arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-records"]
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Action
      ])) == toset([
      "bedrock:InvokeModel",
      "cloudwatch:PutMetricData",
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:PutObjectTagging",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:TransactWriteItems",
      "dynamodb:TransactGetItems",
    ])
    error_message = "Buckets and tables must add exactly the S3 object and DynamoDB item actions."
  }

  assert {
    condition = toset(one([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Resource if contains(s.Action, "s3:GetObject")
    ])) == toset(["arn:aws:s3:::imagegen-images/*"])
    error_message = "S3 actions must apply to the buckets' objects only."
  }

  assert {
    condition = toset(one([
      for s in jsondecode(output.task_role_policy_json).Statement : s.Resource if contains(s.Action, "dynamodb:Query")
      ])) == toset([
      "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-records",
      "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-records/index/*",
    ])
    error_message = "DynamoDB actions must apply to the tables and their indexes only."
  }
}

run "task_role_uses_the_data_keys_only_through_s3_and_dynamodb" {
  command = plan

  variables {
    s3_bucket_arns      = ["arn:aws:s3:::imagegen-images"]
    dynamodb_table_arns = ["arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-records"]
    data_kms_key_arns   = ["arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"]
  }

  assert {
    condition = one([
      for s in jsondecode(output.task_role_policy_json).Statement : s if s.Sid == "DataKeys"
      ]) == {
      Sid      = "DataKeys"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = ["arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"]
      Condition = {
        StringEquals = { "kms:ViaService" = ["s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"] }
      }
    }
    error_message = "The task role must decrypt and generate data keys with the data keys, through S3 and DynamoDB only."
  }

  assert {
    condition = !contains(flatten([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource
    ]), "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000")
    error_message = "The data keys are the code's, not the execution role's."
  }
}

run "task_role_without_data_keys_has_no_kms" {
  command = plan

  assert {
    condition     = !anytrue([for s in jsondecode(output.task_role_policy_json).Statement : anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])])
    error_message = "Without data_kms_key_arns the task role must get no KMS permission."
  }
}

run "execution_role_reads_only_the_given_secrets" {
  command = plan

  variables {
    kms_key_arns = ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"]
  }

  assert {
    condition = toset(one([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "ReadSecrets"
      ])) == toset([
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/redis-AbCdEf",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/app-GhIjKl",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/webhook-MnOpQr",
    ])
    error_message = "secretsmanager:GetSecretValue must cover exactly the given secrets (without JSON-key suffixes)."
  }

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "EcrPull"
    ]) == ["arn:aws:ecr:us-east-1:123456789012:repository/imagegen"]
    error_message = "Image pulls must be limited to the image's ECR repository."
  }

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Action if s.Sid == "DecryptSecrets"
    ]) == ["kms:Decrypt"]
    error_message = "kms:Decrypt must be granted on the given keys."
  }

  assert {
    condition = !contains(flatten([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Action
    ]), "bedrock:InvokeModel")
    error_message = "The execution role must not carry application permissions."
  }
}

run "execution_role_without_kms_keys_has_no_decrypt" {
  command = plan

  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Sid], "DecryptSecrets")
    error_message = "Without kms_key_arns the execution role must not get kms:Decrypt."
  }
}

run "containers_are_hardened_and_configured" {
  command = plan

  variables {
    worker_stop_timeout_seconds = 90
  }

  assert {
    condition = alltrue([
      for c in [jsondecode(output.api_container_definition), jsondecode(output.worker_container_definition)] :
      c.readonlyRootFilesystem == true
      && contains([for m in c.mountPoints : m.containerPath if m.readOnly == false], "/tmp")
      && c.user == "10001"
    ])
    error_message = "Both containers need a read-only root filesystem, a writable /tmp and the non-root user."
  }

  assert {
    condition = alltrue([
      for c in [jsondecode(output.api_container_definition), jsondecode(output.worker_container_definition)] :
      length(setsubtract(keys(var.environment), [for e in c.environment : e.name])) == 0
      && toset([for s in c.secrets : s.name]) == toset(keys(var.secrets))
      && length(setintersection([for e in c.environment : e.name], keys(var.secrets))) == 0
    ])
    error_message = "Every environment key must be in environment and every secret in secrets, never in environment."
  }

  assert {
    condition = alltrue([
      for c in [jsondecode(output.api_container_definition), jsondecode(output.worker_container_definition)] :
      one([for s in c.secrets : s.valueFrom if s.name == "IMAGEGEN_REDIS_URL"]) == var.secrets["IMAGEGEN_REDIS_URL"]
    ])
    error_message = "Secrets must reference the Secrets Manager ARN."
  }

  assert {
    condition     = jsondecode(output.worker_container_definition).stopTimeout == 90
    error_message = "The worker stopTimeout must be worker_stop_timeout_seconds."
  }

  assert {
    condition = (
      tonumber(one([
        for e in jsondecode(output.worker_container_definition).environment : e.value if e.name == "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS"
      ])) == jsondecode(output.worker_container_definition).stopTimeout - 15
    )
    error_message = "The worker's IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS must be 15 s less than its stopTimeout, so jobs are handed back before SIGKILL."
  }

  assert {
    condition     = !contains([for e in jsondecode(output.api_container_definition).environment : e.name], "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS")
    error_message = "The shutdown grace is a worker setting only."
  }

  assert {
    condition     = jsondecode(output.api_container_definition).stopTimeout == 30
    error_message = "The API stopTimeout must be 30 seconds."
  }

  assert {
    condition = (
      jsondecode(output.api_container_definition).command == ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:app"]
      && jsondecode(output.worker_container_definition).command == ["python", "-m", "worker"]
    )
    error_message = "The roles must run gunicorn and python -m worker."
  }

  assert {
    condition = (
      one([for e in jsondecode(output.api_container_definition).environment : e.value if e.name == "IMAGEGEN_BIND"]) == "0.0.0.0:8000"
      && one([for e in jsondecode(output.api_container_definition).environment : e.value if e.name == "GUNICORN_THREADS"]) == "32"
      && one([for e in jsondecode(output.worker_container_definition).environment : e.value if e.name == "IMAGEGEN_WORKER_CONCURRENCY"]) == "64"
      && one([for e in jsondecode(output.worker_container_definition).environment : e.value if e.name == "IMAGEGEN_METRICS_NAMESPACE"]) == "ImageGen"
    )
    error_message = "Role environments must merge over the common one, with the bind address and metrics namespace set."
  }

  assert {
    condition     = jsondecode(output.api_container_definition).portMappings[0].containerPort == 8000 && !can(jsondecode(output.worker_container_definition).portMappings)
    error_message = "Only the API container exposes app_port."
  }

  assert {
    condition     = strcontains(join(" ", jsondecode(output.api_container_definition).healthCheck.command), "http://127.0.0.1:8000/healthz")
    error_message = "The API health check must request /healthz on app_port."
  }

  assert {
    condition = (
      jsondecode(output.api_container_definition).logConfiguration.logDriver == "awslogs"
      && jsondecode(output.api_container_definition).logConfiguration.options["awslogs-group"] == output.api_log_group_name
      && jsondecode(output.worker_container_definition).logConfiguration.options["awslogs-group"] == output.worker_log_group_name
    )
    error_message = "Each role must log to its own log group."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this["worker"].container_definitions)[0] == jsondecode(output.worker_container_definition)
    error_message = "The output must be the container definition actually registered."
  }
}

run "worker_shutdown_grace_follows_the_default_stop_timeout" {
  command = plan

  assert {
    condition = (
      jsondecode(output.worker_container_definition).stopTimeout == 120
      && one([for e in jsondecode(output.worker_container_definition).environment : e.value if e.name == "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS"]) == "105"
    )
    error_message = "By default the worker gets 120 s to stop and hands jobs back after 105 s."
  }
}

run "empty_settings_are_left_out_of_the_containers" {
  command = plan

  variables {
    environment = {
      IMAGEGEN_ENV                   = "production"
      IMAGEGEN_WEBHOOK_ALLOWED_HOSTS = ""
    }
  }

  assert {
    condition = alltrue([
      for c in [jsondecode(output.api_container_definition), jsondecode(output.worker_container_definition)] :
      contains([for e in c.environment : e.name], "IMAGEGEN_ENV")
      && !contains([for e in c.environment : e.name], "IMAGEGEN_WEBHOOK_ALLOWED_HOSTS")
    ])
    error_message = "Variables with empty values must be left out (ECS drops them; keeping them means a diff on every plan)."
  }
}

run "custom_port_reaches_bind_health_check_and_security_group" {
  command = plan

  variables {
    app_port = 9000
  }

  assert {
    condition     = one([for e in jsondecode(output.api_container_definition).environment : e.value if e.name == "IMAGEGEN_BIND"]) == "0.0.0.0:9000"
    error_message = "IMAGEGEN_BIND must follow app_port."
  }

  assert {
    condition     = strcontains(join(" ", jsondecode(output.api_container_definition).healthCheck.command), "http://127.0.0.1:9000/healthz")
    error_message = "The health check must follow app_port."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.api_from_alb.from_port == 9000 && aws_vpc_security_group_ingress_rule.api_from_alb.to_port == 9000
    error_message = "The API security group must open app_port."
  }

  assert {
    condition     = one(aws_ecs_service.api.load_balancer).container_port == 9000
    error_message = "The target group must be registered on app_port."
  }
}

run "services_are_private_and_roll_back" {
  command = plan

  assert {
    condition     = one(aws_ecs_service.api.network_configuration).assign_public_ip == false && one(aws_ecs_service.worker.network_configuration).assign_public_ip == false
    error_message = "No task may get a public IP."
  }

  assert {
    condition = alltrue([
      for s in [aws_ecs_service.api, aws_ecs_service.worker] :
      one(s.deployment_circuit_breaker).enable && one(s.deployment_circuit_breaker).rollback
      && s.enable_execute_command == false && s.propagate_tags == "SERVICE" && s.wait_for_steady_state == false
    ])
    error_message = "Services need the circuit breaker with rollback, no ECS Exec, and tag propagation."
  }

  assert {
    condition     = one(aws_ecs_service.api.load_balancer).target_group_arn == var.target_group_arn && aws_ecs_service.api.health_check_grace_period_seconds == 60
    error_message = "The API service must register with the target group after a 60 s grace period."
  }

  assert {
    condition     = length(aws_ecs_service.worker.load_balancer) == 0
    error_message = "The worker service must not be behind the load balancer."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.api_from_alb.referenced_security_group_id == var.alb_security_group_id
    error_message = "Only the load balancer may reach the API."
  }

  assert {
    condition = alltrue([
      for role in ["api", "worker"] :
      aws_vpc_security_group_egress_rule.https[role].from_port == 443 && aws_vpc_security_group_egress_rule.https[role].to_port == 443
      && aws_vpc_security_group_egress_rule.redis[role].from_port == 6379 && aws_vpc_security_group_egress_rule.redis[role].cidr_ipv4 == "10.20.0.0/16"
    ])
    error_message = "Both roles may only leave on 443, and on 6379 into the VPC."
  }
}

run "worker_scales_on_backlog_per_task" {
  command = plan

  assert {
    condition     = output.worker_scaling_policy_name == "imagegen-worker-backlog-per-task"
    error_message = "The worker scaling policy name must be output."
  }

  assert {
    condition = output.worker_scaling_metric_math == {
      e1 = "m1 / m2"
      m1 = "ImageGen/QueueDepth"
      m2 = "ECS/ContainerInsights/RunningTaskCount"
    }
    error_message = "The worker policy must divide QueueDepth by RunningTaskCount."
  }

  assert {
    condition = toset([
      for m in one(one(aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration).customized_metric_specification).metrics :
      m.id if m.return_data
    ]) == toset(["e1"])
    error_message = "Only the backlog-per-task expression may be returned."
  }

  assert {
    condition = one(flatten([
      for m in one(one(aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration).customized_metric_specification).metrics : [
        for d in one(one(m.metric_stat).metric).dimensions : d.value if d.name == "ServiceName"
      ] if m.id == "m2"
    ])) == "imagegen-worker"
    error_message = "RunningTaskCount must be the worker service's."
  }

  assert {
    condition = alltrue([
      for m in one(one(aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration).customized_metric_specification).metrics :
      length(one(one(m.metric_stat).metric).dimensions) == 0 if m.id == "m1"
    ])
    error_message = "QueueDepth is published without dimensions."
  }

  assert {
    condition = (
      one(aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration).target_value == 96
      && one(aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration).scale_in_cooldown > one(aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration).scale_out_cooldown
    )
    error_message = "The worker target must be the backlog per task, scaling in more slowly than out."
  }

  assert {
    condition     = aws_appautoscaling_target.worker.min_capacity == 1 && aws_appautoscaling_target.worker.max_capacity == 4
    error_message = "Worker bounds must come from worker_min_count/worker_max_count."
  }

  assert {
    condition = (
      one(one(aws_appautoscaling_policy.api_cpu.target_tracking_scaling_policy_configuration).predefined_metric_specification).predefined_metric_type == "ECSServiceAverageCPUUtilization"
      && one(aws_appautoscaling_policy.api_cpu.target_tracking_scaling_policy_configuration).target_value == 60
      && aws_appautoscaling_target.api.min_capacity == 2
      && aws_appautoscaling_target.api.max_capacity == 6
    )
    error_message = "The API must track average CPU between api_min_count and api_max_count."
  }
}

run "rejects_invalid_fargate_size" {
  command = plan

  variables {
    api_cpu    = 256
    api_memory = 4096
  }

  expect_failures = [var.api_memory]
}

run "rejects_secret_in_plain_environment" {
  command = plan

  variables {
    environment = { IMAGEGEN_URL_SIGNING_SECRET = "not-so-secret" }
  }

  expect_failures = [var.environment]
}

run "rejects_webhook_secret_in_plain_environment" {
  command = plan

  # Not also in `secrets`: the credential list alone must refuse it.
  variables {
    environment = { IMAGEGEN_WEBHOOK_SIGNING_SECRET = "not-so-secret" }
    secrets     = { IMAGEGEN_REDIS_URL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen/redis-AbCdEf" }
  }

  expect_failures = [var.environment]
}

run "rejects_shutdown_grace_set_by_the_caller" {
  command = plan

  variables {
    worker_environment = { IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS = "200" }
  }

  expect_failures = [var.worker_environment]
}

run "rejects_stop_timeout_too_short_for_a_shutdown_grace" {
  command = plan

  variables {
    worker_stop_timeout_seconds = 20
  }

  expect_failures = [var.worker_stop_timeout_seconds]
}

run "rejects_stop_timeout_over_fargate_limit" {
  command = plan

  variables {
    worker_stop_timeout_seconds = 300
  }

  expect_failures = [var.worker_stop_timeout_seconds]
}

run "rejects_root_user" {
  command = plan

  variables {
    container_user = "0"
  }

  expect_failures = [var.container_user]
}

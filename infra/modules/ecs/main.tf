data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  # Task CPU units => the memory sizes (MiB) Fargate accepts with them.
  fargate_memory_by_cpu = {
    "256"   = [512, 1024, 2048]
    "512"   = range(1024, 4097, 1024)
    "1024"  = range(2048, 8193, 1024)
    "2048"  = range(4096, 16385, 1024)
    "4096"  = range(8192, 30721, 1024)
    "8192"  = range(16384, 61441, 4096)
    "16384" = range(32768, 122881, 8192)
  }

  # Variables that carry credentials: they may only arrive through `secrets`.
  secret_only_variables = ["IMAGEGEN_REDIS_URL", "IMAGEGEN_URL_SIGNING_SECRET", "IMAGEGEN_WEBHOOK_SIGNING_SECRET", "IMAGEGEN_BOOTSTRAP_API_KEY"]

  # On SIGTERM the worker lets running jobs finish for this long, then hands them back to the
  # queue; it must do so before ECS sends SIGKILL at stopTimeout, with time to spare for the
  # hand-back itself. Derived here, beside stopTimeout, so the two cannot disagree.
  worker_shutdown_grace_seconds = var.worker_stop_timeout_seconds - 15

  roles = toset(["api", "worker"])

  # ---------------------------------------------------------------------------
  # Containers
  # ---------------------------------------------------------------------------

  # Variables the module owns win over the caller's maps: the bind address must match the
  # port the target group and security group use, and the namespace must match the one the
  # task role may write to (the worker publishes no metrics without it), and the worker's
  # shutdown grace must follow its stopTimeout.
  # Variables with empty values are left out: ECS drops them when it registers a task
  # definition, so a container never sees them, and keeping them would show a change, and
  # register a new revision, on every apply (hashicorp/terraform-provider-aws#39533).
  api_env = { for k, v in merge(var.environment, var.api_environment, {
    IMAGEGEN_BIND = "0.0.0.0:${var.app_port}"
  }) : k => v if v != "" }
  worker_env = { for k, v in merge(var.environment, var.worker_environment, {
    IMAGEGEN_METRICS_NAMESPACE             = var.metrics_namespace
    IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS = tostring(local.worker_shutdown_grace_seconds)
  }) : k => v if v != "" }

  container_common = {
    image     = var.image
    essential = true
    user      = var.container_user
    # Nothing in the image can be changed at run time; /tmp (gunicorn's heartbeat files,
    # Python's tempfile) is the only writable path, on the task's ephemeral storage.
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    # ECS resolves these at start through the execution role; they never appear in the
    # task definition as plain values.
    secrets = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]
  }

  api_container = merge(local.container_common, {
    name        = "api"
    command     = ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:app"]
    environment = [for k in sort(keys(local.api_env)) : { name = k, value = local.api_env[k] }]
    portMappings = [{
      name          = "http"
      containerPort = var.app_port
      hostPort      = var.app_port
      protocol      = "tcp"
    }]
    # The image has no curl; Python's standard library does the request.
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:${var.app_port}/healthz', timeout=4).status == 200 else 1)"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    # gunicorn's graceful_timeout is 30 s.
    stopTimeout      = 30
    logConfiguration = local.log_configuration["api"]
  })

  worker_container = merge(local.container_common, {
    name        = "worker"
    command     = ["python", "-m", "worker"]
    environment = [for k in sort(keys(local.worker_env)) : { name = k, value = local.worker_env[k] }]
    # Time after SIGTERM for a job to finish or be handed back before SIGKILL; the worker's
    # IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS is 15 s less.
    stopTimeout      = var.worker_stop_timeout_seconds
    logConfiguration = local.log_configuration["worker"]
  })

  log_configuration = {
    for role in local.roles : role => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this[role].name
        awslogs-region        = local.region
        awslogs-stream-prefix = role
      }
    }
  }

  task = {
    api    = { cpu = var.api_cpu, memory = var.api_memory, container = local.api_container }
    worker = { cpu = var.worker_cpu, memory = var.worker_memory, container = local.worker_container }
  }

  # ---------------------------------------------------------------------------
  # IAM
  # ---------------------------------------------------------------------------

  # An ECR image URI names the repository to allow pulls from; an image from elsewhere
  # needs no ECR permission at all.
  ecr_match          = regexall("^([0-9]{12})\\.dkr\\.ecr(?:-fips)?\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)", var.image)
  ecr_repository_arn = length(local.ecr_match) > 0 ? "arn:${local.partition}:ecr:${local.ecr_match[0][1]}:${local.ecr_match[0][0]}:repository/${local.ecr_match[0][2]}" : null

  # IAM needs the secret's own ARN, without the ':json-key:stage:version' suffix ECS accepts.
  secret_arns = distinct([for arn in values(var.secrets) : join(":", slice(split(":", arn), 0, 7))])

  # Statements whose inputs are empty are left out: IAM rejects a statement without resources.
  execution_policy_statements = [
    for s in [
      {
        include = local.ecr_repository_arn != null
        statement = {
          Sid      = "EcrAuthToken"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = "*" # GetAuthorizationToken has no resource-level permissions.
        }
      },
      {
        include = local.ecr_repository_arn != null
        statement = {
          Sid      = "EcrPull"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource = [local.ecr_repository_arn]
        }
      },
      {
        include = true
        statement = {
          Sid      = "WriteLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = [for role in sort(tolist(local.roles)) : "${aws_cloudwatch_log_group.this[role].arn}:log-stream:*"]
        }
      },
      {
        include = length(local.secret_arns) > 0
        statement = {
          Sid      = "ReadSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = local.secret_arns
        }
      },
      {
        include = length(var.kms_key_arns) > 0
        statement = {
          Sid      = "DecryptSecrets"
          Effect   = "Allow"
          Action   = ["kms:Decrypt"]
          Resource = var.kms_key_arns
          # Only for Secrets Manager reading a secret, not for decrypting anything else.
          Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
        }
      },
    ] : s.statement if s.include
  ]

  # PutObjectTagging: objects are written tagged retention=temporary and retagged when an
  # image is saved; the bucket's lifecycle rules select by that tag.
  s3_object_actions = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"]
  dynamodb_item_actions = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:TransactGetItems",
    "dynamodb:TransactWriteItems",
    "dynamodb:UpdateItem",
  ]

  # A model is invoked directly in its region, or through its inference profile, which needs
  # the profile's ARN in the region it is invoked from and the model's in every region the
  # profile routes to (Bedrock user guide, "Prerequisites for inference profiles").
  bedrock_foundation_model_arns = sort(distinct(flatten([
    for id, m in var.bedrock_models : [
      for region in(m.inference_profile_id == null ? [m.region] : m.profile_regions) :
      "arn:${local.partition}:bedrock:${region}::foundation-model/${id}"
    ]
  ])))
  bedrock_inference_profile_arns = sort([
    for m in values(var.bedrock_models) :
    "arn:${local.partition}:bedrock:${m.region}:${local.account_id}:inference-profile/${m.inference_profile_id}"
    if m.inference_profile_id != null
  ])

  # Exactly what the application calls: Bedrock InvokeModel, PutMetricData into its own
  # namespace, and item/object access to the stores it is given.
  task_policy_statements = [
    for s in [
      {
        include = true
        statement = {
          Sid      = "InvokeBedrockModels"
          Effect   = "Allow"
          Action   = ["bedrock:InvokeModel"]
          Resource = concat(local.bedrock_foundation_model_arns, local.bedrock_inference_profile_arns)
        }
      },
      {
        include = true
        statement = {
          Sid      = "PutQueueMetrics"
          Effect   = "Allow"
          Action   = ["cloudwatch:PutMetricData"]
          Resource = "*" # PutMetricData has no resource-level permissions; the namespace condition scopes it.
          Condition = {
            StringEquals = { "cloudwatch:namespace" = var.metrics_namespace }
          }
        }
      },
      {
        include = length(var.s3_bucket_arns) > 0
        statement = {
          Sid      = "ImageObjects"
          Effect   = "Allow"
          Action   = local.s3_object_actions
          Resource = [for arn in var.s3_bucket_arns : "${arn}/*"]
        }
      },
      {
        include = length(var.dynamodb_table_arns) > 0
        statement = {
          Sid      = "RecordItems"
          Effect   = "Allow"
          Action   = local.dynamodb_item_actions
          Resource = flatten([for arn in var.dynamodb_table_arns : [arn, "${arn}/index/*"]])
        }
      },
      {
        include = length(var.data_kms_key_arns) > 0
        statement = {
          Sid      = "DataKeys"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = var.data_kms_key_arns
          # Only as S3 or DynamoDB encrypt and decrypt the stores for the code, never directly.
          Condition = {
            StringEquals = { "kms:ViaService" = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"] }
          }
        }
      },
    ] : s.statement if s.include
  ]

  task_role_policy_json = jsonencode({
    Version   = "2012-10-17"
    Statement = local.task_policy_statements
  })
}

# -----------------------------------------------------------------------------
# Cluster
# -----------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.roles

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# -----------------------------------------------------------------------------
# IAM
# -----------------------------------------------------------------------------

# Used by ECS itself (image pull, log delivery, secret injection), never by the code.
resource "aws_iam_role" "execution" {
  name        = "${var.name}-task-execution"
  description = "ECS task execution role of ${var.name}: pulls the image, writes logs, injects secrets."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name = "task-execution"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.execution_policy_statements
  })
}

# Assumed by the application code in both containers.
resource "aws_iam_role" "task" {
  name        = "${var.name}-task"
  description = "ECS task role of ${var.name}: what the API and worker code may call."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      # Only ECS tasks of this account may assume it (confused-deputy protection).
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:*" }
      }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "application"
  role   = aws_iam_role.task.id
  policy = local.task_role_policy_json
}

# -----------------------------------------------------------------------------
# Task definitions
# -----------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  for_each = local.task

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([each.value.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # A bind mount without a host path lives on the task's ephemeral storage and goes away
  # with the task: the writable /tmp behind the read-only root filesystem.
  volume {
    name = "tmp"
  }

  tags = var.tags
}

# -----------------------------------------------------------------------------
# Security groups
# -----------------------------------------------------------------------------

resource "aws_security_group" "this" {
  for_each = local.roles

  name_prefix = "${var.name}-${each.key}-"
  description = "ECS ${each.key} tasks of ${var.name}"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  # Services keep a security group attached; a replacement must exist before the old one goes.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.this["api"].id
  description                  = "API port from the load balancer only"
  referenced_security_group_id = var.alb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = local.roles

  security_group_id = aws_security_group.this[each.key].id
  description       = "HTTPS to AWS APIs (Bedrock, ECR, S3, DynamoDB, CloudWatch, Secrets Manager)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "redis" {
  for_each = local.roles

  security_group_id = aws_security_group.this[each.key].id
  description       = "Redis (ElastiCache) inside the VPC"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379

  tags = var.tags
}

# -----------------------------------------------------------------------------
# Services
# -----------------------------------------------------------------------------

resource "aws_ecs_service" "api" {
  name                              = "${var.name}-api"
  cluster                           = aws_ecs_cluster.this.arn
  task_definition                   = aws_ecs_task_definition.this["api"].arn
  desired_count                     = var.api_min_count
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60
  enable_execute_command            = false
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"
  wait_for_steady_state             = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.this["api"].id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "api"
    container_port   = var.app_port
  }

  tags = var.tags

  # Auto scaling owns the running count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  # Tasks must be able to pull, log and read secrets from their first start.
  depends_on = [aws_ecs_cluster_capacity_providers.this, aws_iam_role_policy.execution]
}

resource "aws_ecs_service" "worker" {
  name                    = "${var.name}-worker"
  cluster                 = aws_ecs_cluster.this.arn
  task_definition         = aws_ecs_task_definition.this["worker"].arn
  desired_count           = var.worker_min_count
  platform_version        = "LATEST"
  enable_execute_command  = false
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  wait_for_steady_state   = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.this["worker"].id]
    assign_public_ip = false
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this, aws_iam_role_policy.execution]
}

# -----------------------------------------------------------------------------
# Auto scaling
# -----------------------------------------------------------------------------

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  min_capacity       = var.api_min_count
  max_capacity       = var.api_max_count

  tags = var.tags
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.name}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension
  resource_id        = aws_appautoscaling_target.api.resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.api_cpu_target
    # Add capacity quickly, remove it slowly so a burst does not flap the service.
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  min_capacity       = var.worker_min_count
  max_capacity       = var.worker_max_count

  tags = var.tags
}

# Workers spend their time waiting on Bedrock, so CPU says nothing about load: scale on the
# backlog per task (outstanding jobs / running tasks), AWS's target tracking with metric math.
resource "aws_appautoscaling_policy" "worker_backlog" {
  name               = "${var.name}-worker-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  resource_id        = aws_appautoscaling_target.worker.resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.worker_backlog_per_task_target
    # A task takes a minute or two to start; removing one may interrupt a job (it gets up to
    # worker_stop_timeout_seconds to finish), so scale in far more cautiously than out.
    scale_out_cooldown = 60
    scale_in_cooldown  = 600

    customized_metric_specification {
      metrics {
        id          = "m1"
        label       = "Outstanding jobs (queued + running)"
        return_data = false

        metric_stat {
          # Every worker task publishes the same queue-wide value, so Average is that value.
          stat = "Average"

          metric {
            namespace   = var.metrics_namespace
            metric_name = "QueueDepth"
          }
        }
      }

      metrics {
        id          = "m2"
        label       = "Running worker tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker.name
            }
          }
        }
      }

      metrics {
        id          = "e1"
        label       = "Backlog per task"
        expression  = "m1 / m2"
        return_data = true
      }
    }
  }
}

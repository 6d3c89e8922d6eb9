variable "name" {
  description = "Name prefix for every resource this module creates (cluster, services, roles, log groups, security groups)."
  type        = string

  validation {
    # IAM role names ("<name>-task-execution") are limited to 64 characters.
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,31}$", var.name))
    error_message = "name must start with a letter and contain only letters, digits and hyphens, 32 characters at most."
  }
}

variable "image" {
  description = "Container image both roles run, pinned by tag or digest (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/imagegen:1.4.0). The image must declare VOLUME [\"/tmp\"] so Fargate gives the writable /tmp bind mount the image's ownership and mode instead of a root-owned directory."
  type        = string

  validation {
    condition     = can(regex("^[^\\s]+[:@][^/\\s]+$", var.image))
    error_message = "image must name a tag or a digest (repository:tag or repository@sha256:...)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "app_port" {
  description = "Port the API container listens on (gunicorn binds 0.0.0.0:<app_port>); the target group must forward to it."
  type        = number
  default     = 8000

  validation {
    # The containers run as a non-root user, which cannot bind privileged ports.
    condition     = var.app_port >= 1024 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be an integer between 1024 and 65535 (the container user is not root)."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the services run in."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "vpc_cidr_block" {
  description = "CIDR block of the VPC; the tasks may reach Redis (port 6379) only inside it."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr_block, 0)) && can(regex("^[0-9.]+/[0-9]+$", var.vpc_cidr_block))
    error_message = "vpc_cidr_block must be an IPv4 CIDR block such as 10.0.0.0/16."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (one per Availability Zone) the tasks are placed in; they need a route to the AWS APIs (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) > 0 && alltrue([for id in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "private_subnet_ids must be a non-empty list of subnet IDs (subnet-...)."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer; the only source allowed to reach the API port."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.alb_security_group_id))
    error_message = "alb_security_group_id must be a security group ID (sg-...)."
  }
}

variable "target_group_arn" {
  description = "ARN of the ALB target group (target type ip, port app_port) the API service registers with."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/", var.target_group_arn))
    error_message = "target_group_arn must be an Elastic Load Balancing target group ARN."
  }
}

variable "environment" {
  description = "Plain (non-secret) environment variables for both containers, e.g. IMAGEGEN_ENV and IMAGEGEN_PUBLIC_BASE_URL. Secrets belong in `secrets`."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "environment keys must be valid environment variable names."
  }

  validation {
    condition     = length(setintersection(keys(var.environment), local.secret_only_variables)) == 0
    error_message = "IMAGEGEN_REDIS_URL, IMAGEGEN_URL_SIGNING_SECRET, IMAGEGEN_WEBHOOK_SIGNING_SECRET and IMAGEGEN_BOOTSTRAP_API_KEY carry credentials: pass them in `secrets`, not in `environment`."
  }

  validation {
    condition     = !contains(keys(var.environment), "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS")
    error_message = "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS is set by the module in the worker only, from worker_stop_timeout_seconds: set that instead."
  }

  validation {
    condition     = length(setintersection(keys(var.environment), keys(var.secrets))) == 0
    error_message = "A variable cannot be both in environment and in secrets."
  }
}

variable "api_environment" {
  description = "Environment variables for the API container only, merged over `environment` (e.g. GUNICORN_WORKERS). IMAGEGEN_BIND is set by the module from app_port."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.api_environment) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "api_environment keys must be valid environment variable names."
  }

  validation {
    condition     = length(setintersection(keys(var.api_environment), setunion(local.secret_only_variables, keys(var.secrets)))) == 0
    error_message = "api_environment must not hold credentials or any variable passed in `secrets`."
  }

  validation {
    condition     = !contains(keys(var.api_environment), "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS")
    error_message = "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS is a worker setting, set by the module from worker_stop_timeout_seconds."
  }
}

variable "worker_environment" {
  description = "Environment variables for the worker container only, merged over `environment` (e.g. IMAGEGEN_WORKER_CONCURRENCY). IMAGEGEN_METRICS_NAMESPACE is set by the module from metrics_namespace, IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS from worker_stop_timeout_seconds."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.worker_environment) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "worker_environment keys must be valid environment variable names."
  }

  validation {
    condition     = length(setintersection(keys(var.worker_environment), setunion(local.secret_only_variables, keys(var.secrets)))) == 0
    error_message = "worker_environment must not hold credentials or any variable passed in `secrets`."
  }

  validation {
    condition     = !contains(keys(var.worker_environment), "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS")
    error_message = "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS is set by the module from worker_stop_timeout_seconds (15 s less): set that instead."
  }
}

variable "secrets" {
  description = "Secret environment variables for both containers: variable name => Secrets Manager secret ARN (optionally with ':json-key:version-stage:version-id'). ECS injects them at start; the task execution role may read exactly these secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.secrets) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "secrets keys must be valid environment variable names."
  }

  validation {
    condition     = alltrue([for arn in values(var.secrets) : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^:]+", arn))])
    error_message = "secrets values must be Secrets Manager secret ARNs."
  }
}

variable "bedrock_models" {
  description = "The Bedrock models the worker invokes, by foundation model id (e.g. amazon.nova-canvas-v1:0): the region it calls each in and, for one called through a cross-region inference profile, the profile's id and the regions the profile routes to."
  type = map(object({
    region               = string
    inference_profile_id = optional(string)
    profile_regions      = optional(list(string), [])
  }))

  validation {
    condition     = length(var.bedrock_models) > 0 && alltrue([for id in keys(var.bedrock_models) : can(regex("^[a-z0-9-]+\\.[A-Za-z0-9._:-]+$", id))])
    error_message = "bedrock_models must name at least one foundation model id such as amazon.nova-canvas-v1:0."
  }

  validation {
    condition = alltrue([
      for m in values(var.bedrock_models) : alltrue([for r in concat([m.region], m.profile_regions) : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]{1,2}$", r))])
    ])
    error_message = "Every region in bedrock_models must be a region name such as us-west-2."
  }

  validation {
    # AWS requires the model's ARN in each region the profile routes to; without them every call is denied.
    condition     = alltrue([for m in values(var.bedrock_models) : (m.inference_profile_id == null) == (length(m.profile_regions) == 0)])
    error_message = "A model with an inference_profile_id needs its profile_regions, and only such a model has them."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the worker publishes QueueDepth, OldestJobAgeSeconds, JobsCompleted and JobsFailed to; the only namespace the task role may write."
  type        = string

  validation {
    # Namespaces starting with "AWS/" are reserved for AWS services.
    condition     = can(regex("^[A-Za-z0-9._#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and . _ - / # : and must not start with AWS/."
  }
}

variable "s3_bucket_arns" {
  description = "ARNs of S3 buckets whose objects the tasks may get, put, tag and delete. Empty grants no S3 access."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.s3_bucket_arns : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))])
    error_message = "s3_bucket_arns must be bucket ARNs (arn:aws:s3:::bucket-name), not object ARNs."
  }
}

variable "dynamodb_table_arns" {
  description = "ARNs of DynamoDB tables the tasks may read and write items of (their indexes included). Empty grants no DynamoDB access."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.dynamodb_table_arns : can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", arn))])
    error_message = "dynamodb_table_arns must be DynamoDB table ARNs."
  }
}

variable "kms_key_arns" {
  description = "ARNs of customer managed KMS keys that encrypt the secrets in `secrets`; the task execution role may decrypt with them through Secrets Manager only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", arn))])
    error_message = "kms_key_arns must be KMS key ARNs (arn:aws:kms:region:account:key/...)."
  }
}

variable "data_kms_key_arns" {
  description = "ARNs of customer managed KMS keys encrypting the buckets and tables in s3_bucket_arns and dynamodb_table_arns; the task role may decrypt and generate data keys with them through S3 and DynamoDB only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.data_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", arn))])
    error_message = "data_kms_key_arns must be KMS key ARNs (arn:aws:kms:region:account:key/...)."
  }
}

variable "api_cpu" {
  description = "CPU units of an API task (256, 512, 1024, 2048, 4096, 8192 or 16384)."
  type        = number
  default     = 512

  validation {
    condition     = contains(keys(local.fargate_memory_by_cpu), tostring(var.api_cpu))
    error_message = "api_cpu must be a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "api_memory" {
  description = "Memory (MiB) of an API task; must be a valid Fargate combination with api_cpu."
  type        = number
  default     = 1024

  validation {
    condition     = contains(lookup(local.fargate_memory_by_cpu, tostring(var.api_cpu), []), var.api_memory)
    error_message = "api_memory is not a Fargate memory size for api_cpu (e.g. 256 CPU: 512, 1024 or 2048 MiB; 512 CPU: 1024-4096 MiB in 1024 steps)."
  }
}

variable "worker_cpu" {
  description = "CPU units of a worker task (256, 512, 1024, 2048, 4096, 8192 or 16384)."
  type        = number
  default     = 1024

  validation {
    condition     = contains(keys(local.fargate_memory_by_cpu), tostring(var.worker_cpu))
    error_message = "worker_cpu must be a Fargate CPU value: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "worker_memory" {
  description = "Memory (MiB) of a worker task; must be a valid Fargate combination with worker_cpu. Images are decoded and thumbnailed in memory, so leave headroom per concurrent job."
  type        = number
  default     = 2048

  validation {
    condition     = contains(lookup(local.fargate_memory_by_cpu, tostring(var.worker_cpu), []), var.worker_memory)
    error_message = "worker_memory is not a Fargate memory size for worker_cpu (e.g. 1024 CPU: 2048-8192 MiB in 1024 steps)."
  }
}

variable "api_min_count" {
  description = "Fewest API tasks auto scaling keeps (also the initial desired count)."
  type        = number
  default     = 2

  validation {
    condition     = var.api_min_count >= 1 && floor(var.api_min_count) == var.api_min_count
    error_message = "api_min_count must be a whole number of at least 1."
  }
}

variable "api_max_count" {
  description = "Most API tasks auto scaling may run."
  type        = number
  default     = 6

  validation {
    condition     = var.api_max_count >= var.api_min_count && floor(var.api_max_count) == var.api_max_count
    error_message = "api_max_count must be a whole number no smaller than api_min_count."
  }
}

variable "worker_min_count" {
  description = "Fewest worker tasks auto scaling keeps (also the initial desired count). At least 1: backlog per task divides by the running task count, which is undefined at zero, so the policy could never scale out from zero."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_min_count >= 1 && floor(var.worker_min_count) == var.worker_min_count
    error_message = "worker_min_count must be a whole number of at least 1."
  }
}

variable "worker_max_count" {
  description = "Most worker tasks auto scaling may run. The fleet needs (sum of the model quotas a minute) x (model latency s) / 60 calls in flight, max_count x IMAGEGEN_WORKER_CONCURRENCY at most, and post-processes about 8 photo-sized images a second per vCPU (bench/RESULTS.md); 4 tasks of 64 slots hold 256 calls, about 1,500 calls a minute of quota at 10 s. More only wait for quota: parked jobs are not in the backlog."
  type        = number
  default     = 4

  validation {
    condition     = var.worker_max_count >= var.worker_min_count && floor(var.worker_max_count) == var.worker_max_count
    error_message = "worker_max_count must be a whole number no smaller than worker_min_count."
  }
}

variable "api_cpu_target" {
  description = "Average CPU utilization (percent) the API service's target tracking policy holds."
  type        = number
  default     = 60

  validation {
    condition     = var.api_cpu_target >= 10 && var.api_cpu_target <= 90
    error_message = "api_cpu_target must be between 10 and 90 percent."
  }
}

variable "worker_backlog_per_task_target" {
  description = "Outstanding jobs (queued + running) per worker task the worker service's target tracking policy holds; about 1.5 x IMAGEGEN_WORKER_CONCURRENCY: the task's slots full and half as many again queued."
  type        = number
  default     = 96

  validation {
    condition     = var.worker_backlog_per_task_target > 0
    error_message = "worker_backlog_per_task_target must be greater than 0."
  }
}

variable "worker_stop_timeout_seconds" {
  description = "Seconds between SIGTERM and SIGKILL for the worker container (its stopTimeout), so a worker can finish or hand back its jobs (Fargate allows at most 120). The worker's IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS, after which running jobs are handed back to the queue, is set 15 seconds less."
  type        = number
  default     = 120

  validation {
    # At least 30 leaves a grace of 15 s or more, and 15 s for the hand-back before SIGKILL.
    condition     = var.worker_stop_timeout_seconds >= 30 && var.worker_stop_timeout_seconds <= 120 && floor(var.worker_stop_timeout_seconds) == var.worker_stop_timeout_seconds
    error_message = "worker_stop_timeout_seconds must be a whole number from 30 (the shutdown grace is 15 s less) to 120 (the Fargate maximum)."
  }
}

variable "container_user" {
  description = "Numeric UID (optionally UID:GID) the containers run as; never root."
  type        = string
  default     = "10001"

  validation {
    condition     = can(regex("^[1-9][0-9]*(:[0-9]+)?$", var.container_user))
    error_message = "container_user must be a numeric non-zero UID, optionally with :GID (e.g. 10001 or 10001:10001)."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the containers' logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key to encrypt the log groups with (its key policy must allow logs.<region>.amazonaws.com). Null keeps CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:region:account:key/...)."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource (and propagated from the services to their tasks)."
  type        = map(string)
  default     = {}
}

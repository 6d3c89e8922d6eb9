variable "name" {
  description = "Prefix of every resource name, e.g. imagegen-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,24}$", var.name))
    error_message = "name must be 3-25 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod); tags and the metrics namespace carry it."
  type        = string
}

variable "image_tag" {
  description = "Tag of the application image in this stack's ECR repository (make deploy passes the git commit)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener; null serves HTTP only, which allow_http_only must permit."
  type        = string
  default     = null
}

variable "allow_http_only" {
  description = "Permit an HTTP-only ALB when no certificate is given (development only)."
  type        = bool
  default     = false
}

variable "public_base_url" {
  description = "Base URL clients use (e.g. https://images.example.com); defaults to the ALB's URL."
  type        = string
  default     = null
}

variable "az_count" {
  description = "Availability zones to spread subnets, tasks and Redis replicas over."
  type        = number
  default     = 2
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheap) instead of one per AZ (highly available)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints to create (private paths to Bedrock, ECR, Logs, ...); [] uses the NAT."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the ALB and the records table from deletion, and keep the images bucket from being destroyed while it holds images."
  type        = bool
  default     = true
}

variable "image_versioning_enabled" {
  description = "Keep previous versions of overwritten or deleted images in the bucket (Enabled); false suspends versioning."
  type        = bool
  default     = true
}

variable "temporary_retention_days" {
  description = "Days a temporary image lives (IMAGEGEN_TEMPORARY_RETENTION_DAYS and the bucket's lifecycle rule)."
  type        = number
  default     = 7
}

variable "saved_retention_days" {
  description = "Days a saved image lives, 0 keeping it forever (IMAGEGEN_SAVED_RETENTION_DAYS and the bucket's lifecycle rule)."
  type        = number
  default     = 90
}

variable "image_cors_allowed_origins" {
  description = "Origins whose browser scripts may GET images through presigned URLs; empty sets no CORS on the bucket."
  type        = list(string)
  default     = []
}

variable "cache_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.micro"
}

variable "cache_num_nodes" {
  description = "Redis nodes: 1 for a single node, 2 or more for a replica with Multi-AZ failover."
  type        = number
  default     = 1
}

variable "cache_snapshot_retention_days" {
  description = "Days of Redis snapshots kept."
  type        = number
  default     = 1
}

variable "api_cpu" {
  description = "API task CPU units."
  type        = number
  default     = 512
}

variable "api_memory" {
  description = "API task memory (MiB)."
  type        = number
  default     = 1024
}

variable "worker_cpu" {
  description = "Worker task CPU units."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Worker task memory (MiB)."
  type        = number
  default     = 2048
}

variable "api_min_count" {
  description = "Fewest API tasks."
  type        = number
  default     = 1
}

variable "api_max_count" {
  description = "Most API tasks."
  type        = number
  default     = 2
}

variable "worker_min_count" {
  description = "Fewest worker tasks."
  type        = number
  default     = 1
}

variable "worker_max_count" {
  description = "Most worker tasks: enough for (sum of the model quotas a minute) x (model latency s) / 60 calls in flight at worker_concurrency each, and about 8 images a second per vCPU of post-processing (bench/RESULTS.md, \"Cost per image\")."
  type        = number
  default     = 4
}

variable "worker_concurrency" {
  description = "Jobs one worker task runs at once (IMAGEGEN_WORKER_CONCURRENCY), each a thread of its runner process; 64 fit a 1 vCPU / 2 GiB task (bench/RESULTS.md, \"Calls in flight\")."
  type        = number
  default     = 64
}

variable "worker_backlog_per_task_target" {
  description = "Outstanding jobs (queued + running) per worker task that autoscaling aims for: a task's slots full and half as many again queued."
  type        = number
  default     = 96
}

variable "gunicorn_workers" {
  description = "gunicorn processes per API task."
  type        = number
  default     = 2
}

variable "gunicorn_threads" {
  description = "Threads per gunicorn process (each waiting synchronous request holds one)."
  type        = number
  default     = 32
}

variable "bedrock_models" {
  description = "Bedrock models the workers may invoke, by model id, and where: `region` to call it in (IMAGEGEN_MODEL_REGIONS) and optionally `inference_profile` (us, eu or apac: the worker invokes <profile>.<model id> from `region`, IMAGEGEN_INFERENCE_PROFILES) with `profile_regions`, the regions that profile routes to (aws bedrock get-inference-profile). The task role allows exactly these."
  type = map(object({
    region            = string
    inference_profile = optional(string)
    profile_regions   = optional(list(string), [])
  }))
  # Each model's home region (docs/models.md, "Regions"), without profiles.
  default = {
    "amazon.nova-canvas-v1:0"           = { region = "us-east-1" }
    "amazon.titan-image-generator-v1"   = { region = "us-east-1" }
    "amazon.titan-image-generator-v2:0" = { region = "us-east-1" }
    "stability.stable-diffusion-xl-v1"  = { region = "us-west-2" }
    "stability.sd3-5-large-v1:0"        = { region = "us-west-2" }
    "stability.stable-image-core-v1:1"  = { region = "us-west-2" }
    "stability.stable-image-ultra-v1:1" = { region = "us-west-2" }
  }

  validation {
    # A geography's profile is invoked from one of its regions.
    condition = alltrue([
      for m in values(var.bedrock_models) : m.inference_profile == null || try(startswith(m.region, { us = "us-", eu = "eu-", apac = "ap-" }[m.inference_profile]), false)
    ])
    error_message = "inference_profile is us, eu or apac, and the model's region lies in it (us-*, eu-*, ap-*)."
  }
}

variable "bedrock_quotas" {
  description = "The account's Bedrock quota per model id, in requests a minute (Service Quotas: \"On-demand InvokeModel requests per minute for <model>\"); the workers share one budget per model (IMAGEGEN_BEDROCK_QUOTAS)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for rpm in values(var.bedrock_quotas) : rpm >= 1 && floor(rpm) == rpm])
    error_message = "Each quota is a whole number of requests a minute, at least 1."
  }
}

variable "bedrock_default_rpm" {
  description = "The quota of a model bedrock_quotas does not list (IMAGEGEN_BEDROCK_DEFAULT_RPM); null: the workers learn it from throttling."
  type        = number
  default     = null

  validation {
    condition     = var.bedrock_default_rpm == null || try(var.bedrock_default_rpm >= 1 && floor(var.bedrock_default_rpm) == var.bedrock_default_rpm, false)
    error_message = "bedrock_default_rpm is a whole number of requests a minute, at least 1, or null."
  }
}

variable "default_tenant_limits" {
  description = "Each tenant's limits where an operator set none with `cli set-limits` (IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE, IMAGEGEN_DEFAULT_IMAGES_PER_MINUTE, IMAGEGEN_DEFAULT_STORAGE_BYTES, IMAGEGEN_DEFAULT_MAX_CONCURRENT_JOBS), and `credits`, the balance a tenant without a credit account opens one with at its first job (IMAGEGEN_DEFAULT_CREDITS); null or 0: unlimited (credits: not metered)."
  type = object({
    requests_per_minute = optional(number)
    images_per_minute   = optional(number)
    storage_bytes       = optional(number)
    max_concurrent_jobs = optional(number)
    credits             = optional(number)
  })
  default = {}

  validation {
    condition     = alltrue([for value in values(var.default_tenant_limits) : value == null || try(value >= 0 && floor(value) == value, false)])
    error_message = "Each default tenant limit is a whole number, at least 0 (unlimited), or null."
  }
}

variable "job_deadline_seconds" {
  description = "How long after it was accepted a job may still wait for its model's quota (IMAGEGEN_JOB_DEADLINE_SECONDS)."
  type        = number
  default     = 3600
}

variable "default_model" {
  description = "Model used when a request names none (IMAGEGEN_DEFAULT_MODEL); null: the service picks an ACTIVE one. An EOL model here stops the service at start."
  type        = string
  default     = null
}

variable "model_lifecycle" {
  description = "Lifecycle statuses (ACTIVE, LEGACY or EOL) by model id, over Bedrock's and the built-in table, for an account that kept access to a retired model (IMAGEGEN_MODEL_LIFECYCLE)."
  type        = map(string)
  default     = {}
}

variable "app_settings" {
  description = "Further IMAGEGEN_* settings for both roles (see README's configuration table); they override the stack's defaults."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps application and infrastructure logs."
  type        = number
  default     = 30
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

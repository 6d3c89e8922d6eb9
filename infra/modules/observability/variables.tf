variable "name" {
  description = "Name prefix of the dashboard, alarms, SNS topic and KMS key."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,31}$", var.name))
    error_message = "name must start with a letter and contain only letters, digits and hyphens, 32 characters at most."
  }
}

variable "region" {
  description = "AWS Region the service runs in (the provider's region): the dashboard's metrics and its console URL point there."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS Region code such as us-east-1."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the worker publishes QueueDepth, OldestJobAgeSeconds, JobsCompleted and JobsFailed to (no dimensions)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and . _ - / # : and must not start with AWS/."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the Application Load Balancer (app/<name>/<id>), its LoadBalancer metric dimension."
  type        = string

  validation {
    condition     = can(regex("^app/[^/]+/[0-9a-f]+$", var.alb_arn_suffix))
    error_message = "alb_arn_suffix must look like app/<name>/<id> (aws_lb.arn_suffix)."
  }
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (targetgroup/<name>/<id>), its TargetGroup metric dimension."
  type        = string

  validation {
    condition     = can(regex("^targetgroup/[^/]+/[0-9a-f]+$", var.target_group_arn_suffix))
    error_message = "target_group_arn_suffix must look like targetgroup/<name>/<id> (aws_lb_target_group.arn_suffix)."
  }
}

variable "cluster_name" {
  description = "Name of the ECS cluster running the services."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.cluster_name))
    error_message = "cluster_name must be an ECS cluster name (letters, digits, hyphens, underscores)."
  }
}

variable "api_service_name" {
  description = "Name of the API ECS service."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.api_service_name))
    error_message = "api_service_name must be an ECS service name (letters, digits, hyphens, underscores)."
  }
}

variable "worker_service_name" {
  description = "Name of the worker ECS service."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.worker_service_name))
    error_message = "worker_service_name must be an ECS service name (letters, digits, hyphens, underscores)."
  }
}

variable "s3_bucket_names" {
  description = "Names of the image buckets whose daily storage metrics the dashboard shows. Empty leaves the storage widget out."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for b in var.s3_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "s3_bucket_names must be S3 bucket names (not ARNs)."
  }
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alarm topic; each must confirm the subscription from the email AWS sends."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be email addresses."
  }
}

variable "five_xx_rate_threshold_percent" {
  description = "Percentage of API requests answered 5xx by the targets that raises the alarm when exceeded for 3 consecutive minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.five_xx_rate_threshold_percent > 0 && var.five_xx_rate_threshold_percent <= 100
    error_message = "five_xx_rate_threshold_percent must be greater than 0 and at most 100."
  }
}

variable "failed_jobs_threshold" {
  description = "Number of failed generation jobs in 5 minutes above which the alarm fires."
  type        = number
  default     = 5

  validation {
    condition     = var.failed_jobs_threshold >= 0
    error_message = "failed_jobs_threshold must not be negative."
  }
}

variable "oldest_job_age_threshold_seconds" {
  description = "Age in seconds of the oldest queued job above which, for 3 consecutive minutes, the alarm fires (the workers are not keeping up)."
  type        = number
  default     = 300

  validation {
    condition     = var.oldest_job_age_threshold_seconds > 0
    error_message = "oldest_job_age_threshold_seconds must be greater than 0."
  }
}

variable "create_kms_key" {
  description = "Create the alarm topic's KMS key (true), or use kms_key_arn (false). A flag rather than a null check on kms_key_arn, because a key created in the same apply is unknown at plan time."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for the alarm topic, used when create_kms_key is false; its key policy must let cloudwatch.amazonaws.com use kms:Decrypt and kms:GenerateDataKey* (the AWS managed alias/aws/sns key cannot be granted to CloudWatch, so alarms could not publish)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:region:account:key/...)."
  }

  validation {
    condition     = var.create_kms_key || var.kms_key_arn != null
    error_message = "kms_key_arn is required when create_kms_key is false."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Prefix of every resource name, e.g. imagegen-prod."
  type        = string

  validation {
    # ElastiCache IDs allow no consecutive hyphens; the replication group ID is "<name>-redis".
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-25 lowercase letters, digits or single hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  description = "ID of the VPC Redis runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the cache nodes, in at least two availability zones so a replica can sit apart from the primary."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two subnets (in different availability zones)."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (the API and worker tasks) whose members may connect to Redis on 6379; nothing else can."
  type        = list(string)

  validation {
    condition     = length(var.allowed_security_group_ids) > 0
    error_message = "allowed_security_group_ids must name at least one security group, or nothing could use Redis."
  }
}

variable "node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.micro"

  validation {
    condition     = startswith(var.node_type, "cache.")
    error_message = "node_type must be an ElastiCache node type such as cache.t4g.micro."
  }
}

variable "engine_version" {
  description = "Redis OSS engine version as major.minor, 6.x or 7.x; the parameter group family follows from it."
  type        = string
  default     = "7.1"

  validation {
    condition     = can(regex("^[67]\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be a Redis 6 or 7 version written major.minor, e.g. 7.1."
  }
}

variable "num_cache_clusters" {
  description = "Nodes in the replication group: 1 (dev) is a single primary; 2 or more adds replicas and turns on automatic failover and Multi-AZ."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6 && floor(var.num_cache_clusters) == var.num_cache_clusters
    error_message = "num_cache_clusters must be a whole number from 1 to 6."
  }
}

variable "snapshot_retention_limit" {
  description = "Days of automatic daily snapshots kept; 0 turns snapshots off."
  type        = number
  default     = 7

  validation {
    condition     = var.snapshot_retention_limit >= 0 && var.snapshot_retention_limit <= 35 && floor(var.snapshot_retention_limit) == var.snapshot_retention_limit
    error_message = "snapshot_retention_limit must be a whole number from 0 to 35."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the cache's data at rest, the Redis URL secret and the slow log group (its key policy must allow logs.<region>.amazonaws.com). null uses AWS-managed keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted Redis URL secret can still be restored; 0 deletes it at once."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or from 7 to 30."
  }
}

variable "apply_immediately" {
  description = "Apply changes to the replication group at once instead of in the next maintenance window; node type and engine changes then interrupt Redis right away."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the Redis slow log."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}

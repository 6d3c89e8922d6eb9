variable "name" {
  description = "Prefix of every resource name, e.g. imagegen-prod. Part of the access log bucket's name, so lowercase."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}[a-z0-9]$", var.name))
    error_message = "name must be 3-25 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the load balancer and its targets are in."
  type        = string
}

variable "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC; the load balancer may only send traffic there, on app_port."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr_block, 0)) && !strcontains(var.vpc_cidr_block, ":")
    error_message = "vpc_cidr_block must be an IPv4 CIDR block."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets the internet-facing load balancer is placed in, in at least two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An Application Load Balancer needs subnets in at least two availability zones."
  }
}

variable "app_port" {
  description = "Port the API containers (gunicorn) listen on; the target group forwards there."
  type        = number
  default     = 8000

  validation {
    condition     = var.app_port >= 1 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be a TCP port (1-65535)."
  }
}

variable "health_check_path" {
  description = "Path the target group's health check requests; it must answer 200."
  type        = string
  default     = "/healthz"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with /."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener. With one, port 443 serves HTTPS and port 80 redirects to it; null serves plain HTTP on port 80, which allow_http_only must permit."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn != null || var.allow_http_only
    error_message = "certificate_arn is required unless allow_http_only = true (development only): without it the API would take API keys and prompts over plain HTTP."
  }

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "allow_http_only" {
  description = "Permit a plain-HTTP load balancer when certificate_arn is null. Development only; production must not set it."
  type        = bool
  default     = false
}

variable "ssl_policy" {
  description = "Security policy of the HTTPS listener; only policies that refuse anything older than TLS 1.2 are accepted."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-(TLS13-1-[23]-|TLS-1-2-|FS-1-2-)", var.ssl_policy))
    error_message = "ssl_policy must be an ELB security policy with TLS 1.2 or newer as its minimum, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06."
  }
}

variable "enable_deletion_protection" {
  description = "Protect the load balancer from deletion (true for production). When false, destroying the module also empties and deletes the access log bucket."
  type        = bool
  default     = true
}

variable "ingress_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.ingress_cidr_blocks) > 0 && alltrue([for c in var.ingress_cidr_blocks : can(cidrhost(c, 0)) && !strcontains(c, ":")])
    error_message = "ingress_cidr_blocks must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "access_log_retention_days" {
  description = "Days the access logs are kept in S3 before they expire."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1 && floor(var.access_log_retention_days) == var.access_log_retention_days
    error_message = "access_log_retention_days must be a whole number of at least 1."
  }
}

variable "idle_timeout" {
  description = "Seconds a connection may stay idle. Synchronous generation requests wait up to about 60 s for their image, so this must stay well above that."
  type        = number
  default     = 120

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be between 1 and 4000 seconds."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Prefix of every resource name, e.g. imagegen-prod."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}[a-z0-9]$", var.name))
    error_message = "name must be 3-25 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC, /16 to /20. Public subnets take the first eighth of it, each private subnet an eighth after that."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition = (
      can(regex("^[0-9.]+/(1[6-9]|20)$", var.cidr_block)) &&
      try(cidrhost(var.cidr_block, 0) == split("/", var.cidr_block)[0], false)
    )
    error_message = "cidr_block must be an IPv4 network address with a /16 to /20 prefix, e.g. 10.0.0.0/16 (a /20 still leaves each public subnet the /26 an ALB needs)."
  }
}

variable "az_count" {
  description = "Availability zones to spread subnets over: at least 2, because an ALB and a Multi-AZ Redis need two."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 6."
  }
}

variable "single_nat_gateway" {
  description = "true: one NAT gateway shared by all AZs (cheap, for dev; egress stops if its AZ fails). false: one NAT gateway per AZ (for prod)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services to reach through interface VPC endpoints in the private subnets (the part after com.amazonaws.<region>.). [] creates none and leaves that traffic to the NAT gateways. S3 and DynamoDB always get free gateway endpoints instead."
  type        = list(string)
  default     = ["bedrock-runtime", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "monitoring"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", s))])
    error_message = "interface_endpoints must be service names such as \"ecr.api\" or \"bedrock-runtime\"."
  }

  validation {
    condition     = !contains(var.interface_endpoints, "s3") && !contains(var.interface_endpoints, "dynamodb")
    error_message = "s3 and dynamodb already have gateway endpoints; leave them out of interface_endpoints."
  }

  validation {
    condition     = length(distinct(var.interface_endpoints)) == length(var.interface_endpoints)
    error_message = "interface_endpoints must not repeat a service."
  }
}

variable "flow_log_retention_days" {
  description = "Days CloudWatch Logs keeps the VPC flow logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "flow_log_kms_key_arn" {
  description = "KMS key that encrypts the flow log group; its key policy must allow the logs.<region>.amazonaws.com service. null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.flow_log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.flow_log_kms_key_arn))
    error_message = "flow_log_kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}

# Applies infra/modules/data to moto's server for the AWS tests (tests/aws/terraform_data.py).
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }
}

variable "endpoint_url" {
  description = "moto server URL, e.g. http://127.0.0.1:5055."
  type        = string
}

variable "name" {
  description = "Prefix of the table and bucket names."
  type        = string
}

# Defaults as in the module, so the tests see what an environment gets unless it says otherwise.
variable "versioning_enabled" {
  description = "Passed to the data module."
  type        = bool
  default     = true
}

variable "temporary_retention_days" {
  description = "Passed to the data module."
  type        = number
  default     = 7
}

variable "saved_retention_days" {
  description = "Passed to the data module."
  type        = number
  default     = 90
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true

  endpoints {
    dynamodb = var.endpoint_url
    iam      = var.endpoint_url
    kms      = var.endpoint_url
    s3       = var.endpoint_url
    sts      = var.endpoint_url
  }
}

module "data" {
  source = "../../../infra/modules/data"

  name                     = var.name
  deletion_protection      = false
  versioning_enabled       = var.versioning_enabled
  temporary_retention_days = var.temporary_retention_days
  saved_retention_days     = var.saved_retention_days
  # moto cannot delete a key at once either; the shortest window keeps nothing around.
  kms_deletion_window_days = 7
}

output "table_name" {
  description = "The applied table."
  value       = module.data.table_name
}

output "table_arn" {
  description = "The applied table's ARN."
  value       = module.data.table_arn
}

output "index_names" {
  description = "The table's indexes."
  value       = module.data.index_names
}

output "bucket_name" {
  description = "The applied bucket."
  value       = module.data.bucket_name
}

output "bucket_arn" {
  description = "The applied bucket's ARN."
  value       = module.data.bucket_arn
}

output "kms_key_arn" {
  description = "The key of both."
  value       = module.data.kms_key_arn
}

output "temporary_retention_days" {
  description = "IMAGEGEN_TEMPORARY_RETENTION_DAYS to run the app with."
  value       = module.data.temporary_retention_days
}

output "saved_retention_days" {
  description = "IMAGEGEN_SAVED_RETENTION_DAYS to run the app with."
  value       = module.data.saved_retention_days
}

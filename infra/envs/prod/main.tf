# prod: highly available. Three AZs, a NAT gateway per AZ, private endpoints, Multi-AZ Redis,
# at least two tasks of each role, deletion protection.
provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "imagegen", Environment = "prod" }
  }
}

module "stack" {
  source = "../../modules/stack"

  name                = "imagegen-prod"
  environment         = "prod"
  image_tag           = var.image_tag
  certificate_arn     = var.certificate_arn
  public_base_url     = var.public_base_url
  allow_http_only     = false
  az_count            = 3
  single_nat_gateway  = false
  interface_endpoints = ["bedrock-runtime", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "monitoring"]
  deletion_protection = true

  image_versioning_enabled = true
  temporary_retention_days = 7
  saved_retention_days     = 365

  cache_node_type               = "cache.m7g.large"
  cache_num_nodes               = 2
  cache_snapshot_retention_days = 7

  api_cpu          = 1024
  api_memory       = 2048
  worker_cpu       = 1024
  worker_memory    = 2048
  api_min_count    = 2
  api_max_count    = 8
  worker_min_count = 2
  worker_max_count = 8 # 512 calls in flight: ~3,000 quota calls a minute at 10 s (README, Bedrock quotas)

  log_retention_days = 90
  alarm_emails       = var.alarm_emails
}

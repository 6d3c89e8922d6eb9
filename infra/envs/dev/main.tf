# dev: small and cheap. One NAT gateway, one Redis node, one task of each role, HTTP allowed.
provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "imagegen", Environment = "dev" }
  }
}

module "stack" {
  source = "../../modules/stack"

  name                = "imagegen-dev"
  environment         = "dev"
  image_tag           = var.image_tag
  certificate_arn     = var.certificate_arn
  allow_http_only     = true
  az_count            = 2
  single_nat_gateway  = true
  interface_endpoints = []
  deletion_protection = false

  # Saved images live 30 days in dev (the seed's "dev 30 days"); overwritten ones are not kept.
  image_versioning_enabled = false
  temporary_retention_days = 7
  saved_retention_days     = 30

  cache_node_type               = "cache.t4g.micro"
  cache_num_nodes               = 1
  cache_snapshot_retention_days = 1

  api_cpu          = 512
  api_memory       = 1024
  worker_cpu       = 512
  worker_memory    = 1024
  api_min_count    = 1
  api_max_count    = 2
  worker_min_count = 1
  worker_max_count = 2 # 128 calls in flight: ~770 quota calls a minute at 10 s (README, Bedrock quotas)

  log_retention_days = 14
  alarm_emails       = var.alarm_emails
}

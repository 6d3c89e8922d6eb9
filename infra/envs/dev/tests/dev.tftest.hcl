mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ01" }
  }
  mock_resource "aws_vpc" {
    defaults = { id = "vpc-0123456789abcdef0" }
  }
  mock_resource "aws_subnet" {
    defaults = { id = "subnet-0123456789abcdef0" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0123456789abcdef0" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen-dev-AbCdEf" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = { repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/imagegen-dev" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/imagegen-dev-alb/0123456789abcdef"
      arn_suffix = "app/imagegen-dev-alb/0123456789abcdef"
      dns_name   = "imagegen-dev-alb-123456789.us-east-1.elb.amazonaws.com"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/imagegen-dev-api/0123456789abcdef"
      arn_suffix = "targetgroup/imagegen-dev-api/0123456789abcdef"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/imagegen-dev" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:imagegen-dev" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "imagegen-dev-alb-logs-123456789012-us-east-1"
      arn = "arn:aws:s3:::imagegen-dev-alb-logs-123456789012-us-east-1"
    }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:imagegen-dev-alarms" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = {
      arn  = "arn:aws:ecs:us-east-1:123456789012:cluster/imagegen-dev"
      name = "imagegen-dev"
    }
  }
}

# dev is small and cheap, may serve HTTP without a certificate, and can be torn down.
run "dev_is_small_and_disposable" {
  command = apply

  assert {
    condition     = module.stack.cache_settings.num_cache_clusters == 1 && !module.stack.cache_settings.multi_az_enabled
    error_message = "dev runs one Redis node without failover."
  }

  assert {
    condition = (
      module.stack.cache_settings.transit_encryption_enabled
      && module.stack.cache_settings.auth_token_enabled
      && module.stack.cache_settings.maxmemory_policy == "noeviction"
    )
    error_message = "Even dev's Redis uses TLS, AUTH and noeviction."
  }

  assert {
    condition     = !module.stack.alb_settings.https_enabled && startswith(output.api_url, "http://")
    error_message = "Without a certificate dev serves HTTP."
  }

  assert {
    condition     = !module.stack.alb_settings.deletion_protection_enabled
    error_message = "dev must be removable by make destroy."
  }

  assert {
    condition     = module.stack.app_environment.IMAGEGEN_ENV == "development"
    error_message = "Over plain HTTP the application cannot run in production mode."
  }
}

run "dev_with_a_certificate_serves_https" {
  command = apply

  variables {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abcdef01-2345-6789-abcd-ef0123456789"
  }

  assert {
    condition     = module.stack.alb_settings.https_enabled && startswith(output.api_url, "https://")
    error_message = "Given a certificate, dev serves HTTPS too."
  }
}

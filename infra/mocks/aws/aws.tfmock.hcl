# Realistic values for the mocked AWS provider shared by the env roots' tests: ids and
# ARNs in the formats the modules validate.

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
  defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:imagegen-test-AbCdEf" }
}
mock_resource "aws_ecr_repository" {
  defaults = { repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/imagegen-test" }
}
mock_resource "aws_lb" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/imagegen-test-alb/0123456789abcdef"
    arn_suffix = "app/imagegen-test-alb/0123456789abcdef"
    dns_name   = "imagegen-test-alb-123456789.us-east-1.elb.amazonaws.com"
  }
}
mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/imagegen-test-api/0123456789abcdef"
    arn_suffix = "targetgroup/imagegen-test-api/0123456789abcdef"
  }
}
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/imagegen-test" }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:imagegen-test" }
}
mock_resource "aws_s3_bucket" {
  defaults = {
    id  = "imagegen-test-alb-logs-123456789012-us-east-1"
    arn = "arn:aws:s3:::imagegen-test-alb-logs-123456789012-us-east-1"
  }
}
mock_resource "aws_dynamodb_table" {
  defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-test-records" }
}
mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:us-east-1:123456789012:imagegen-test-alarms" }
}
mock_resource "aws_ecs_cluster" {
  defaults = {
    arn  = "arn:aws:ecs:us-east-1:123456789012:cluster/imagegen-test"
    name = "imagegen-test"
  }
}

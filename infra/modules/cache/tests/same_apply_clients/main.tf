# A root module that creates the client security groups in the same apply as the cache, so
# their IDs are unknown when the module plans its ingress rules.
resource "aws_security_group" "api" {
  # checkov:skip=CKV2_AWS_5: test fixture standing in for the ECS tasks' security group; only its ID is used.
  name        = "imagegen-test-api"
  description = "API tasks"
  vpc_id      = "vpc-0123456789abcdef0"
}

resource "aws_security_group" "worker" {
  # checkov:skip=CKV2_AWS_5: test fixture standing in for the ECS tasks' security group; only its ID is used.
  name        = "imagegen-test-worker"
  description = "Worker tasks"
  vpc_id      = "vpc-0123456789abcdef0"
}

module "cache" {
  source = "../.."

  name                       = "imagegen-test"
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  allowed_security_group_ids = [aws_security_group.api.id, aws_security_group.worker.id]
}

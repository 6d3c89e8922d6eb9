mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/imagegen-test-vpc-flow-logs"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/test/flow-logs"
    }
  }
}

variables {
  name = "imagegen-test"
  tags = { Project = "imagegen" }
}

run "two_azs_give_two_public_and_two_private_subnets" {
  command = plan

  variables {
    az_count = 2
  }

  assert {
    condition     = length(aws_subnet.public) == 2 && length(aws_subnet.private) == 2
    error_message = "Two AZs must give two public and two private subnets."
  }

  assert {
    condition     = [for s in aws_subnet.public : s.availability_zone] == ["eu-west-1a", "eu-west-1b"]
    error_message = "Public subnets must be spread over the first two AZs."
  }

  assert {
    condition     = [for s in aws_subnet.private : s.availability_zone] == ["eu-west-1a", "eu-west-1b"]
    error_message = "Private subnets must be spread over the first two AZs."
  }

  assert {
    condition     = output.availability_zones == tolist(["eu-west-1a", "eu-west-1b"])
    error_message = "availability_zones must list the AZs used."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.public : !s.map_public_ip_on_launch])
    error_message = "Public subnets must not hand out public IPs by default."
  }

  assert {
    condition = length(distinct(concat(
      [for s in aws_subnet.public : s.cidr_block],
      [for s in aws_subnet.private : s.cidr_block],
    ))) == 4
    error_message = "Subnet CIDR blocks must all differ."
  }

  assert {
    condition     = alltrue([for s in concat(aws_subnet.public, aws_subnet.private) : s.tags["Project"] == "imagegen"])
    error_message = "tags must reach the subnets."
  }
}

run "subnet_layout_of_a_small_vpc" {
  command = plan

  variables {
    cidr_block = "10.20.0.0/20"
    az_count   = 3
  }

  # The public /26s share the first /23, which no private subnet uses.
  assert {
    condition     = [for s in aws_subnet.public : s.cidr_block] == ["10.20.0.0/26", "10.20.0.64/26", "10.20.0.128/26"]
    error_message = "Public subnets must be /26s at the start of a /20 VPC."
  }

  assert {
    condition     = [for s in aws_subnet.private : s.cidr_block] == ["10.20.2.0/23", "10.20.4.0/23", "10.20.6.0/23"]
    error_message = "Private subnets must be the /23s after the public range."
  }
}

run "single_nat_gateway_creates_one_nat_for_all_azs" {
  command = plan

  variables {
    az_count           = 3
    single_nat_gateway = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_eip.nat) == 1
    error_message = "single_nat_gateway = true must create exactly one NAT gateway."
  }

  assert {
    condition     = length(aws_route.private_nat) == 3 && length(aws_route_table.private) == 3
    error_message = "Every AZ's private route table must still get a default route."
  }
}

run "one_nat_gateway_per_az_without_single_nat_gateway" {
  command = plan

  variables {
    az_count           = 3
    single_nat_gateway = false
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3
    error_message = "single_nat_gateway = false must create one NAT gateway per AZ."
  }
}

run "private_routes_use_their_own_azs_nat_gateway" {
  command = apply

  variables {
    single_nat_gateway = false
  }

  assert {
    condition     = [for r in aws_route.private_nat : r.nat_gateway_id] == aws_nat_gateway.this[*].id
    error_message = "Each private route table must route through the NAT gateway in its own AZ."
  }

  assert {
    condition     = [for n in aws_nat_gateway.this : n.subnet_id] == aws_subnet.public[*].id
    error_message = "NAT gateways must sit in the public subnets."
  }
}

run "s3_and_dynamodb_gateway_endpoints_on_private_route_tables" {
  command = apply

  assert {
    condition     = aws_vpc_endpoint.gateway["s3"].service_name == "com.amazonaws.eu-west-1.s3" && aws_vpc_endpoint.gateway["s3"].vpc_endpoint_type == "Gateway"
    error_message = "There must be an S3 gateway endpoint."
  }

  assert {
    condition     = aws_vpc_endpoint.gateway["dynamodb"].service_name == "com.amazonaws.eu-west-1.dynamodb" && aws_vpc_endpoint.gateway["dynamodb"].vpc_endpoint_type == "Gateway"
    error_message = "There must be a DynamoDB gateway endpoint."
  }

  assert {
    condition = alltrue([
      for e in aws_vpc_endpoint.gateway : toset(e.route_table_ids) == toset(aws_route_table.private[*].id)
    ])
    error_message = "Gateway endpoints must be attached to every private route table."
  }
}

run "default_interface_endpoints_allow_https_from_the_vpc_only" {
  command = plan

  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["bedrock-runtime", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "monitoring"])
    error_message = "The default interface endpoints must be created."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.vpc_endpoint_type == "Interface"])
    error_message = "Interface endpoints must use private DNS so SDKs reach them without configuration."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.endpoints_https[0].cidr_ipv4 == "10.0.0.0/16" &&
      aws_vpc_security_group_ingress_rule.endpoints_https[0].from_port == 443 &&
      aws_vpc_security_group_ingress_rule.endpoints_https[0].to_port == 443
    )
    error_message = "The endpoint security group must allow only 443 from the VPC CIDR."
  }
}

run "no_interface_endpoints_when_list_is_empty" {
  command = plan

  variables {
    interface_endpoints = []
  }

  assert {
    condition     = length(aws_vpc_endpoint.interface) == 0 && length(aws_security_group.endpoints) == 0
    error_message = "An empty interface_endpoints must create no interface endpoints or their security group."
  }
}

run "flow_logs_and_default_security_group" {
  command = plan

  variables {
    flow_log_retention_days = 90
  }

  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_flow_log.this.log_destination_type == "cloud-watch-logs"
    error_message = "The VPC must send all flow logs to CloudWatch Logs."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.retention_in_days == 90
    error_message = "flow_log_retention_days must set the log group's retention."
  }

  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group must have no rules."
  }
}

run "one_az_is_rejected" {
  command = plan

  variables {
    az_count = 1
  }

  expect_failures = [var.az_count]
}

run "more_azs_than_the_region_has_is_rejected" {
  command = plan

  variables {
    az_count = 4
  }

  expect_failures = [aws_vpc.this]
}

run "misaligned_cidr_block_is_rejected" {
  command = plan

  variables {
    cidr_block = "10.0.1.0/16"
  }

  expect_failures = [var.cidr_block]
}

run "gateway_services_as_interface_endpoints_are_rejected" {
  command = plan

  variables {
    interface_endpoints = ["s3"]
  }

  expect_failures = [var.interface_endpoints]
}

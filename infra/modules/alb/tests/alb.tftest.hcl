mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "imagegen-test-alb-logs-123456789012-eu-west-1"
      arn = "arn:aws:s3:::imagegen-test-alb-logs-123456789012-eu-west-1"
    }
  }

  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/imagegen-test-alb/0123456789abcdef"
      arn_suffix = "app/imagegen-test-alb/0123456789abcdef"
      dns_name   = "imagegen-test-alb-123456789.eu-west-1.elb.amazonaws.com"
      zone_id    = "Z32O12XQLNTSW2"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/imagegen-test-api/0123456789abcdef"
      arn_suffix = "targetgroup/imagegen-test-api/0123456789abcdef"
    }
  }
}

variables {
  name              = "imagegen-test"
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr_block    = "10.0.0.0/16"
  public_subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  tags              = { Project = "imagegen" }
}

run "certificate_gives_https_and_a_redirect_on_port_80" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
  }

  assert {
    condition = (
      length(aws_lb_listener.https) == 1 &&
      aws_lb_listener.https[0].port == 443 &&
      aws_lb_listener.https[0].protocol == "HTTPS" &&
      aws_lb_listener.https[0].certificate_arn == var.certificate_arn
    )
    error_message = "A certificate must give an HTTPS listener on 443 using it."
  }

  assert {
    condition     = aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "The HTTPS listener must use the TLS 1.2+ policy by default."
  }

  assert {
    condition     = aws_lb_listener.https[0].default_action[0].type == "forward"
    error_message = "The HTTPS listener must forward to the target group."
  }

  assert {
    condition = (
      aws_lb_listener.http.port == 80 &&
      aws_lb_listener.http.default_action[0].type == "redirect" &&
      aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http.default_action[0].redirect[0].port == "443" &&
      aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    )
    error_message = "With a certificate, port 80 must answer with a 301 redirect to HTTPS."
  }

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.listeners : r.from_port]) == toset([80, 443])
    error_message = "The security group must admit ports 80 and 443."
  }
}

run "no_certificate_without_allow_http_only_is_rejected" {
  command = plan

  variables {
    certificate_arn = null
    allow_http_only = false
  }

  expect_failures = [var.certificate_arn]
}

run "http_only_when_allowed" {
  command = apply

  variables {
    certificate_arn = null
    allow_http_only = true
  }

  assert {
    condition     = length(aws_lb_listener.https) == 0
    error_message = "Without a certificate there must be no HTTPS listener."
  }

  assert {
    condition = (
      aws_lb_listener.http.port == 80 &&
      aws_lb_listener.http.protocol == "HTTP" &&
      aws_lb_listener.http.default_action[0].type == "forward" &&
      aws_lb_listener.http.default_action[0].target_group_arn == aws_lb_target_group.api.arn &&
      length(aws_lb_listener.http.default_action[0].redirect) == 0
    )
    error_message = "Without a certificate, port 80 must forward to the target group."
  }

  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.listeners : r.from_port] == [80]
    error_message = "An HTTP-only load balancer must open only port 80."
  }

  assert {
    condition     = output.api_url == "http://imagegen-test-alb-123456789.eu-west-1.elb.amazonaws.com"
    error_message = "api_url must be http:// without a certificate."
  }
}

run "api_url_is_https_with_a_certificate" {
  command = apply

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
  }

  assert {
    condition     = output.api_url == "https://imagegen-test-alb-123456789.eu-west-1.elb.amazonaws.com"
    error_message = "api_url must be https:// with a certificate."
  }
}

run "certificate_with_allow_http_only_still_serves_https" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    allow_http_only = true
  }

  assert {
    condition     = length(aws_lb_listener.https) == 1 && aws_lb_listener.http.default_action[0].type == "redirect"
    error_message = "allow_http_only only permits HTTP; a certificate must still give HTTPS and the redirect."
  }
}

run "load_balancer_defaults_are_secure" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
  }

  assert {
    condition     = aws_lb.this.drop_invalid_header_fields == true
    error_message = "drop_invalid_header_fields must be on."
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection == true && aws_s3_bucket.access_logs.force_destroy == false
    error_message = "Deletion protection must be on by default, and the log bucket then kept on destroy."
  }

  assert {
    condition     = aws_lb.this.internal == false && aws_lb.this.load_balancer_type == "application"
    error_message = "The load balancer must be an internet-facing ALB."
  }

  assert {
    condition     = aws_lb.this.idle_timeout == 120
    error_message = "idle_timeout must default to 120 s, above the 60 s synchronous wait."
  }

  assert {
    condition     = aws_lb.this.access_logs[0].enabled && aws_lb.this.access_logs[0].bucket == "imagegen-test-alb-logs-123456789012-eu-west-1"
    error_message = "Access logs must go to the module's bucket."
  }

  assert {
    condition     = aws_lb.this.tags["Project"] == "imagegen" && aws_s3_bucket.access_logs.tags["Project"] == "imagegen"
    error_message = "tags must reach the resources."
  }
}

run "deletion_protection_follows_the_input" {
  command = plan

  variables {
    certificate_arn            = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    enable_deletion_protection = false
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection == false
    error_message = "enable_deletion_protection = false must turn deletion protection off."
  }

  assert {
    condition     = aws_s3_bucket.access_logs.force_destroy == true
    error_message = "Without deletion protection the log bucket must be destroyable with its logs."
  }
}

run "security_group_sends_only_to_the_app_port_in_the_vpc" {
  command = plan

  variables {
    certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    ingress_cidr_blocks = ["203.0.113.0/24", "198.51.100.0/24"]
    app_port            = 9000
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.targets.cidr_ipv4 == "10.0.0.0/16" &&
      aws_vpc_security_group_egress_rule.targets.from_port == 9000 &&
      aws_vpc_security_group_egress_rule.targets.to_port == 9000 &&
      aws_vpc_security_group_egress_rule.targets.ip_protocol == "tcp"
    )
    error_message = "Egress must be limited to the app port in the VPC CIDR."
  }

  assert {
    condition = toset([for r in aws_vpc_security_group_ingress_rule.listeners : "${r.from_port}/${r.cidr_ipv4}"]) == toset([
      "80/203.0.113.0/24", "443/203.0.113.0/24", "80/198.51.100.0/24", "443/198.51.100.0/24",
    ])
    error_message = "Ingress must be 80 and 443 from exactly the given CIDR blocks."
  }

  assert {
    condition     = aws_lb_target_group.api.port == 9000
    error_message = "The target group must forward to app_port."
  }
}

run "target_group_health_checks_the_api" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
  }

  assert {
    condition = (
      aws_lb_target_group.api.target_type == "ip" &&
      aws_lb_target_group.api.protocol == "HTTP" &&
      aws_lb_target_group.api.port == 8000 &&
      aws_lb_target_group.api.deregistration_delay == "70"
    )
    error_message = "The target group must be HTTP to IP targets on 8000 with a 70 s deregistration delay."
  }

  assert {
    condition = (
      aws_lb_target_group.api.health_check[0].path == "/healthz" &&
      aws_lb_target_group.api.health_check[0].matcher == "200"
    )
    error_message = "The health check must expect 200 from /healthz."
  }
}

run "access_log_bucket_is_private_encrypted_and_expires" {
  command = plan

  variables {
    certificate_arn           = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    access_log_retention_days = 30
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.access_logs.block_public_acls &&
      aws_s3_bucket_public_access_block.access_logs.block_public_policy &&
      aws_s3_bucket_public_access_block.access_logs.ignore_public_acls &&
      aws_s3_bucket_public_access_block.access_logs.restrict_public_buckets
    )
    error_message = "The log bucket must block all public access."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.access_logs.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "The log bucket must use SSE-S3, the only encryption ALB log delivery supports."
  }

  assert {
    condition     = aws_s3_bucket_versioning.access_logs.versioning_configuration[0].status == "Enabled"
    error_message = "The log bucket must be versioned."
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.access_logs.rule[0].expiration[0].days == 30
    error_message = "Logs must expire after access_log_retention_days."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.access_logs.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled on the log bucket."
  }
}

run "bucket_policy_admits_elb_log_delivery_and_denies_plain_http" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.access_logs.statement :
      s.actions == toset(["s3:PutObject"]) &&
      anytrue([for p in s.principals : contains(p.identifiers, "logdelivery.elasticloadbalancing.amazonaws.com")]) &&
      s.resources == toset(["arn:aws:s3:::imagegen-test-alb-logs-123456789012-eu-west-1/AWSLogs/123456789012/*"])
    ])
    error_message = "ELB log delivery must be allowed to put objects under AWSLogs/<account>/ only."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.access_logs.statement :
      s.effect == "Deny" && anytrue([for c in s.condition : c.variable == "aws:SecureTransport" && c.values == tolist(["false"])])
    ])
    error_message = "The bucket policy must deny requests without TLS."
  }
}

run "tls_policies_older_than_1_2_are_rejected" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    ssl_policy      = "ELBSecurityPolicy-2016-08"
  }

  expect_failures = [var.ssl_policy]
}

run "certificate_issued_in_the_same_apply_still_plans" {
  command = plan

  module {
    source = "./tests/same_apply_certificate"
  }
}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  # Decided from allow_http_only rather than from certificate_arn alone: the variable's
  # validation already demands a certificate when HTTP-only is not allowed, and a certificate
  # ARN created in the same apply is unknown at plan time, which count and for_each reject.
  https_enabled = var.allow_http_only ? var.certificate_arn != null : true

  listener_ports = local.https_enabled ? [80, 443] : [80]

  ingress_rules = {
    for pair in setproduct(local.listener_ports, distinct(var.ingress_cidr_blocks)) :
    "${pair[0]}-${pair[1]}" => { port = pair[0], cidr = pair[1] }
  }

  access_logs_bucket = "${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

resource "aws_security_group" "this" {
  name        = "${var.name}-alb"
  description = "${var.name} load balancer: HTTP(S) from the allowed networks, out only to the API tasks"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "listeners" {
  for_each = local.ingress_rules

  security_group_id = aws_security_group.this.id
  description       = "${each.value.port == 443 ? "HTTPS" : "HTTP"} from ${each.value.cidr}"
  cidr_ipv4         = each.value.cidr
  from_port         = each.value.port
  to_port           = each.value.port
  ip_protocol       = "tcp"

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.this.id
  description       = "Requests and health checks to the API tasks"
  cidr_ipv4         = var.vpc_cidr_block
  from_port         = var.app_port
  to_port           = var.app_port
  ip_protocol       = "tcp"

  tags = var.tags
}

resource "aws_s3_bucket" "access_logs" {
  # checkov:skip=CKV_AWS_18: this bucket is itself a log sink; server access logging would need yet another bucket, which would fail this check in turn.
  # checkov:skip=CKV_AWS_144: access logs are operational data kept for access_log_retention_days; a second-region copy is not worth its cost.
  # checkov:skip=CKV_AWS_145: ALB access log delivery supports only SSE-S3, not SSE-KMS.
  # checkov:skip=CKV2_AWS_62: nothing consumes the logs as they arrive, so there is no one to notify.
  bucket = local.access_logs_bucket
  # Without deletion protection (dev) the stack must be destroyable even after logs arrived.
  force_destroy = !var.enable_deletion_protection

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    # Versioning keeps deleted or overwritten logs recoverable for a week, not forever.
    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "ElbLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  # S3 answers OperationAborted to concurrent configuration changes on one bucket.
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_lb" "this" {
  # checkov:skip=CKV_AWS_150: deletion protection is the enable_deletion_protection input: on by default and in prod (asserted by infra/envs/prod's test), off in dev so it can be torn down.
  # checkov:skip=CKV2_AWS_20: with a certificate port 80 redirects to HTTPS; only an environment that sets allow_http_only (dev) serves plain HTTP.
  # checkov:skip=CKV2_AWS_28: whether to pay for WAF and which rules to tune is an environment decision; attach a web ACL to alb_arn with aws_wafv2_web_acl_association outside this module.
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.this.id]
  subnets            = var.public_subnet_ids

  drop_invalid_header_fields = true
  enable_deletion_protection = var.enable_deletion_protection
  idle_timeout               = var.idle_timeout

  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    enabled = true
  }

  tags = var.tags

  # The load balancer test-writes to the bucket when logging is switched on and fails
  # unless the bucket policy is already in place.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_lb_target_group" "api" {
  # checkov:skip=CKV_AWS_378: TLS ends at the load balancer; the plain-HTTP hop to gunicorn stays inside the VPC, to tasks in private subnets.
  name        = "${var.name}-api"
  vpc_id      = var.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = var.app_port

  # Longer than the longest synchronous request (IMAGEGEN_SYNC_WAIT_SECONDS, 60 s), so a
  # deploy drains a task without cutting waiting requests off.
  deregistration_delay = 70

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = var.tags
}

# One port-80 listener whose action changes with the mode, so adding a certificate later
# updates it in place instead of creating a second listener on the same port.
resource "aws_lb_listener" "http" {
  # checkov:skip=CKV_AWS_2: this listener redirects to HTTPS whenever a certificate is given; it forwards plain HTTP only where allow_http_only is set (dev).
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https_enabled ? "redirect" : "forward"
    target_group_arn = local.https_enabled ? null : aws_lb_target_group.api.arn

    dynamic "redirect" {
      for_each = local.https_enabled ? [1] : []

      content {
        protocol    = "HTTPS"
        port        = "443"
        status_code = "HTTP_301"
      }
    }
  }

  tags = var.tags
}

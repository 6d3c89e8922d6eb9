locals {
  port = 6379

  engine_major = split(".", var.engine_version)[0]
  # Redis 6 shares one family for all its minors; from 7 on the family is the major alone.
  parameter_group_family = local.engine_major == "6" ? "redis6.x" : "redis${local.engine_major}"

  high_availability = var.num_cache_clusters > 1
}

# Secrets Manager's punctuation includes characters ElastiCache rejects in AUTH tokens (such as
# @, " and /) and others the URL would need escaped, so the token is letters and digits only;
# 64 of them are far beyond guessing.
data "aws_secretsmanager_random_password" "auth_token" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "${var.name} Redis: TLS connections on ${local.port} from the allowed security groups only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-redis" })
}

# count rather than for_each: the IDs usually belong to security groups created in the same
# apply, and for_each keys must be known at plan time.
resource "aws_vpc_security_group_ingress_rule" "clients" {
  count = length(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "Redis from an allowed client security group"
  referenced_security_group_id = var.allowed_security_group_ids[count.index]
  from_port                    = local.port
  to_port                      = local.port
  ip_protocol                  = "tcp"

  tags = var.tags
}

resource "aws_elasticache_subnet_group" "this" {
  name        = "${var.name}-redis"
  description = "${var.name} Redis nodes"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_elasticache_parameter_group" "this" {
  # Parameter group names allow no dots ("redis6.x").
  name        = "${var.name}-${replace(local.parameter_group_family, ".", "-")}"
  family      = local.parameter_group_family
  description = "${var.name} Redis for the RQ job queue"

  # Evicting keys would silently drop queued jobs and their results; with noeviction a full
  # Redis refuses new writes instead, so enqueueing fails loudly.
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }

  tags = var.tags

  # A major version upgrade needs a group of the new family before the old one can go.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "slow_log" {
  name              = "/aws/elasticache/${var.name}-redis/slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = "${var.name}-redis"
  description          = "${var.name} Redis for the RQ job queue"

  engine         = "redis"
  engine_version = var.engine_version
  node_type      = var.node_type
  port           = local.port
  # RQ does not support Redis Cluster, so this stays one shard: a primary and its replicas.
  cluster_mode       = "disabled"
  num_cache_clusters = var.num_cache_clusters

  parameter_group_name = aws_elasticache_parameter_group.this.name
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = data.aws_secretsmanager_random_password.auth_token.random_password

  automatic_failover_enabled = local.high_availability
  multi_az_enabled           = local.high_availability

  snapshot_retention_limit   = var.snapshot_retention_limit
  apply_immediately          = var.apply_immediately
  auto_minor_version_upgrade = true

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  tags = var.tags

  lifecycle {
    # The password data source draws a new value on every plan; the token set at creation
    # stays, and the secret below is built from the value kept in state.
    ignore_changes = [auth_token]
  }
}

resource "aws_secretsmanager_secret" "redis_url" {
  # checkov:skip=CKV2_AWS_57: the URL embeds the replication group's AUTH token; rotating means changing the token on the group (ROTATE, then SET) and in the secret together, which needs a custom rotation Lambda outside this module.
  # A prefix, because a deleted secret's name stays taken for the recovery window and a dev
  # stack may be destroyed and recreated within it.
  name_prefix             = "${var.name}-redis-url-"
  description             = "${var.name}: Redis connection URL with AUTH token (IMAGEGEN_REDIS_URL)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id = aws_secretsmanager_secret.redis_url.id
  # Database 0 over TLS (rediss) with the AUTH token as the password of the default user.
  secret_string = format(
    "rediss://:%s@%s:%d/0",
    aws_elasticache_replication_group.this.auth_token,
    aws_elasticache_replication_group.this.primary_endpoint_address,
    local.port,
  )
}

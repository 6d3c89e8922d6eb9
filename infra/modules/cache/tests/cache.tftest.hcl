mock_provider "aws" {
  mock_data "aws_secretsmanager_random_password" {
    defaults = {
      random_password = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ01"
    }
  }

  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      primary_endpoint_address = "master.imagegen-test-redis.abc123.euw1.cache.amazonaws.com"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/elasticache/imagegen-test-redis/slow-log"
    }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:imagegen-test-redis-url-20261122000000000000000001-AbCdEf"
    }
  }
}

variables {
  name                       = "imagegen-test"
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  allowed_security_group_ids = ["sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2"]
  tags                       = { Project = "imagegen" }
}

run "encrypted_in_transit_and_at_rest_with_auth" {
  command = plan

  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled == true
    error_message = "Transit encryption (TLS) must be on."
  }

  assert {
    condition     = tostring(aws_elasticache_replication_group.this.at_rest_encryption_enabled) == "true"
    error_message = "At-rest encryption must be on."
  }

  assert {
    condition     = length(nonsensitive(aws_elasticache_replication_group.this.auth_token)) == 64
    error_message = "An AUTH token of 64 characters must be set."
  }

  assert {
    condition     = data.aws_secretsmanager_random_password.auth_token.exclude_punctuation == true
    error_message = "The AUTH token must not contain punctuation."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.engine == "redis" && aws_elasticache_replication_group.this.engine_version == "7.1"
    error_message = "The engine must be Redis 7.1 by default."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.cluster_mode == "disabled"
    error_message = "Cluster mode must stay off: RQ does not support Redis Cluster."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.auto_minor_version_upgrade == "true"
    error_message = "Minor version upgrades must be automatic."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.tags["Project"] == "imagegen"
    error_message = "tags must reach the replication group."
  }
}

run "parameter_group_never_evicts_queue_keys" {
  command = plan

  assert {
    condition     = aws_elasticache_parameter_group.this.family == "redis7"
    error_message = "Redis 7.1 needs the redis7 parameter group family."
  }

  assert {
    condition = anytrue([
      for p in aws_elasticache_parameter_group.this.parameter : p.name == "maxmemory-policy" && p.value == "noeviction"
    ])
    error_message = "maxmemory-policy must be noeviction."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.parameter_group_name == aws_elasticache_parameter_group.this.name
    error_message = "The replication group must use the module's parameter group."
  }
}

run "redis_6_uses_the_redis6_x_family" {
  command = plan

  variables {
    engine_version = "6.2"
  }

  assert {
    condition     = aws_elasticache_parameter_group.this.family == "redis6.x"
    error_message = "Redis 6 versions need the redis6.x parameter group family."
  }

  assert {
    condition     = aws_elasticache_parameter_group.this.name == "imagegen-test-redis6-x"
    error_message = "The parameter group name must replace the family's dot, which names may not contain."
  }
}

run "two_nodes_fail_over_across_azs" {
  command = plan

  variables {
    num_cache_clusters = 2
  }

  assert {
    condition     = aws_elasticache_replication_group.this.num_cache_clusters == 2
    error_message = "num_cache_clusters must set the node count."
  }

  assert {
    condition = (
      aws_elasticache_replication_group.this.automatic_failover_enabled == true &&
      aws_elasticache_replication_group.this.multi_az_enabled == true
    )
    error_message = "With a replica, automatic failover and Multi-AZ must be on."
  }
}

run "one_node_has_no_failover" {
  command = plan

  variables {
    num_cache_clusters = 1
  }

  assert {
    condition = (
      aws_elasticache_replication_group.this.automatic_failover_enabled == false &&
      aws_elasticache_replication_group.this.multi_az_enabled == false
    )
    error_message = "A single node cannot fail over; both settings must be off."
  }
}

run "zero_nodes_are_rejected" {
  command = plan

  variables {
    num_cache_clusters = 0
  }

  expect_failures = [var.num_cache_clusters]
}

run "only_the_allowed_security_groups_reach_6379" {
  command = plan

  assert {
    condition     = tolist([for r in aws_vpc_security_group_ingress_rule.clients : r.referenced_security_group_id]) == var.allowed_security_group_ids
    error_message = "Each allowed security group, and only those, must get an ingress rule."
  }

  assert {
    condition = alltrue([
      for r in aws_vpc_security_group_ingress_rule.clients :
      r.from_port == 6379 && r.to_port == 6379 && r.ip_protocol == "tcp" && r.cidr_ipv4 == null && r.cidr_ipv6 == null
    ])
    error_message = "Ingress must be TCP 6379 from security groups, never from CIDR blocks."
  }
}

run "slow_log_goes_to_cloudwatch" {
  command = plan

  variables {
    log_retention_days = 30
  }

  assert {
    condition = anytrue([
      for d in aws_elasticache_replication_group.this.log_delivery_configuration :
      d.log_type == "slow-log" && d.destination_type == "cloudwatch-logs" && d.destination == "/aws/elasticache/imagegen-test-redis/slow-log"
    ])
    error_message = "The slow log must be delivered to the module's log group."
  }

  assert {
    condition     = aws_cloudwatch_log_group.slow_log.retention_in_days == 30
    error_message = "log_retention_days must set the slow log's retention."
  }
}

run "secret_holds_the_rediss_url" {
  command = apply

  assert {
    condition     = startswith(nonsensitive(aws_secretsmanager_secret_version.redis_url.secret_string), "rediss://:")
    error_message = "The Redis URL must use TLS (rediss://) with the AUTH token as password."
  }

  assert {
    condition     = nonsensitive(aws_secretsmanager_secret_version.redis_url.secret_string) == "rediss://:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ01@master.imagegen-test-redis.abc123.euw1.cache.amazonaws.com:6379/0"
    error_message = "The Redis URL must carry the token, the primary endpoint, port 6379 and database 0."
  }

  assert {
    condition     = output.redis_url_secret_arn == aws_secretsmanager_secret.redis_url.arn
    error_message = "redis_url_secret_arn must be the secret's ARN."
  }

  assert {
    condition     = output.port == 6379 && output.primary_endpoint_address == "master.imagegen-test-redis.abc123.euw1.cache.amazonaws.com"
    error_message = "The endpoint outputs must describe the primary."
  }
}

# The password data source returns a new value on every plan; the token in use and the URL
# in the secret must not follow it.
run "a_new_random_password_does_not_change_the_token" {
  command = plan

  override_data {
    target = data.aws_secretsmanager_random_password.auth_token
    values = {
      random_password = "ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210zYxWvUtSrQpOnMlKjIhGfEdCbA98"
    }
  }

  assert {
    condition     = startswith(nonsensitive(aws_elasticache_replication_group.this.auth_token), "AbCdEf")
    error_message = "The AUTH token must keep the value it was created with."
  }

  assert {
    condition     = startswith(nonsensitive(aws_secretsmanager_secret_version.redis_url.secret_string), "rediss://:AbCdEf")
    error_message = "The secret must keep the token the replication group uses."
  }
}

run "client_security_groups_created_in_the_same_apply_still_plan" {
  command = plan

  module {
    source = "./tests/same_apply_clients"
  }
}

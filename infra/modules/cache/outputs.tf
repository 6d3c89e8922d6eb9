output "replication_group_id" {
  description = "ID of the ElastiCache replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint_address" {
  description = "DNS name of the primary node; it follows the primary across failovers."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Port Redis listens on (TLS)."
  value       = local.port
}

output "security_group_id" {
  description = "ID of the security group attached to the cache nodes."
  value       = aws_security_group.this.id
}

output "redis_url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the full rediss:// connection URL, for ECS to inject as IMAGEGEN_REDIS_URL. Readers need secretsmanager:GetSecretValue on it (and kms:Decrypt on kms_key_arn if one is set)."
  value       = aws_secretsmanager_secret.redis_url.arn
}

output "parameter_group_name" {
  description = "Name of the parameter group (maxmemory-policy noeviction)."
  value       = aws_elasticache_parameter_group.this.name
}

output "settings" {
  description = "The replication group's availability and security settings, for review and tests."
  value = {
    multi_az_enabled           = aws_elasticache_replication_group.this.multi_az_enabled
    automatic_failover_enabled = aws_elasticache_replication_group.this.automatic_failover_enabled
    transit_encryption_enabled = aws_elasticache_replication_group.this.transit_encryption_enabled
    at_rest_encryption_enabled = aws_elasticache_replication_group.this.at_rest_encryption_enabled
    auth_token_enabled         = nonsensitive(aws_elasticache_replication_group.this.auth_token != null)
    maxmemory_policy           = one([for p in aws_elasticache_parameter_group.this.parameter : p.value if p.name == "maxmemory-policy"])
    num_cache_clusters         = aws_elasticache_replication_group.this.num_cache_clusters
  }
}

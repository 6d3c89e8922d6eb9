output "api_url" {
  description = "Base URL of the API."
  value       = local.public_base_url
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point a custom domain's record here)."
  value       = module.alb.alb_dns_name
}

output "ecr_repository_url" {
  description = "Repository make deploy pushes the image to."
  value       = aws_ecr_repository.app.repository_url
}

output "table_name" {
  description = "DynamoDB table of the records (IMAGEGEN_DYNAMODB_TABLE)."
  value       = module.data.table_name
}

output "bucket_name" {
  description = "S3 bucket of the images (IMAGEGEN_S3_BUCKET)."
  value       = module.data.bucket_name
}

output "data_settings" {
  description = "The table's and bucket's protection settings and the image retentions."
  value = merge(module.data.settings, {
    temporary_retention_days = module.data.temporary_retention_days
    saved_retention_days     = module.data.saved_retention_days
  })
}

output "cluster_name" {
  description = "ECS cluster running the api and worker services."
  value       = module.ecs.cluster_name
}

output "api_service_name" {
  description = "ECS service of the API."
  value       = module.ecs.api_service_name
}

output "worker_service_name" {
  description = "ECS service of the workers."
  value       = module.ecs.worker_service_name
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the service."
  value       = module.observability.dashboard_url
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.observability.sns_topic_arn
}

output "app_environment" {
  description = "Environment variables both task definitions set (secrets excluded)."
  value       = local.app_environment
}

output "app_secret_names" {
  description = "Environment variables both task definitions take from Secrets Manager."
  value       = keys(local.app_secrets)
}

output "api_container_definition" {
  description = "The API container definition (JSON), for inspection and tests."
  value       = module.ecs.api_container_definition
}

output "worker_container_definition" {
  description = "The worker container definition (JSON), for inspection and tests."
  value       = module.ecs.worker_container_definition
}

output "task_role_policy_json" {
  description = "The task role's policy: everything the application may call."
  value       = module.ecs.task_role_policy_json
}

output "cache_settings" {
  description = "Redis availability and security settings."
  value       = module.cache.settings
}

output "alb_settings" {
  description = "Load balancer protection and TLS settings."
  value       = module.alb.settings
}

output "worker_scaling_metric_math" {
  description = "The metric math the worker service's target tracking follows."
  value       = module.ecs.worker_scaling_metric_math
}

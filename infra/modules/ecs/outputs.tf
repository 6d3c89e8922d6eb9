output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "api_service_name" {
  description = "Name of the API ECS service."
  value       = aws_ecs_service.api.name
}

output "worker_service_name" {
  description = "Name of the worker ECS service."
  value       = aws_ecs_service.worker.name
}

output "api_security_group_id" {
  description = "ID of the API tasks' security group (allow it into Redis)."
  value       = aws_security_group.this["api"].id
}

output "worker_security_group_id" {
  description = "ID of the worker tasks' security group (allow it into Redis)."
  value       = aws_security_group.this["worker"].id
}

output "task_role_arn" {
  description = "ARN of the IAM role the application code runs with."
  value       = aws_iam_role.task.arn
}

output "task_execution_role_arn" {
  description = "ARN of the IAM role ECS uses to pull the image, write logs and inject secrets."
  value       = aws_iam_role.execution.arn
}

output "task_role_policy_json" {
  description = "The task role's inline policy document (JSON), for review and tests of exactly what the code may do."
  value       = local.task_role_policy_json
}

output "api_log_group_name" {
  description = "CloudWatch Logs group of the API containers."
  value       = aws_cloudwatch_log_group.this["api"].name
}

output "worker_log_group_name" {
  description = "CloudWatch Logs group of the worker containers."
  value       = aws_cloudwatch_log_group.this["worker"].name
}

output "api_container_definition" {
  description = "The API container definition as registered (JSON object)."
  value       = jsonencode(local.api_container)
}

output "worker_container_definition" {
  description = "The worker container definition as registered (JSON object)."
  value       = jsonencode(local.worker_container)
}

output "worker_scaling_policy_name" {
  description = "Name of the worker service's backlog-per-task target tracking policy."
  value       = aws_appautoscaling_policy.worker_backlog.name
}

output "worker_scaling_metric_math" {
  description = "The worker scaling policy's metric queries: id => expression, or namespace/metric name for a metric (e.g. e1 = \"m1 / m2\", m1 = \"<namespace>/QueueDepth\")."
  value = {
    for m in aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics :
    m.id => try("${m.metric_stat[0].metric[0].namespace}/${m.metric_stat[0].metric[0].metric_name}", m.expression)
  }
}

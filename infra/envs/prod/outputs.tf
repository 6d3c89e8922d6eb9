output "api_url" {
  description = "Base URL of the API."
  value       = module.stack.api_url
}

output "ecr_repository_url" {
  description = "Repository make deploy pushes the image to."
  value       = module.stack.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster of the api and worker services."
  value       = module.stack.cluster_name
}

output "dashboard_url" {
  description = "CloudWatch dashboard."
  value       = module.stack.dashboard_url
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.stack.alarm_topic_arn
}

output "table_name" {
  description = "DynamoDB table of the records."
  value       = module.stack.table_name
}

output "bucket_name" {
  description = "S3 bucket of the images."
  value       = module.stack.bucket_name
}

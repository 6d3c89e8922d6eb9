output "sns_topic_arn" {
  description = "ARN of the SNS topic the alarms notify (subscribe further endpoints to it)."
  value       = aws_sns_topic.alarms.arn
}

output "sns_kms_key_arn" {
  description = "ARN of the KMS key encrypting the alarm topic (kms_key_arn, or the key this module created)."
  value       = local.sns_kms_key_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "alarm_names" {
  description = "Names of the alarms by purpose: five_xx_rate, failed_jobs, oldest_job_age, api_unhealthy_hosts."
  value = {
    five_xx_rate        = aws_cloudwatch_metric_alarm.five_xx_rate.alarm_name
    failed_jobs         = aws_cloudwatch_metric_alarm.failed_jobs.alarm_name
    oldest_job_age      = aws_cloudwatch_metric_alarm.oldest_job_age.alarm_name
    api_unhealthy_hosts = aws_cloudwatch_metric_alarm.api_unhealthy_hosts.alarm_name
  }
}

output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer, the LoadBalancer dimension of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "ID of the load balancer's security group; the API tasks' security group should admit app_port from it."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "ARN of the API target group the ECS service registers its tasks in."
  value       = aws_lb_target_group.api.arn
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group, the TargetGroup dimension of its CloudWatch metrics."
  value       = aws_lb_target_group.api.arn_suffix
}

output "api_url" {
  description = "Base URL of the API at the load balancer's DNS name: https:// with a certificate, http:// without. A custom domain on the certificate is the URL clients should use instead."
  value       = "${local.https_enabled ? "https" : "http"}://${aws_lb.this.dns_name}"
}

output "access_logs_bucket" {
  description = "Name of the S3 bucket that receives the access logs."
  value       = aws_s3_bucket.access_logs.id
}

output "settings" {
  description = "The load balancer's protection and TLS settings, for review and tests."
  value = {
    deletion_protection_enabled = aws_lb.this.enable_deletion_protection
    https_enabled               = local.https_enabled
    drop_invalid_header_fields  = aws_lb.this.drop_invalid_header_fields
    ssl_policy                  = local.https_enabled ? var.ssl_policy : null
  }
}

output "table_name" {
  description = "Name of the DynamoDB table (IMAGEGEN_DYNAMODB_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table; grant item access on it and on its indexes (<arn>/index/*)."
  value       = aws_dynamodb_table.this.arn
}

output "index_names" {
  description = "Names of the table's global secondary indexes."
  value       = sort(keys(local.indexes))
}

output "indexes" {
  description = "Each global secondary index's partition (hash_key) and sort (range_key) attribute."
  value       = local.indexes
}

output "bucket_name" {
  description = "Name of the images bucket (IMAGEGEN_S3_BUCKET)."
  value       = aws_s3_bucket.images.bucket
}

output "bucket_arn" {
  description = "ARN of the images bucket; grant object access on <arn>/*."
  value       = aws_s3_bucket.images.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the table and the bucket; readers and writers need kms:Decrypt and kms:GenerateDataKey on it."
  value       = aws_kms_key.this.arn
}

output "kms_alias_name" {
  description = "Alias of the KMS key."
  value       = aws_kms_alias.this.name
}

output "temporary_retention_days" {
  description = "Days a temporary image lives; set IMAGEGEN_TEMPORARY_RETENTION_DAYS to this, since the bucket's lifecycle rule follows it."
  value       = var.temporary_retention_days
}

output "saved_retention_days" {
  description = "Days a saved image lives (0 = forever); set IMAGEGEN_SAVED_RETENTION_DAYS to this, since the bucket's lifecycle rule follows it."
  value       = var.saved_retention_days
}

output "settings" {
  description = "The table's and bucket's protection settings, for review and tests."
  value = {
    deletion_protection_enabled = aws_dynamodb_table.this.deletion_protection_enabled
    point_in_time_recovery      = one(aws_dynamodb_table.this.point_in_time_recovery[*].enabled)
    versioning_status           = one(aws_s3_bucket_versioning.images.versioning_configuration[*].status)
    cors_enabled                = length(aws_s3_bucket_cors_configuration.images) > 0
  }
}

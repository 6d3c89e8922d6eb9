data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  alarm_names = {
    five_xx_rate        = "${var.name}-api-5xx-rate"
    failed_jobs         = "${var.name}-failed-jobs"
    oldest_job_age      = "${var.name}-oldest-job-age"
    api_unhealthy_hosts = "${var.name}-api-unhealthy-hosts"
  }

  # Every alarm name starts with "<name>-": the key policy lets CloudWatch use the key for
  # these alarms only.
  alarm_arn_pattern = "arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${var.name}-*"

  sns_kms_key_arn = var.create_kms_key ? one(aws_kms_key.alarms[*].arn) : var.kms_key_arn

  alb_dimensions = {
    LoadBalancer = var.alb_arn_suffix
  }
  target_group_dimensions = {
    LoadBalancer = var.alb_arn_suffix
    TargetGroup  = var.target_group_arn_suffix
  }

  # ---------------------------------------------------------------------------
  # Dashboard: two widgets a row, in reading order.
  # ---------------------------------------------------------------------------

  services = {
    api    = var.api_service_name
    worker = var.worker_service_name
  }

  metric_widgets = concat(
    [
      {
        title  = "ALB requests"
        stat   = "Sum"
        period = 60
        metrics = [
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { label = "Requests" }],
        ]
      },
      {
        title  = "HTTP errors"
        stat   = "Sum"
        period = 60
        metrics = [
          ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "Target 5xx" }],
          ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "Load balancer 5xx" }],
          ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "Target 4xx" }],
        ]
      },
      {
        title  = "Target response time (seconds)"
        stat   = "p50"
        period = 60
        metrics = [
          for p in ["p50", "p90", "p99"] :
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = p, label = p }]
        ]
      },
      {
        title  = "Job queue"
        stat   = "Maximum"
        period = 60
        metrics = [
          [var.metrics_namespace, "QueueDepth", { label = "Outstanding jobs" }],
          [var.metrics_namespace, "OldestJobAgeSeconds", { label = "Oldest queued job (s)", yAxis = "right" }],
        ]
      },
      {
        title  = "Job outcomes"
        stat   = "Sum"
        period = 300
        metrics = [
          [var.metrics_namespace, "JobsCompleted", { label = "Completed" }],
          [var.metrics_namespace, "JobsFailed", { label = "Failed", color = "#d62728" }],
        ]
      },
      {
        title  = "ECS CPU utilization (%)"
        stat   = "Average"
        period = 60
        metrics = [
          for role, service in local.services :
          ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", service, { label = role }]
        ]
      },
      {
        title  = "ECS memory utilization (%)"
        stat   = "Average"
        period = 60
        metrics = [
          for role, service in local.services :
          ["AWS/ECS", "MemoryUtilization", "ClusterName", var.cluster_name, "ServiceName", service, { label = role }]
        ]
      },
      {
        title  = "Running tasks"
        stat   = "Average"
        period = 60
        metrics = [
          for role, service in local.services :
          ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", service, { label = role }]
        ]
      },
    ],
    # S3 publishes storage metrics once a day, so the widget reads daily points.
    [
      for w in [{
        title  = "Image storage (daily)"
        stat   = "Average"
        period = 86400
        metrics = concat(
          # Saved images move to Standard-IA and Glacier Instant Retrieval (infra/modules/data).
          [
            for pair in setproduct(var.s3_bucket_names, ["StandardStorage", "StandardIAStorage", "GlacierInstantRetrievalStorage"]) :
            ["AWS/S3", "BucketSizeBytes", "BucketName", pair[0], "StorageType", pair[1], { label = "${pair[0]} ${pair[1]} bytes" }]
          ],
          [for b in var.s3_bucket_names : ["AWS/S3", "NumberOfObjects", "BucketName", b, "StorageType", "AllStorageTypes", { label = "${b} objects", yAxis = "right" }]],
        )
      }] : w if length(var.s3_bucket_names) > 0
    ],
  )

  widgets = concat(
    [
      for w in local.metric_widgets : {
        type = "metric"
        properties = {
          title   = w.title
          view    = "timeSeries"
          region  = var.region
          stat    = w.stat
          period  = w.period
          metrics = w.metrics
        }
      }
    ],
    [{
      type = "alarm"
      properties = {
        title  = "Alarms"
        alarms = [for a in [aws_cloudwatch_metric_alarm.five_xx_rate, aws_cloudwatch_metric_alarm.failed_jobs, aws_cloudwatch_metric_alarm.oldest_job_age, aws_cloudwatch_metric_alarm.api_unhealthy_hosts] : a.arn]
      }
    }],
  )
}

# -----------------------------------------------------------------------------
# Notification topic
# -----------------------------------------------------------------------------

# CloudWatch publishes to an encrypted topic only with a key whose policy grants it the key;
# the AWS managed alias/aws/sns key's policy cannot be changed, so without a caller's key the
# module creates one unless told to use the caller's.
resource "aws_kms_key" "alarms" {
  count = var.create_kms_key ? 1 : 0

  description             = "Encrypts the ${var.name} alarm notification topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account's IAM policies decide who administers and uses the key.
        Sid       = "AccountIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = local.alarm_arn_pattern }
        }
      },
    ]
  })

  tags = var.tags
}

resource "aws_kms_alias" "alarms" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms[0].key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = local.sns_kms_key_arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# -----------------------------------------------------------------------------
# Alarms
# -----------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "five_xx_rate" {
  alarm_name          = local.alarm_names.five_xx_rate
  alarm_description   = "More than ${var.five_xx_rate_threshold_percent}% of API requests answered 5xx by the tasks for 3 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.five_xx_rate_threshold_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  # No requests means no rate, not an outage.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = [aws_sns_topic.alarms.arn]
  ok_actions         = [aws_sns_topic.alarms.arn]

  metric_query {
    id    = "rate"
    label = "Target 5xx (% of requests)"
    # The ALB publishes no 5xx datapoint for a minute without errors: count that as 0.
    expression  = "100 * FILL(errors, 0) / requests"
    return_data = true
  }

  metric_query {
    id          = "errors"
    return_data = false

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.target_group_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id          = "requests"
    return_data = false

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.target_group_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failed_jobs" {
  alarm_name          = local.alarm_names.failed_jobs
  alarm_description   = "More than ${var.failed_jobs_threshold} generation jobs failed in 5 minutes."
  namespace           = var.metrics_namespace
  metric_name         = "JobsFailed"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.failed_jobs_threshold
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_job_age" {
  alarm_name          = local.alarm_names.oldest_job_age
  alarm_description   = "The oldest queued job has waited more than ${var.oldest_job_age_threshold_seconds} s for 3 minutes: the workers are not keeping up."
  namespace           = var.metrics_namespace
  metric_name         = "OldestJobAgeSeconds"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_job_age_threshold_seconds
  # The workers publish 0 for an empty queue; no datapoint at all means no worker is up,
  # which the running-task count on the dashboard shows.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = [aws_sns_topic.alarms.arn]
  ok_actions         = [aws_sns_topic.alarms.arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_unhealthy_hosts" {
  alarm_name          = local.alarm_names.api_unhealthy_hosts
  alarm_description   = "At least one API task has failed the load balancer's health checks for 3 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.target_group_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = var.tags
}

# -----------------------------------------------------------------------------
# Dashboard
# -----------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.widgets : merge(w, {
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
      })
    ]
  })

  lifecycle {
    # The alarms are created in the provider's region; a dashboard pointing elsewhere would
    # show other metrics than the alarms watch.
    precondition {
      condition     = var.region == data.aws_region.current.name
      error_message = "region must be the AWS provider's region (${data.aws_region.current.name})."
    }
  }
}

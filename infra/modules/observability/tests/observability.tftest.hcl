mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
}

# The mock provider's random strings are not ARNs, which alarm actions must be.
override_resource {
  target = aws_sns_topic.alarms
  values = { arn = "arn:aws:sns:eu-west-1:123456789012:imagegen-alarms" }
}

override_resource {
  target = aws_kms_key.alarms
  values = {
    arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}

variables {
  name                    = "imagegen"
  region                  = "eu-west-1"
  metrics_namespace       = "ImageGen"
  alb_arn_suffix          = "app/imagegen/0123456789abcdef"
  target_group_arn_suffix = "targetgroup/imagegen-api/fedcba9876543210"
  cluster_name            = "imagegen"
  api_service_name        = "imagegen-api"
  worker_service_name     = "imagegen-worker"
}

run "dashboard_shows_the_app_metrics_in_its_namespace" {
  command = apply

  assert {
    condition = anytrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m[0] == "ImageGen" && m[1] == "QueueDepth"
      ]
    ]))
    error_message = "The dashboard must show QueueDepth from the metrics namespace."
  }

  assert {
    condition = anytrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m[0] == "ImageGen" && m[1] == "JobsFailed"
      ]
    ]))
    error_message = "The dashboard must show JobsFailed from the metrics namespace."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : "${m[0]}/${m[1]}"
      ]
      ])) == toset([
      "AWS/ApplicationELB/RequestCount",
      "AWS/ApplicationELB/HTTPCode_Target_5XX_Count",
      "AWS/ApplicationELB/HTTPCode_ELB_5XX_Count",
      "AWS/ApplicationELB/HTTPCode_Target_4XX_Count",
      "AWS/ApplicationELB/TargetResponseTime",
      "ImageGen/QueueDepth",
      "ImageGen/OldestJobAgeSeconds",
      "ImageGen/JobsCompleted",
      "ImageGen/JobsFailed",
      "AWS/ECS/CPUUtilization",
      "AWS/ECS/MemoryUtilization",
      "ECS/ContainerInsights/RunningTaskCount",
    ])
    error_message = "Without buckets the dashboard shows the ALB, queue, job and ECS metrics and no storage."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m[4].stat if m[1] == "TargetResponseTime"
      ]
    ])) == toset(["p50", "p90", "p99"])
    error_message = "Latency must be shown as p50, p90 and p99."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : "${m[1]} ${m[2]}=${m[3]} ${m[4]}=${m[5]}"
        if contains(["AWS/ECS", "ECS/ContainerInsights"], m[0])
      ]
      ])) == toset(flatten([
      for metric in ["CPUUtilization", "MemoryUtilization", "RunningTaskCount"] : [
        for service in ["imagegen-api", "imagegen-worker"] : "${metric} ClusterName=imagegen ServiceName=${service}"
      ]
    ]))
    error_message = "CPU, memory and running task counts must be shown for both services of the cluster."
  }

  assert {
    condition     = output.dashboard_url == "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=imagegen"
    error_message = "dashboard_url must open the dashboard in its region."
  }
}

run "dashboard_adds_storage_for_buckets" {
  command = apply

  variables {
    s3_bucket_names = ["imagegen-images"]
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : "${m[1]}:${m[3]}:${m[5]}" if m[0] == "AWS/S3"
      ]
      ])) == toset([
      "BucketSizeBytes:imagegen-images:StandardStorage",
      "BucketSizeBytes:imagegen-images:StandardIAStorage",
      "BucketSizeBytes:imagegen-images:GlacierInstantRetrievalStorage",
      "NumberOfObjects:imagegen-images:AllStorageTypes",
    ])
    error_message = "Each bucket must get its size in every storage class its images move through, and its object count."
  }

  assert {
    condition = one([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.period
      if try(w.properties.metrics[0][0], "") == "AWS/S3"
    ]) == 86400
    error_message = "S3 storage metrics are daily."
  }
}

run "alarms_notify_the_topic_with_their_thresholds" {
  command = apply

  variables {
    five_xx_rate_threshold_percent   = 2
    failed_jobs_threshold            = 10
    oldest_job_age_threshold_seconds = 600
    alarm_emails                     = ["oncall@example.com"]
  }

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.five_xx_rate, aws_cloudwatch_metric_alarm.failed_jobs, aws_cloudwatch_metric_alarm.oldest_job_age, aws_cloudwatch_metric_alarm.api_unhealthy_hosts] :
      a.alarm_actions == toset([output.sns_topic_arn]) && a.ok_actions == toset([output.sns_topic_arn]) && a.actions_enabled
    ])
    error_message = "Every alarm must notify the SNS topic on alarm and on OK."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.five_xx_rate.threshold == 2
      && aws_cloudwatch_metric_alarm.five_xx_rate.evaluation_periods == 3
      && aws_cloudwatch_metric_alarm.five_xx_rate.datapoints_to_alarm == 3
      && aws_cloudwatch_metric_alarm.five_xx_rate.treat_missing_data == "notBreaching"
    )
    error_message = "The 5xx alarm must fire above the threshold for 3 of 3 minutes, ignoring missing data."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.failed_jobs.threshold == 10
      && aws_cloudwatch_metric_alarm.failed_jobs.metric_name == "JobsFailed"
      && aws_cloudwatch_metric_alarm.failed_jobs.namespace == "ImageGen"
      && aws_cloudwatch_metric_alarm.failed_jobs.statistic == "Sum"
      && aws_cloudwatch_metric_alarm.failed_jobs.period == 300
    )
    error_message = "The failed-jobs alarm must sum JobsFailed over 5 minutes against its threshold."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.oldest_job_age.threshold == 600
      && aws_cloudwatch_metric_alarm.oldest_job_age.metric_name == "OldestJobAgeSeconds"
      && aws_cloudwatch_metric_alarm.oldest_job_age.statistic == "Maximum"
      && aws_cloudwatch_metric_alarm.oldest_job_age.evaluation_periods == 3
    )
    error_message = "The queue-age alarm must watch the maximum OldestJobAgeSeconds for 3 periods."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.api_unhealthy_hosts.metric_name == "UnHealthyHostCount"
      && aws_cloudwatch_metric_alarm.api_unhealthy_hosts.threshold == 0
      && aws_cloudwatch_metric_alarm.api_unhealthy_hosts.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.api_unhealthy_hosts.dimensions == tomap({ LoadBalancer = "app/imagegen/0123456789abcdef", TargetGroup = "targetgroup/imagegen-api/fedcba9876543210" })
    )
    error_message = "The unhealthy-hosts alarm must fire on any unhealthy API target."
  }

  assert {
    condition     = output.alarm_names == { five_xx_rate = "imagegen-api-5xx-rate", failed_jobs = "imagegen-failed-jobs", oldest_job_age = "imagegen-oldest-job-age", api_unhealthy_hosts = "imagegen-api-unhealthy-hosts" }
    error_message = "alarm_names must map each purpose to its alarm."
  }

  assert {
    condition     = aws_sns_topic_subscription.email["oncall@example.com"].protocol == "email" && aws_sns_topic_subscription.email["oncall@example.com"].topic_arn == output.sns_topic_arn
    error_message = "Each alarm email must be subscribed to the topic."
  }
}

run "five_xx_alarm_is_a_rate_over_request_count" {
  command = apply

  assert {
    condition = one([
      for q in aws_cloudwatch_metric_alarm.five_xx_rate.metric_query : q.expression if q.return_data == true
    ]) == "100 * FILL(errors, 0) / requests"
    error_message = "The 5xx alarm must return 100 * 5xx / requests."
  }

  assert {
    condition = toset([
      for q in aws_cloudwatch_metric_alarm.five_xx_rate.metric_query : "${q.id}=${one(q.metric).metric_name}" if length(q.metric) > 0
    ]) == toset(["errors=HTTPCode_Target_5XX_Count", "requests=RequestCount"])
    error_message = "The expression's inputs must be HTTPCode_Target_5XX_Count and RequestCount."
  }

  assert {
    condition = alltrue([
      for q in aws_cloudwatch_metric_alarm.five_xx_rate.metric_query :
      one(q.metric).stat == "Sum" && one(q.metric).period == 60 && one(q.metric).namespace == "AWS/ApplicationELB" if length(q.metric) > 0
    ])
    error_message = "Both inputs are per-minute ALB sums."
  }
}

run "topic_is_encrypted_with_a_key_cloudwatch_may_use" {
  command = apply

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == aws_kms_key.alarms[0].arn && output.sns_kms_key_arn == aws_kms_key.alarms[0].arn
    error_message = "Without kms_key_arn the topic must use the module's key."
  }

  assert {
    condition = one([
      for s in jsondecode(aws_kms_key.alarms[0].policy).Statement : s.Condition.ArnLike["aws:SourceArn"]
      if try(s.Principal.Service, "") == "cloudwatch.amazonaws.com"
    ]) == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:imagegen-*"
    error_message = "The key must let CloudWatch use it for this module's alarms only."
  }

  assert {
    condition     = aws_kms_key.alarms[0].enable_key_rotation
    error_message = "The key must rotate."
  }
}

run "topic_uses_the_given_key" {
  command = apply

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == var.kms_key_arn && length(aws_kms_key.alarms) == 0
    error_message = "A given key must be used instead of creating one."
  }
}

run "rejects_a_region_other_than_the_providers" {
  command = plan

  variables {
    region = "us-east-1"
  }

  expect_failures = [aws_cloudwatch_dashboard.this]
}

run "rejects_an_arn_as_alb_suffix" {
  command = plan

  variables {
    alb_arn_suffix = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/imagegen/0123456789abcdef"
  }

  expect_failures = [var.alb_arn_suffix]
}

run "a_missing_key_is_refused_when_none_is_created" {
  command = plan

  variables {
    create_kms_key = false
  }

  expect_failures = [var.kms_key_arn]
}

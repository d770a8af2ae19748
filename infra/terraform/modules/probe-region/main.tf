# One probe region: the probe function, its one-minute schedule(s) carrying this region's name,
# IAM to write results to the home region's results table only, and this region's alarms.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # The region this stack writes as: a private location's name, or this AWS region.
  region  = var.location != "" ? var.location : data.aws_region.current.name
  probe   = var.location != "" ? "${var.prefix}probe-${var.location}" : "${var.prefix}probe"
  in_vpc  = length(var.subnet_ids) > 0
  account = data.aws_caller_identity.current.account_id
  arn     = "arn:${data.aws_partition.current.partition}"
  # The home module's checks bucket (aws_s3_bucket.checks), named the same way.
  checks_bucket = "${var.prefix}checks-${local.account}-${var.home_region}"
  table         = "arn:${data.aws_partition.current.partition}:dynamodb:${var.home_region}:${local.account}:table"
}

module "alarms_key" {
  source      = "../key"
  description = "Atalaya regional alarm topic"
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.prefix}alarms-${local.region}"
  kms_master_key_id = module.alarms_key.arn
}

resource "aws_sns_topic_subscription" "alarms" {
  for_each  = toset(var.operator_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_log_group" "probe" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  name              = "/aws/lambda/${local.probe}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "probe" {
  name = "${var.prefix}probe-${local.region}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "probe" {
  name = "probe"
  role = aws_iam_role.probe.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.probe.arn}:*" },
      # Only this region's own results (the partition key is the region): a region cannot write
      # results in another region's name and sway the quorum.
      {
        Sid       = "WriteResults", Effect = "Allow", Action = ["dynamodb:BatchWriteItem"], Resource = "${local.table}/${var.prefix}results"
        Condition = { "ForAllValues:StringEquals" = { "dynamodb:LeadingKeys" = [local.region] } }
      },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${local.arn}:s3:::${local.checks_bucket}/checks.tar.gz" },
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = "${local.arn}:s3:::${local.checks_bucket}"
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
      # The checks' ${ssm:...} and ${secret:...} references, under the prefix only.
      { Sid = "ReadParameters", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = "${local.arn}:ssm:${var.home_region}:${local.account}:parameter/${var.secrets_prefix}probe/*" },
      { Sid = "ReadSecrets", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = "${local.arn}:secretsmanager:${var.home_region}:${local.account}:secret:${var.secrets_prefix}probe/*" },
    ]
  })
}

resource "aws_lambda_function" "probe" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: a new account's concurrency quota is 10 and reserving any of it fails the deploy; racing evaluations are safe (version-conditioned commits).
  #checkov:skip=CKV_AWS_116:No DLQ for the probe function: its schedules do not retry, a failed run is superseded a minute later, and silence is alarmed (probe-not-invoked, probe-errors, SilentRegions).
  #checkov:skip=CKV_AWS_117:A public probe region probes the internet from AWS's network, where a VPC would need a NAT gateway (~$32/month) and protect nothing; a private location sets subnet_ids and runs in the team's VPC.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only table names, topic ARNs and numbers; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  function_name    = local.probe
  filename         = var.probe_package
  source_code_hash = filebase64sha256(var.probe_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  # Minute checks end within 55 s (2,000 a shard, 64 in flight); sub-minute checks' last round
  # starts before second 60 and ends within its interval (at most 30 s).
  timeout = 95
  # No reserved concurrency: a new account's quota is 10, and reserving any of it fails.
  role = aws_iam_role.probe.arn

  # A private location: inside the team's VPC.
  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tracing_config {
    mode = "PassThrough"
  }
  environment {
    variables = {
      ATALAYA_CHECKS           = "checks.yaml"
      ATALAYA_HOME_REGION      = var.home_region
      ATALAYA_TABLE_PREFIX     = var.prefix
      ATALAYA_CONCURRENCY      = tostring(var.concurrency)
      ATALAYA_RESULTS_TTL_DAYS = tostring(var.results_ttl_days)
      ATALAYA_CHECKS_BUCKET    = local.checks_bucket
    }
  }
  depends_on = [aws_cloudwatch_log_group.probe, aws_iam_role_policy.probe]
}

# Invoked asynchronously by the schedules: no retries, at most a minute late (a missed minute is
# better than a late one; the next run comes a minute later).
resource "aws_lambda_function_event_invoke_config" "probe" {
  function_name                = aws_lambda_function.probe.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_iam_role" "scheduler" {
  name = "${var.prefix}probe-schedule-${local.region}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-probe"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = aws_lambda_function.probe.arn }]
  })
}

resource "aws_scheduler_schedule" "probe" {
  #checkov:skip=CKV_AWS_297:The schedules' payloads are a region name or a tick flag: nothing to protect with a customer key.
  count = var.shards
  name  = "${local.probe}-${count.index}"
  # At the start of every minute, so the regions' runs of a minute reach the alert function together.
  schedule_expression = "cron(* * * * ? *)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.probe.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ region = local.region, shard = count.index, shards = var.shards })
    # A missed minute is better than a late one: the next run comes in a minute.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}

locals {
  alarms = {
    "probe-errors"      = { metric = "Errors", op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "The probe function failed in this region (results not written)." }
    "probe-throttles"   = { metric = "Throttles", op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "The probe function is throttled in this region (runs skipped)." }
    "probe-not-invoked" = { metric = "Invocations", op = "LessThanThreshold", missing = "breaching", text = "The probe function has not been invoked in 5 minutes in this region." }
  }
}

resource "aws_cloudwatch_metric_alarm" "probe" {
  for_each            = local.alarms
  alarm_name          = "${var.prefix}${each.key}-${local.region}"
  alarm_description   = each.value.text
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.probe.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = each.value.op
  treat_missing_data  = each.value.missing
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# A published checks file that did not load here: the last good one keeps running.
resource "aws_cloudwatch_metric_alarm" "checks_rejected" {
  alarm_name          = "${var.prefix}checks-file-rejected-${local.region}"
  alarm_description   = "A published checks file was refused here (see the probe function's log for every problem); the last good one keeps running."
  namespace           = "Atalaya"
  metric_name         = "ChecksFileRejected"
  dimensions          = { Region = local.region }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# In a VPC, Lambda makes the function's network interfaces with the role's permission.
resource "aws_iam_role_policy_attachment" "vpc" {
  count      = local.in_vpc ? 1 : 0
  role       = aws_iam_role.probe.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

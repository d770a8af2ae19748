# The rollup job (docs/architecture.md, "Rollups"): every 10 minutes, each check's time per region
# and the latency percentiles of the hours gone by, read from the results table and kept per
# service and hour in the state table.

resource "aws_cloudwatch_log_group" "rollup" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  name              = "/aws/lambda/${var.prefix}rollup"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "rollup" {
  name = "${var.prefix}rollup"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "rollup" {
  name = "rollup"
  role = aws_iam_role.rollup.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.rollup.arn}:*" },
      # Each region's results of an hour (pk = region, sk = time).
      { Sid = "ReadResults", Effect = "Allow", Action = ["dynamodb:Query"], Resource = aws_dynamodb_table.results.arn },
      # Only the rollup items (rollup#<service>#<hour>) and the job's progress
      # (rollups-done#<hour>): never the engine's state, the lease or the pulse.
      {
        Sid       = "RollupItems", Effect = "Allow", Action = ["dynamodb:BatchGetItem", "dynamodb:PutItem"], Resource = aws_dynamodb_table.state.arn
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["rollup#*", "rollups-done#*"] } }
      },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${aws_s3_bucket.checks.arn}/checks.tar.gz" },
      # HeadObject says "not found" (rather than "access denied") before the first publish.
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.checks.arn
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
    ]
  })
}

resource "aws_lambda_function" "rollup" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: a new account's concurrency quota is 10 and reserving any of it fails the deploy; two runs at once write the same hours.
  #checkov:skip=CKV_AWS_116:A scheduled job with nothing to hand on: a failed run leaves its hours to the next run (10 minutes later); the errors and behind alarms tell the operators.
  #checkov:skip=CKV_AWS_117:The job talks to DynamoDB and S3 over AWS's endpoints; a VPC would need endpoints or a NAT gateway and protect nothing.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only table and bucket names; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  function_name    = "${var.prefix}rollup"
  filename         = var.rollup_package
  source_code_hash = filebase64sha256(var.rollup_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  # An hour of 20,000 checks in one region is 1.2 million results (docs/performance.md): a
  # gigabyte gives the CPU to read it in seconds and room to spare.
  memory_size = 1024
  timeout     = 300
  role        = aws_iam_role.rollup.arn

  tracing_config {
    mode = "PassThrough"
  }
  environment {
    variables = {
      ATALAYA_CHECKS        = "checks.yaml"
      ATALAYA_RESULTS_TABLE = aws_dynamodb_table.results.name
      ATALAYA_STATE_TABLE   = aws_dynamodb_table.state.name
      ATALAYA_CHECKS_BUCKET = aws_s3_bucket.checks.id
    }
  }
  depends_on = [aws_cloudwatch_log_group.rollup, aws_iam_role_policy.rollup]
}

resource "aws_lambda_function_event_invoke_config" "rollup" {
  function_name                = aws_lambda_function.rollup.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 600
}

resource "aws_iam_role" "rollup_schedule" {
  name = "${var.prefix}rollup-schedule"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "rollup_schedule" {
  name = "invoke-rollup"
  role = aws_iam_role.rollup_schedule.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = aws_lambda_function.rollup.arn }]
  })
}

resource "aws_scheduler_schedule" "rollup" {
  #checkov:skip=CKV_AWS_297:The schedule's payload is empty: nothing to protect with a customer key.
  name = "${var.prefix}rollup"
  # From 7 past the hour (results of the hour before have settled), every 10 minutes.
  schedule_expression = "cron(7/10 * * * ? *)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.rollup.arn
    role_arn = aws_iam_role.rollup_schedule.arn
    input    = jsonencode({})
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 600
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "rollup_errors" {
  alarm_name          = "${var.prefix}rollup-errors"
  alarm_description   = "The rollup job failed twice in an hour; reports and pages may lack each check's figures and latency until it catches up (it looks back a day)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.rollup.function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

resource "aws_cloudwatch_metric_alarm" "rollup_behind" {
  alarm_name          = "${var.prefix}rollup-behind"
  alarm_description   = "The rollup job has had hours of the last day left to do for an hour, or has not run; past a day, those hours are lost to the reports."
  namespace           = "Atalaya"
  metric_name         = "RollupHoursPending"
  dimensions          = { Function = "rollup" }
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# Heartbeats (docs/architecture.md, "Heartbeats"): jobs ping the ping function's URL; each minute
# the judge calls that URL's /alive and judges every heartbeat. Both write results to the results
# table under the region `heartbeats` only, and touch only the heartbeat items of the state
# table. One artefact, two functions, two roles. The tokens and settings.heartbeats.key are read
# under secrets_prefix.

resource "aws_cloudwatch_log_group" "ping" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (tokens and values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  name              = "/aws/lambda/${var.prefix}ping"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "ping" {
  name = "${var.prefix}ping"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "ping" {
  name = "ping"
  role = aws_iam_role.ping.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.ping.arn}:*" },
      # Each result under the region `heartbeats` only.
      {
        Sid       = "WriteResults", Effect = "Allow", Action = ["dynamodb:BatchWriteItem"], Resource = aws_dynamodb_table.results.arn
        Condition = { "ForAllValues:StringEquals" = { "dynamodb:LeadingKeys" = ["heartbeats"] } }
      },
      # The heartbeats' ping logs (heartbeat#<check>); the endpoint's mark is only read (its
      # /alive proves the table answers).
      {
        Sid       = "PingLogs", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem"], Resource = aws_dynamodb_table.state.arn
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["heartbeat#*"] } }
      },
      {
        Sid       = "EndpointMark", Effect = "Allow", Action = ["dynamodb:GetItem"], Resource = aws_dynamodb_table.state.arn
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["heartbeat-endpoint"] } }
      },
      { Sid = "TokenParameters", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = "${local.arn}:ssm:${local.region}:${local.account}:parameter/${var.secrets_prefix}heartbeat/*" },
      { Sid = "TokenSecrets", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = "${local.arn}:secretsmanager:${local.region}:${local.account}:secret:${var.secrets_prefix}heartbeat/*" },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${aws_s3_bucket.checks.arn}/checks.tar.gz" },
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.checks.arn
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
    ]
  })
}

resource "aws_lambda_function" "ping" {
  #checkov:skip=CKV_AWS_115:Reserved concurrency is public_concurrency (0 by default: a new account's quota of 10 cannot spare any); the HTTP API's throttling bounds the requests that reach it.
  #checkov:skip=CKV_AWS_116:The HTTP API invokes it synchronously: a dead-letter queue applies to asynchronous invocations only (a job whose ping failed sends it again).
  #checkov:skip=CKV_AWS_117:The endpoint talks to DynamoDB, SSM and S3 over AWS's endpoints; a VPC would need endpoints or a NAT gateway and protect nothing.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only table and bucket names; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  function_name    = "${var.prefix}ping"
  filename         = var.ping_package
  source_code_hash = filebase64sha256(var.ping_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 128
  timeout          = 10
  role             = aws_iam_role.ping.arn
  # -1: none reserved.
  reserved_concurrent_executions = var.public_concurrency == 0 ? -1 : var.public_concurrency

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
  depends_on = [aws_cloudwatch_log_group.ping, aws_iam_role_policy.ping]
}

# Jobs anywhere ping it without AWS credentials: the token in the path (unguessable, one per
# heartbeat, checked by the function) is the authorisation; pings are rate-limited per token, and
# the HTTP API's throttling bounds what anyone can send (docs/deploy.md, "Public endpoints").
module "ping_endpoint" {
  source        = "./modules/public-endpoint"
  name          = "${var.prefix}ping"
  function_name = aws_lambda_function.ping.function_name
  function_arn  = aws_lambda_function.ping.arn
  rate_limit    = var.ping_rate_limit
  burst_limit   = var.ping_burst_limit
}

resource "aws_cloudwatch_log_group" "ping_judge" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (tokens and values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  name              = "/aws/lambda/${var.prefix}ping-judge"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "ping_judge" {
  name = "${var.prefix}ping-judge"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "ping_judge" {
  name = "ping-judge"
  role = aws_iam_role.ping_judge.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.ping_judge.arn}:*" },
      # Each result under the region `heartbeats` only.
      {
        Sid       = "WriteResults", Effect = "Allow", Action = ["dynamodb:BatchWriteItem"], Resource = aws_dynamodb_table.results.arn
        Condition = { "ForAllValues:StringEquals" = { "dynamodb:LeadingKeys" = ["heartbeats"] } }
      },
      # Reads every ping log; writes only the endpoint's mark.
      {
        Sid       = "PingLogs", Effect = "Allow", Action = ["dynamodb:BatchGetItem"], Resource = aws_dynamodb_table.state.arn
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["heartbeat#*"] } }
      },
      {
        Sid       = "EndpointMark", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem"], Resource = aws_dynamodb_table.state.arn
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["heartbeat-endpoint"] } }
      },
      { Sid = "TokenParameters", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = "${local.arn}:ssm:${local.region}:${local.account}:parameter/${var.secrets_prefix}heartbeat/*" },
      { Sid = "TokenSecrets", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = "${local.arn}:secretsmanager:${local.region}:${local.account}:secret:${var.secrets_prefix}heartbeat/*" },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${aws_s3_bucket.checks.arn}/checks.tar.gz" },
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.checks.arn
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
    ]
  })
}

resource "aws_lambda_function" "ping_judge" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: a new account's concurrency quota is 10 and reserving any of it fails the deploy; two judges at once write the same results.
  #checkov:skip=CKV_AWS_116:A scheduled job with nothing to hand on: the next minute judges again; the endpoint-down alarm watches it.
  #checkov:skip=CKV_AWS_117:The judge calls the endpoint's public URL, as jobs do, and DynamoDB over AWS's endpoints; a VPC would need a NAT gateway and protect nothing.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only table and bucket names and the endpoint's public URL; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  function_name    = "${var.prefix}ping-judge"
  filename         = var.ping_package
  source_code_hash = filebase64sha256(var.ping_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 128
  timeout          = 30
  role             = aws_iam_role.ping_judge.arn

  tracing_config {
    mode = "PassThrough"
  }
  environment {
    variables = {
      ATALAYA_CHECKS        = "checks.yaml"
      ATALAYA_RESULTS_TABLE = aws_dynamodb_table.results.name
      ATALAYA_STATE_TABLE   = aws_dynamodb_table.state.name
      ATALAYA_CHECKS_BUCKET = aws_s3_bucket.checks.id
      ATALAYA_PING_URL      = module.ping_endpoint.endpoint
    }
  }
  depends_on = [aws_cloudwatch_log_group.ping_judge, aws_iam_role_policy.ping_judge]
}

resource "aws_lambda_function_event_invoke_config" "ping_judge" {
  function_name                = aws_lambda_function.ping_judge.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_iam_role" "ping_judge_schedule" {
  name = "${var.prefix}ping-judge-schedule"
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

resource "aws_iam_role_policy" "ping_judge_schedule" {
  name = "invoke-ping-judge"
  role = aws_iam_role.ping_judge_schedule.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = aws_lambda_function.ping_judge.arn }]
  })
}

resource "aws_scheduler_schedule" "ping_judge" {
  #checkov:skip=CKV_AWS_297:The schedule's payload is a constant: nothing to protect with a customer key.
  name                = "${var.prefix}ping-judge"
  schedule_expression = "cron(* * * * ? *)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.ping_judge.arn
    role_arn = aws_iam_role.ping_judge_schedule.arn
    input    = jsonencode({ judge = true })
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "ping_endpoint_down" {
  alarm_name          = "${var.prefix}ping-endpoint-down"
  alarm_description   = "The heartbeats' ping URL did not answer the judge for 3 minutes, or the judge has not run; every heartbeat is unknown (never down) until it does, and customers hear nothing."
  namespace           = "Atalaya"
  metric_name         = "PingEndpointDown"
  dimensions          = { Function = "ping" }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

resource "aws_cloudwatch_metric_alarm" "ping_errors" {
  alarm_name          = "${var.prefix}ping-errors"
  alarm_description   = "The ping endpoint failed; jobs' pings may be lost (each job's ping is retried by the job; the judge says unknown where one may be missing)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.ping.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# The pings the function itself could not keep (its store failed), told apart from the API's 5xx
# below (which also counts a function that crashed or was throttled).
resource "aws_cloudwatch_metric_alarm" "ping_failed" {
  alarm_name          = "${var.prefix}ping-failed"
  alarm_description   = "The ping endpoint could not keep pings (its table failed) at least once in 5 minutes; the jobs send them again, and heartbeats may be judged unknown."
  namespace           = "Atalaya"
  metric_name         = "PingsFailed"
  dimensions          = { Function = "ping" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# A ping the endpoint could not store is answered 503 (the job tries again), not a Lambda error:
# the HTTP API's 5xx count is what says pings are being lost.
resource "aws_cloudwatch_metric_alarm" "ping_5xx" {
  alarm_name          = "${var.prefix}ping-5xx"
  alarm_description   = "The ping endpoint answered with server errors (it could not store pings) at least 3 times in 5 minutes; jobs' heartbeats may be judged missing."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = module.ping_endpoint.api_id, Stage = "$default" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

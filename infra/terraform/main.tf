# Atalaya's home region: tables, topics, the alert function and the alarms that watch the
# monitoring itself. Probe regions: modules/probe-region, once per region (see
# examples/three-regions).

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  tables = {
    results     = "${var.prefix}results"
    state       = "${var.prefix}state"
    incidents   = "${var.prefix}incidents"
    outbox      = "${var.prefix}outbox"
    subscribers = "${var.prefix}subscribers"
  }
}

module "topics_key" {
  source                = "./modules/key"
  description           = "Atalaya SNS topics and the alert dead-letter queue"
  account_uses_it       = true
  ses_configuration_set = local.mail ? "${var.prefix}mail" : ""
}

resource "aws_dynamodb_table" "results" {
  #checkov:skip=CKV_AWS_119:Tables use DynamoDB's AWS-managed KMS key: they hold probe results and incidents, no customer secrets; a CMK would add cross-region key grants for every probe region.
  name             = local.tables.results
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "pk"
  range_key        = "sk"
  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  deletion_protection_enabled = true
}

resource "aws_dynamodb_table" "state" {
  #checkov:skip=CKV_AWS_119:Tables use DynamoDB's AWS-managed KMS key: they hold probe results and incidents, no customer secrets; a CMK would add cross-region key grants for every probe region.
  name         = local.tables.state
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }
  # Rollup hours (rollup#<service>#<day>) expire 400 days after their day.
  ttl {
    attribute_name = "expires"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  deletion_protection_enabled = true
}

resource "aws_dynamodb_table" "incidents" {
  #checkov:skip=CKV_AWS_119:Tables use DynamoDB's AWS-managed KMS key: they hold probe results and incidents, no customer secrets; a CMK would add cross-region key grants for every probe region.
  name         = local.tables.incidents
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  deletion_protection_enabled = true
}

resource "aws_dynamodb_table" "outbox" {
  #checkov:skip=CKV_AWS_119:Tables use DynamoDB's AWS-managed KMS key: they hold probe results and incidents, no customer secrets; a CMK would add cross-region key grants for every probe region.
  name         = local.tables.outbox
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "pending"
    type = "S"
  }
  attribute {
    name = "created"
    type = "S"
  }
  global_secondary_index {
    name            = "pending"
    hash_key        = "pending"
    range_key       = "created"
    projection_type = "ALL"
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  deletion_protection_enabled = true
}

# Customer email: subscribers (pk = sub-..., listed per customer by the by_customer index) and,
# per message and subscriber, whether the mail went out (pk = mail#..., expiring after 30 days).
resource "aws_dynamodb_table" "subscribers" {
  #checkov:skip=CKV_AWS_119:Subscribers' addresses are encrypted at rest with DynamoDB's AWS-managed key; a CMK would add key grants for the mailer, the pages and every operator who manages subscribers, for no reader that the table's IAM does not already stop.
  name         = local.tables.subscribers
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "customer"
    type = "S"
  }
  attribute {
    name = "email"
    type = "S"
  }
  global_secondary_index {
    name            = "by_customer"
    hash_key        = "customer"
    range_key       = "email"
    projection_type = "ALL"
  }
  ttl {
    attribute_name = "expires"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled = true
  }
  deletion_protection_enabled = true
}

# The published checks file (`atalaya publish-checks`): versioned, private, TLS only. The
# functions in every region read it and pick a new version up within a minute.
resource "aws_s3_bucket" "checks" {
  #checkov:skip=CKV_AWS_18:Access logging would need a second bucket; CloudTrail data events can record reads when a team wants them. The bucket holds the checks file only.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: the checks file is also in the team's repository and is republished in seconds.
  #checkov:skip=CKV_AWS_145:SSE-S3 encrypts the checks file at rest; it holds no secrets (they are ${ssm:...}/${secret:...} references), and a KMS key would need grants in every probe region.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to uploads: the functions ask for the newest version once a minute.
  bucket = "${var.prefix}checks-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

resource "aws_s3_bucket_versioning" "checks" {
  bucket = aws_s3_bucket.checks.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "checks" {
  bucket = aws_s3_bucket.checks.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "checks" {
  bucket                  = aws_s3_bucket.checks.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "checks" {
  bucket = aws_s3_bucket.checks.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "checks" {
  bucket = aws_s3_bucket.checks.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "checks" {
  bucket = aws_s3_bucket.checks.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TlsOnly"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetObjectVersion", "s3:DeleteObject"]
      Resource  = [aws_s3_bucket.checks.arn, "${aws_s3_bucket.checks.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

resource "aws_sns_topic" "operators" {
  name              = "${var.prefix}operators"
  kms_master_key_id = module.topics_key.arn
}

resource "aws_sns_topic" "customers" {
  name              = "${var.prefix}customers"
  kms_master_key_id = module.topics_key.arn
}

resource "aws_sns_topic_subscription" "operators" {
  for_each  = toset(var.operator_emails)
  topic_arn = aws_sns_topic.operators.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "customers" {
  for_each            = { for c in var.customer_subscriptions : "${c.customer}:${c.email}" => c }
  topic_arn           = aws_sns_topic.customers.arn
  protocol            = "email"
  endpoint            = each.value.email
  filter_policy_scope = "MessageAttributes"
  filter_policy = jsonencode(merge(
    { customer = [each.value.customer], audience = ["customers"] },
    length(each.value.services) > 0 ? { service = each.value.services } : {}
  ))
}

resource "aws_sqs_queue" "alert_dlq" {
  name                      = "${var.prefix}alert-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = module.topics_key.arn
}

resource "aws_cloudwatch_log_group" "alert" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  name              = "/aws/lambda/${var.prefix}alert"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "alert" {
  name = "${var.prefix}alert"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "alert" {
  name = "alert"
  role = aws_iam_role.alert.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.alert.arn}:*" },
      { Sid = "ReadResultsStream", Effect = "Allow", Action = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], Resource = aws_dynamodb_table.results.stream_arn },
      { Sid = "ListResultsStreams", Effect = "Allow", Action = ["dynamodb:ListStreams"], Resource = "${aws_dynamodb_table.results.arn}/stream/*" },
      # The state's partitions with their stamps, the evaluation lease, the rollup hours and the
      # evaluator's pulse.
      { Sid = "State", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource = aws_dynamodb_table.state.arn },
      # Incidents written with the state; read (the last 90 days) for the status site.
      { Sid = "Incidents", Effect = "Allow", Action = ["dynamodb:PutItem", "dynamodb:Scan"], Resource = aws_dynamodb_table.incidents.arn },
      # Messages recorded and marked; the customers' words read back for the status site.
      { Sid = "Outbox", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"], Resource = aws_dynamodb_table.outbox.arn },
      # Paging and chat channels' keys and tokens in the alert/ folder of the secrets prefix; the
      # link key (mail/) signs acknowledgement links.
      { Sid = "ChannelSecretParameters", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = ["${local.arn}:ssm:${local.region}:${local.account}:parameter/${var.secrets_prefix}alert/*", "${local.arn}:ssm:${local.region}:${local.account}:parameter/${var.secrets_prefix}mail/*"] },
      { Sid = "ChannelSecrets", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = ["${local.arn}:secretsmanager:${local.region}:${local.account}:secret:${var.secrets_prefix}alert/*", "${local.arn}:secretsmanager:${local.region}:${local.account}:secret:${var.secrets_prefix}mail/*"] },
      { Sid = "SitePages", Effect = "Allow", Action = ["s3:PutObject", "s3:DeleteObject"], Resource = "${aws_s3_bucket.site.arn}/site/*" },
      { Sid = "SiteManifest", Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = "${aws_s3_bucket.site.arn}/state/site.json" },
      # GetObject says "not found" (rather than "access denied") before the first publish.
      {
        Sid       = "FindSiteManifest", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.site.arn
        Condition = { StringEquals = { "s3:prefix" = "state/site.json" } }
      },
      { Sid = "PendingMessages", Effect = "Allow", Action = ["dynamodb:Query"], Resource = "${aws_dynamodb_table.outbox.arn}/index/pending" },
      { Sid = "Publish", Effect = "Allow", Action = ["sns:Publish"], Resource = [aws_sns_topic.operators.arn, aws_sns_topic.customers.arn] },
      # Each hour: the operators' subscriptions nobody confirmed, here and on each probe region's
      # alarms topic.
      { Sid = "OperatorsSubscriptions", Effect = "Allow", Action = ["sns:ListSubscriptionsByTopic"], Resource = [aws_sns_topic.operators.arn, "${local.arn}:sns:*:${local.account}:${var.prefix}alarms-*"] },
      { Sid = "EncryptedTopics", Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = module.topics_key.arn },
      { Sid = "DeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = aws_sqs_queue.alert_dlq.arn },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${aws_s3_bucket.checks.arn}/checks.tar.gz" },
      # HeadObject says "not found" (rather than "access denied") before the first publish.
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.checks.arn
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
    ]
  })
}

resource "aws_lambda_function" "alert" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: a new account's concurrency quota is 10 and reserving any of it fails the deploy; racing evaluations are safe (version-conditioned commits).
  #checkov:skip=CKV_AWS_117:Probes must reach the public internet from AWS's network; a VPC would need a NAT gateway per region (~$32/month each) and protect nothing.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only table names, topic ARNs and numbers; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  function_name    = "${var.prefix}alert"
  filename         = var.alert_package
  source_code_hash = filebase64sha256(var.alert_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  # One vCPU (a full one at 1,769 MB): an evaluation at 20,000 checks x 5 regions is ~1.3 s of
  # CPU a minute, ~9 s at 256 MB (docs/performance.md, "Scale"); CPU-bound, the bill is the same.
  memory_size = 1769
  timeout     = 60
  # No reserved concurrency: a new account's quota is 10, and reserving any of it fails. Racing
  # evaluations are safe: each commits only over the version it read.
  role = aws_iam_role.alert.arn

  dead_letter_config {
    target_arn = aws_sqs_queue.alert_dlq.arn
  }
  tracing_config {
    mode = "PassThrough"
  }
  environment {
    variables = {
      ATALAYA_CHECKS              = "checks.yaml"
      ATALAYA_RESULTS_TABLE       = aws_dynamodb_table.results.name
      ATALAYA_STATE_TABLE         = aws_dynamodb_table.state.name
      ATALAYA_INCIDENTS_TABLE     = aws_dynamodb_table.incidents.name
      ATALAYA_OUTBOX_TABLE        = aws_dynamodb_table.outbox.name
      ATALAYA_OPERATORS_TOPIC_ARN = aws_sns_topic.operators.arn
      ATALAYA_CUSTOMERS_TOPIC_ARN = aws_sns_topic.customers.arn
      ATALAYA_CHECKS_BUCKET       = aws_s3_bucket.checks.id
      ATALAYA_SITE_BUCKET         = aws_s3_bucket.site.id
    }
  }
  depends_on = [aws_cloudwatch_log_group.alert, aws_iam_role_policy.alert]
}

resource "aws_lambda_event_source_mapping" "results" {
  event_source_arn                   = aws_dynamodb_table.results.stream_arn
  function_name                      = aws_lambda_function.alert.arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = 100
  maximum_batching_window_in_seconds = var.stream_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  # Only new results: TTL deletions and other changes do not invoke the function.
  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = ["INSERT"] })
    }
  }
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 3600
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.alert_dlq.arn
    }
  }
}

# The one-minute tick (silent regions, reminders, customer cadence, maintenance).
resource "aws_iam_role" "scheduler" {
  name = "${var.prefix}alert-tick"
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

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-alert"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = aws_lambda_function.alert.arn }]
  })
}

# The tick is invoked asynchronously: no retries and at most a minute late (the next tick comes a
# minute later anyway).
resource "aws_lambda_function_event_invoke_config" "alert" {
  function_name                = aws_lambda_function.alert.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_scheduler_schedule" "tick" {
  #checkov:skip=CKV_AWS_297:The schedules' payloads are a region name or a tick flag: nothing to protect with a customer key.
  name = "${var.prefix}alert-tick"
  # At the start of each minute, like the probes' schedules.
  schedule_expression = "cron(* * * * ? *)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.alert.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ tick = true })
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}

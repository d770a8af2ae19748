# Customer email (mail_domain set): the mailer behind the customers topic, sending through SES;
# SES's bounce and complaint events back to it; the subscribers' pages behind a throttled HTTP API.

locals {
  mail    = var.mail_domain != ""
  region  = data.aws_region.current.name
  account = data.aws_caller_identity.current.account_id
  arn     = "arn:${data.aws_partition.current.partition}"
}

data "aws_partition" "current" {}

resource "aws_sesv2_configuration_set" "mail" {
  count                  = local.mail ? 1 : 0
  configuration_set_name = "${var.prefix}mail"
  reputation_options {
    reputation_metrics_enabled = true
  }
  sending_options {
    sending_enabled = true
  }
}

resource "aws_sns_topic" "mail_events" {
  count             = local.mail ? 1 : 0
  name              = "${var.prefix}mail-events"
  kms_master_key_id = module.topics_key.arn
}

resource "aws_sesv2_configuration_set_event_destination" "mail" {
  count                  = local.mail ? 1 : 0
  configuration_set_name = aws_sesv2_configuration_set.mail[0].configuration_set_name
  event_destination_name = "bounces-and-complaints"
  event_destination {
    enabled              = true
    matching_event_types = ["BOUNCE", "COMPLAINT"]
    sns_destination {
      topic_arn = aws_sns_topic.mail_events[0].arn
    }
  }
}

resource "aws_sqs_queue" "mailer_dlq" {
  count                     = local.mail ? 1 : 0
  name                      = "${var.prefix}mailer-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = module.topics_key.arn
}

resource "aws_cloudwatch_log_group" "mailer" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  count             = local.mail ? 1 : 0
  name              = "/aws/lambda/${var.prefix}mailer"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "mailer" {
  count = local.mail ? 1 : 0
  name  = "${var.prefix}mailer"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy" "mailer" {
  count = local.mail ? 1 : 0
  name  = "mailer"
  role  = aws_iam_role.mailer[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.mailer[0].arn}:*" },
      # A customer message read back by its id, with its translations.
      { Sid = "Outbox", Effect = "Allow", Action = ["dynamodb:BatchGetItem"], Resource = aws_dynamodb_table.outbox.arn },
      # Subscribers read and marked (bounced, complained); each mail claimed and recorded.
      { Sid = "Subscribers", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource = aws_dynamodb_table.subscribers.arn },
      { Sid = "SubscribersOfACustomer", Effect = "Allow", Action = ["dynamodb:Query"], Resource = "${aws_dynamodb_table.subscribers.arn}/index/by_customer" },
      # Sending from the verified domain only, through this stack's configuration set.
      { Sid = "Send", Effect = "Allow", Action = ["ses:SendEmail", "ses:SendRawEmail"], Resource = ["${local.arn}:ses:${local.region}:${local.account}:identity/${var.mail_domain}", "${local.arn}:ses:${local.region}:${local.account}:configuration-set/${var.prefix}mail"] },
      { Sid = "LinkKeyParameter", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = "${local.arn}:ssm:${local.region}:${local.account}:parameter/${var.secrets_prefix}mail/*" },
      { Sid = "LinkKeySecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = "${local.arn}:secretsmanager:${local.region}:${local.account}:secret:${var.secrets_prefix}mail/*" },
      { Sid = "DeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = aws_sqs_queue.mailer_dlq[0].arn },
      { Sid = "EncryptedQueue", Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = module.topics_key.arn },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${aws_s3_bucket.checks.arn}/checks.tar.gz" },
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.checks.arn
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
    ]
  })
}

resource "aws_lambda_function" "mailer" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: a new account's concurrency quota is 10 and reserving any of it fails the deploy; each mail is claimed before it is sent, so concurrent invocations never send one twice.
  #checkov:skip=CKV_AWS_117:The mailer talks to SES, DynamoDB and S3 over AWS's endpoints; a VPC would need endpoints or a NAT gateway and protect nothing.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only table names, a configuration set and a bucket name; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  count            = local.mail ? 1 : 0
  function_name    = "${var.prefix}mailer"
  filename         = var.mailer_package
  source_code_hash = filebase64sha256(var.mailer_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 256
  timeout          = 60
  role             = aws_iam_role.mailer[0].arn

  # SNS invokes asynchronously: Lambda tries twice more, then the message lands here.
  dead_letter_config {
    target_arn = aws_sqs_queue.mailer_dlq[0].arn
  }
  tracing_config {
    mode = "PassThrough"
  }
  environment {
    variables = {
      ATALAYA_CHECKS                = "checks.yaml"
      ATALAYA_OUTBOX_TABLE          = aws_dynamodb_table.outbox.name
      ATALAYA_SUBSCRIBERS_TABLE     = aws_dynamodb_table.subscribers.name
      ATALAYA_SES_CONFIGURATION_SET = aws_sesv2_configuration_set.mail[0].configuration_set_name
      ATALAYA_CHECKS_BUCKET         = aws_s3_bucket.checks.id
    }
  }
  depends_on = [aws_cloudwatch_log_group.mailer, aws_iam_role_policy.mailer]
}

resource "aws_sns_topic_subscription" "mailer_customers" {
  count         = local.mail ? 1 : 0
  topic_arn     = aws_sns_topic.customers.arn
  protocol      = "lambda"
  endpoint      = aws_lambda_function.mailer[0].arn
  filter_policy = jsonencode({ audience = ["customers"] })
}

resource "aws_sns_topic_subscription" "mailer_events" {
  count     = local.mail ? 1 : 0
  topic_arn = aws_sns_topic.mail_events[0].arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.mailer[0].arn
}

resource "aws_lambda_permission" "mailer_customers" {
  count         = local.mail ? 1 : 0
  statement_id  = "CustomerMessages"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.mailer[0].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.customers.arn
}

resource "aws_lambda_permission" "mailer_events" {
  count         = local.mail ? 1 : 0
  statement_id  = "MailEvents"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.mailer[0].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.mail_events[0].arn
}

resource "aws_cloudwatch_log_group" "pages" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (values are redacted by design) and CloudWatch Logs encrypts them at rest already.
  #checkov:skip=CKV_AWS_338:Function logs are kept 30 days by default (configurable); a year of logs costs more than the monitoring itself.
  count             = local.mail ? 1 : 0
  name              = "/aws/lambda/${var.prefix}pages"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "pages" {
  count = local.mail ? 1 : 0
  name  = "${var.prefix}pages"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy" "pages" {
  count = local.mail ? 1 : 0
  name  = "pages"
  role  = aws_iam_role.pages[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Logs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.pages[0].arn}:*" },
      { Sid = "Subscribers", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem"], Resource = aws_dynamodb_table.subscribers.arn },
      # Operators' acknowledgements (a signed link, a paging tool's webhook), once authentic.
      { Sid = "AcknowledgeState", Effect = "Allow", Action = ["dynamodb:BatchGetItem", "dynamodb:PutItem"], Resource = aws_dynamodb_table.state.arn },
      { Sid = "AcknowledgeIncidents", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:PutItem"], Resource = aws_dynamodb_table.incidents.arn },
      { Sid = "AcknowledgeMessages", Effect = "Allow", Action = ["dynamodb:PutItem"], Resource = aws_dynamodb_table.outbox.arn },
      # The status pages' subscribe form: its confirmation mail, from the verified domain only.
      { Sid = "SendConfirmations", Effect = "Allow", Action = ["ses:SendEmail", "ses:SendRawEmail"], Resource = ["${local.arn}:ses:${local.region}:${local.account}:identity/${var.mail_domain}", "${local.arn}:ses:${local.region}:${local.account}:configuration-set/${var.prefix}mail"] },
      { Sid = "LinkKeyParameter", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = "${local.arn}:ssm:${local.region}:${local.account}:parameter/${var.secrets_prefix}mail/*" },
      { Sid = "LinkKeySecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = "${local.arn}:secretsmanager:${local.region}:${local.account}:secret:${var.secrets_prefix}mail/*" },
      { Sid = "ReadChecksFile", Effect = "Allow", Action = ["s3:GetObject", "s3:GetObjectVersion"], Resource = "${aws_s3_bucket.checks.arn}/checks.tar.gz" },
      {
        Sid       = "FindChecksFile", Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.checks.arn
        Condition = { StringEquals = { "s3:prefix" = "checks.tar.gz" } }
      },
    ]
  })
}

resource "aws_lambda_function" "pages" {
  #checkov:skip=CKV_AWS_115:Reserved concurrency is public_concurrency (0 by default: a new account's quota of 10 cannot spare any); the HTTP API's throttling bounds the requests that reach it.
  #checkov:skip=CKV_AWS_117:The pages talk to DynamoDB and S3 over AWS's endpoints; a VPC would need endpoints or a NAT gateway and protect nothing.
  #checkov:skip=CKV_AWS_173:The functions' environment holds only a table name and a bucket name; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_116:The HTTP API invokes it synchronously: a dead-letter queue applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile in the team's pipeline; packages come from `make package` in the team's own build.
  count            = local.mail ? 1 : 0
  function_name    = "${var.prefix}pages"
  filename         = var.pages_package
  source_code_hash = filebase64sha256(var.pages_package)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 128
  timeout          = 10
  role             = aws_iam_role.pages[0].arn
  # -1: none reserved.
  reserved_concurrent_executions = var.public_concurrency == 0 ? -1 : var.public_concurrency

  tracing_config {
    mode = "PassThrough"
  }
  environment {
    variables = {
      ATALAYA_CHECKS                = "checks.yaml"
      ATALAYA_SUBSCRIBERS_TABLE     = aws_dynamodb_table.subscribers.name
      ATALAYA_STATE_TABLE           = aws_dynamodb_table.state.name
      ATALAYA_INCIDENTS_TABLE       = aws_dynamodb_table.incidents.name
      ATALAYA_OUTBOX_TABLE          = aws_dynamodb_table.outbox.name
      ATALAYA_CHECKS_BUCKET         = aws_s3_bucket.checks.id
      ATALAYA_SES_CONFIGURATION_SET = aws_sesv2_configuration_set.mail[0].configuration_set_name
    }
  }
  depends_on = [aws_cloudwatch_log_group.pages, aws_iam_role_policy.pages]
}

# Anyone holding a link from a mail reaches the pages: the link's HMAC-signed token is the
# authorisation (checked by the function); a GET never changes anything. Throttled like the ping
# endpoint.
module "pages_endpoint" {
  source        = "./modules/public-endpoint"
  count         = local.mail ? 1 : 0
  name          = "${var.prefix}pages"
  function_name = aws_lambda_function.pages[0].function_name
  function_arn  = aws_lambda_function.pages[0].arn
  rate_limit    = var.pages_rate_limit
  burst_limit   = var.pages_burst_limit
}

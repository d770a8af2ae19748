# A customer managed KMS key with rotation, administered by the account, usable (data keys) by
# this account's CloudWatch alarms in this region (they publish to the encrypted topics) and, if
# `account_uses_it`, by the account's own principals through their IAM policies.

variable "description" {
  description = "What the key protects."
  type        = string
}

variable "ses_configuration_set" {
  description = "An SES configuration set of this account and region that publishes its events to a topic under this key (empty: none)."
  type        = string
  default     = ""
}

variable "account_uses_it" {
  description = "Whether the account's principals (through their IAM policies) may encrypt and decrypt with it."
  type        = bool
  default     = false
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  administer = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:EnableKey", "kms:DisableKey",
    "kms:UpdateKeyDescription", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
    "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant", "kms:CreateAlias",
    "kms:UpdateAlias", "kms:DeleteAlias", "kms:ListAliases", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
  ]
  use = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
}

resource "aws_kms_key" "this" {
  description         = var.description
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = var.account_uses_it ? concat(local.administer, local.use) : local.administer
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*" }
        }
      },
      ], var.ses_configuration_set == "" ? [] : [
      {
        # SES publishes bounce and complaint events to the encrypted mail-events topic.
        Sid       = "SesEventsPublish"
        Effect    = "Allow"
        Principal = { Service = "ses.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:ses:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:configuration-set/${var.ses_configuration_set}" }
        }
      },
    ])
  })
}

output "arn" {
  description = "The key's ARN."
  value       = aws_kms_key.this.arn
}

# A customer managed KMS key with rotation, administered by the account, usable (encrypt and
# decrypt data keys) by the AWS services named in `services` (CloudWatch alarms, SNS delivery)
# and, if `account_uses_it`, by the account's own principals.

variable "description" {
  description = "What the key protects."
  type        = string
}

variable "services" {
  description = "Service principals that may use the key, e.g. cloudwatch.amazonaws.com."
  type        = list(string)
}

variable "account_uses_it" {
  description = "Whether the account's principals (through their IAM policies) may encrypt and decrypt with it."
  type        = bool
  default     = false
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

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
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = var.account_uses_it ? concat(local.administer, local.use) : local.administer
        Resource  = "*"
      },
      {
        Sid       = "ServicesUseIt"
        Effect    = "Allow"
        Principal = { Service = var.services }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
      },
    ]
  })
}

output "arn" {
  description = "The key's ARN."
  value       = aws_kms_key.this.arn
}

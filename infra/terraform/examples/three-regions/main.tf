# Atalaya with its tables in eu-west-1 and probes in eu-west-1, us-east-1 and ap-southeast-2.
#   make package && cd infra/terraform/examples/three-regions && terraform init && terraform apply

terraform {
  required_version = ">= 1.0.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  alias  = "home"
  region = "eu-west-1"
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "ap_southeast_2"
  region = "ap-southeast-2"
}

variable "operator_emails" {
  description = "Operators' emails."
  type        = list(string)
}

variable "customer_subscriptions" {
  description = "Customers' emails, each filtered to its customer (and optionally services)."
  type = list(object({
    email    = string
    customer = string
    services = list(string)
  }))
  default = []
}

variable "probe_shards" {
  description = "Schedules per probe region: `atalaya plan --shards checks.yaml`."
  type        = number
  default     = 1
}

locals {
  dist = "${path.module}/../../../../dist"
}

module "home" {
  source                 = "../.."
  providers              = { aws = aws.home }
  operator_emails        = var.operator_emails
  customer_subscriptions = var.customer_subscriptions
  probe_regions          = ["eu-west-1", "us-east-1", "ap-southeast-2"]
  alert_package          = "${local.dist}/atalaya-alert.zip"
  rollup_package         = "${local.dist}/atalaya-rollup.zip"
  ping_package           = "${local.dist}/atalaya-ping.zip"
}

module "probe_eu_west_1" {
  source          = "../../modules/probe-region"
  providers       = { aws = aws.home }
  home_region     = module.home.home_region
  operator_emails = var.operator_emails
  probe_package   = "${local.dist}/atalaya-probe.zip"
  shards          = var.probe_shards
}

module "probe_us_east_1" {
  source          = "../../modules/probe-region"
  providers       = { aws = aws.us_east_1 }
  home_region     = module.home.home_region
  operator_emails = var.operator_emails
  probe_package   = "${local.dist}/atalaya-probe.zip"
  shards          = var.probe_shards
}

module "probe_ap_southeast_2" {
  source          = "../../modules/probe-region"
  providers       = { aws = aws.ap_southeast_2 }
  home_region     = module.home.home_region
  operator_emails = var.operator_emails
  probe_package   = "${local.dist}/atalaya-probe.zip"
  shards          = var.probe_shards
}

output "operators_topic_arn" {
  value = module.home.operators_topic_arn
}

output "customers_topic_arn" {
  value = module.home.customers_topic_arn
}

output "table_names" {
  value = module.home.table_names
}

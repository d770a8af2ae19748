variable "prefix" {
  description = "The prefix the home module was deployed with."
  type        = string
  default     = "atalaya-"
}

variable "home_region" {
  description = "Where the tables are (the home module's home_region output)."
  type        = string
}

variable "operator_emails" {
  description = "Receive this region's alarms (CloudWatch alarms notify topics of their own region)."
  type        = list(string)
}

variable "probe_package" {
  description = "Path of the probe function's zip (make package), with the checks file inside."
  type        = string
}

variable "concurrency" {
  description = "Probes in flight at once in one invocation."
  type        = number
  default     = 64
}

variable "results_ttl_days" {
  description = "How long results are kept."
  type        = number
  default     = 30
}

variable "memory_size" {
  description = "The probe function's memory in MB (CPU grows with it; TLS handshakes are what a run spends it on). Shards are sized for 2,000 checks a minute (atalaya plan), which 512 MB carries with room to spare (docs/performance.md)."
  type        = number
  default     = 512
}

variable "shards" {
  description = "Schedules in this region, each probing its share of the checks: `atalaya plan --shards CHECKS` sizes it for a checks file."
  type        = number
  default     = 1
}

variable "log_retention_days" {
  description = "How long the function's logs are kept."
  type        = number
  default     = 30
}

variable "secrets_prefix" {
  description = "The secrets prefix: the probe function may read, in the home region, its folder of it only: SSM parameters under /<prefix>probe/ ($${ssm:/atalaya/probe/...}) and Secrets Manager secrets named <prefix>probe/... ($${secret:atalaya/probe/...})."
  type        = string
  default     = "atalaya/"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.secrets_prefix))
    error_message = "The prefix is a path of letters, digits, _ . - ending in /, e.g. atalaya/."
  }
}

variable "location" {
  description = "Empty: a public probe region, named after this AWS region. A name (vpc-prod): a private location, named so in settings.regions and settings.private_locations, whose results are its own; its function, schedules, topic and alarms carry the name (docs/deploy.md, \"Private locations\")."
  type        = string
  default     = ""
  validation {
    condition     = var.location == "" || can(regex("^[a-z][a-z0-9-]{1,30}$", var.location))
    error_message = "The location must be lowercase letters, digits and dashes, starting with a letter (e.g. vpc-prod)."
  }
}

variable "subnet_ids" {
  description = "The VPC subnets the probe function runs in (a private location): they need a route to the home region's DynamoDB, S3, SSM and Secrets Manager (a NAT gateway, or VPC endpoints when the home region is this one) and to what the checks probe."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "The security groups of the probe function's network interfaces (outbound to the checks' targets and AWS's endpoints)."
  type        = list(string)
  default     = []
}

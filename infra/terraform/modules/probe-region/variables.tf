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

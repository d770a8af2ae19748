variable "prefix" {
  description = "Prefix of every table, topic and function name (lowercase, digits, dashes)."
  type        = string
  default     = "atalaya-"
  validation {
    condition     = can(regex("^[a-z0-9-]{1,20}$", var.prefix))
    error_message = "The prefix must be 1-20 lowercase letters, digits or dashes."
  }
}

variable "operator_emails" {
  description = "Operators' emails, subscribed to the operators topic (each confirms the email AWS sends)."
  type        = list(string)
}

variable "customer_subscriptions" {
  description = "Customers' emails on the customers topic, each receiving only its customer's messages (and, if services is not empty, only those services')."
  type = list(object({
    email    = string
    customer = string
    services = list(string)
  }))
  default = []
}

variable "alert_package" {
  description = "Path of the alert function's zip (make package), with the checks file inside."
  type        = string
}

variable "rollup_package" {
  description = "Path of the rollup function's zip (make package), with the checks file inside."
  type        = string
}

variable "ping_package" {
  description = "Path of the ping function's zip (make package), with the checks file inside: the heartbeats' ping endpoint and its judge."
  type        = string
}

variable "log_retention_days" {
  description = "How long the functions' logs are kept."
  type        = number
  default     = 30
}

variable "stream_batching_window_seconds" {
  description = "How long the results stream gathers records before invoking the alert function: one evaluation covers every region's run of a minute."
  type        = number
  default     = 20
}

variable "probe_regions" {
  description = "The probe regions (as in settings.regions); each gets a \"no results in 5 minutes\" alarm in the home region."
  type        = list(string)
}

variable "mail_domain" {
  description = "Customer email in your own name (docs/deploy.md, \"Customer email\"): the domain you verified with SES (settings.brand.from's). Empty: no mailer, no subscribers' pages."
  type        = string
  default     = ""
}

variable "status_site" {
  description = "cloudfront: the status site served by CloudFront from the site bucket. bucket: the alert function still writes the pages to the bucket (site_bucket) and no CloudFront is created, for a new account that cannot create distributions until AWS verifies it (docs/deploy.md, \"What a clean account needs\"), or to serve the pages from your own host."
  type        = string
  default     = "cloudfront"
  validation {
    condition     = contains(["cloudfront", "bucket"], var.status_site)
    error_message = "The status_site variable must be cloudfront or bucket."
  }
}

variable "status_domain" {
  description = "The status site under your own name (e.g. status.acme.example), with status_certificate_arn. Empty: the CloudFront address (status_site_url) only."
  type        = string
  default     = ""
}

variable "status_certificate_arn" {
  description = "The ACM certificate for status_domain (CloudFront takes certificates from us-east-1 only)."
  type        = string
  default     = ""
  validation {
    condition     = var.status_certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[a-f0-9-]+$", var.status_certificate_arn))
    error_message = "The status site's certificate must be an ACM certificate in us-east-1."
  }
}

variable "secrets_prefix" {
  description = "What the mailer and the pages may read for settings.email.key: SSM parameters under /<prefix> and Secrets Manager secrets named <prefix>..., in this region."
  type        = string
  default     = "atalaya/"
}

variable "mailer_package" {
  description = "Path of the mailer function's zip (make package), with the checks file inside; needed with mail_domain."
  type        = string
  default     = ""
}

variable "pages_package" {
  description = "Path of the pages function's zip (make package), with the checks file inside; needed with mail_domain."
  type        = string
  default     = ""
}

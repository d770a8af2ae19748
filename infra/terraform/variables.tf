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
  validation {
    condition     = contains([7, 14, 30, 60, 90, 180, 365], var.log_retention_days)
    error_message = "The log retention must be one of 7, 14, 30, 60, 90, 180 or 365 days (as the SAM stack allows)."
  }
}

variable "stream_batching_window_seconds" {
  description = "How long the results stream gathers records before invoking the alert function: one evaluation covers every region's run of a minute."
  type        = number
  default     = 20
  validation {
    condition     = var.stream_batching_window_seconds >= 0 && var.stream_batching_window_seconds <= 300
    error_message = "The batching window must be 0 to 300 seconds."
  }
}

variable "probe_regions" {
  description = "The probe regions (as in settings.regions); each gets a \"no results in 5 minutes\" alarm in the home region."
  type        = list(string)
  validation {
    condition     = alltrue([for r in var.probe_regions : can(regex("^[a-z][a-z0-9-]{1,30}$", r))])
    error_message = "Each probe region is an AWS region or a private location name (lowercase letters, digits, dashes)."
  }
}

variable "mail_domain" {
  description = "Customer email in your own name (docs/deploy.md, \"Customer email\"): the domain you verified with SES (settings.brand.from's). Empty: no mailer, no subscribers' pages."
  type        = string
  default     = ""
  validation {
    condition     = var.mail_domain == "" || can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.mail_domain))
    error_message = "The mail domain must be a domain name such as acme.example (or empty)."
  }
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
  validation {
    condition     = var.status_domain == "" || can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.status_domain))
    error_message = "The status domain must be a domain name such as status.acme.example (or empty)."
  }
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
  description = "The secrets prefix: each function reads its own folder of it only (SSM parameters under /<prefix><folder>/, secrets named <prefix><folder>/...): probe/ the checks' credentials (home region), alert/ the on-call channels' secrets, mail/ settings.email.key (mailer, pages), heartbeat/ the heartbeat tokens and key (ping, ping judge)."
  type        = string
  default     = "atalaya/"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.secrets_prefix))
    error_message = "The secrets prefix is a path of letters, digits, _ . - ending in /, e.g. atalaya/."
  }
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

variable "ping_rate_limit" {
  description = "Requests a second the ping endpoint's HTTP API passes on (API Gateway throttling; more are answered 429, which curl --retry retries, and cost nothing). Bounds what a flood can cost and how much Lambda concurrency it can take from the probes (docs/deploy.md, \"Public endpoints\")."
  type        = number
  default     = 20
  validation {
    condition     = var.ping_rate_limit >= 1
    error_message = "The ping_rate_limit variable must be at least 1."
  }
}

variable "ping_burst_limit" {
  description = "Pings passed on at once before ping_rate_limit applies; at least the number of jobs that ping in the same second."
  type        = number
  default     = 40
  validation {
    condition     = var.ping_burst_limit >= 1
    error_message = "The ping_burst_limit variable must be at least 1."
  }
}

variable "pages_rate_limit" {
  description = "Requests a second the subscribers' pages' HTTP API passes on (links from mails, the subscribe form, acknowledgements, chat webhooks)."
  type        = number
  default     = 5
  validation {
    condition     = var.pages_rate_limit >= 1
    error_message = "The pages_rate_limit variable must be at least 1."
  }
}

variable "pages_burst_limit" {
  description = "Requests to the pages passed on at once before pages_rate_limit applies."
  type        = number
  default     = 10
  validation {
    condition     = var.pages_burst_limit >= 1
    error_message = "The pages_burst_limit variable must be at least 1."
  }
}

variable "public_concurrency" {
  description = "0: the ping and pages functions reserve no concurrency (a new account's quota of 10 cannot spare any). Once the quota allows (at least 100 + 2 x this), set it (e.g. 5): each public function is capped at that many concurrent runs, so no flood can take the concurrency the probes, the judge and the alert function need."
  type        = number
  default     = 0
  validation {
    condition     = var.public_concurrency >= 0
    error_message = "The public_concurrency variable must be 0 (none reserved) or more."
  }
}

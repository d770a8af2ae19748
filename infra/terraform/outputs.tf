output "operators_topic_arn" {
  description = "The operators topic (technical alerts and the monitoring's own alarms)."
  value       = aws_sns_topic.operators.arn
}

output "customers_topic_arn" {
  description = "The customers topic (plain-language updates; subscribe with a customer filter policy)."
  value       = aws_sns_topic.customers.arn
}

output "table_names" {
  description = "The five tables, by role."
  value = {
    results     = aws_dynamodb_table.results.name
    state       = aws_dynamodb_table.state.name
    incidents   = aws_dynamodb_table.incidents.name
    outbox      = aws_dynamodb_table.outbox.name
    subscribers = aws_dynamodb_table.subscribers.name
  }
}

output "home_region" {
  description = "Where the tables are: the probe regions' home_region (known once the tables exist, so the probe stacks are created after them, as SAM's order has it)."
  value       = data.aws_region.current.name
  depends_on  = [aws_dynamodb_table.results, aws_s3_bucket.checks]
}

output "alert_dead_letter_queue_url" {
  description = "Stream batches the alert function gave up on."
  value       = aws_sqs_queue.alert_dlq.id
}

output "checks_bucket_name" {
  description = "Where `atalaya publish-checks --bucket` uploads the checks file."
  value       = aws_s3_bucket.checks.id
}

output "ping_url" {
  description = "The heartbeats' ping endpoint: set settings.heartbeats.url to it (`atalaya heartbeat url CHECK` prints each job's URL under it)."
  value       = module.ping_endpoint.endpoint
}

output "pages_url" {
  description = "The subscribers' pages (with mail_domain): set settings.email.pages_url to it."
  value       = local.mail ? module.pages_endpoint[0].endpoint : ""
}

output "status_site_url" {
  description = "The status site (each customer's page at <url>/<slug>/; settings.status_page.url); empty with status_site = \"bucket\"."
  value       = !local.cdn ? "" : var.status_domain == "" ? "https://${aws_cloudfront_distribution.site[0].domain_name}" : "https://${var.status_domain}"
}

output "site_bucket" {
  description = "Where the alert function writes the status site (under site/)."
  value       = aws_s3_bucket.site.id
}

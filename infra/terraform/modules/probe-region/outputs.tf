output "probe_function_arn" {
  description = "The probe function in this region."
  value       = aws_lambda_function.probe.arn
}

output "alarm_topic_arn" {
  description = "This region's alarm topic."
  value       = aws_sns_topic.alarms.arn
}

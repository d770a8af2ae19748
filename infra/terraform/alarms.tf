# Monitor the monitor: every alarm notifies the operators topic (and again when it clears).

locals {
  alert_alarms = {
    "alert-errors"       = { metric = "Errors", stat = "Sum", period = 300, periods = 1, threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "The alert function failed; incidents may not be opened or published." }
    "alert-throttles"    = { metric = "Throttles", stat = "Sum", period = 300, periods = 1, threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "The alert function is being throttled; evaluations are delayed." }
    "alert-not-running"  = { metric = "Invocations", stat = "Sum", period = 300, periods = 1, threshold = 1, op = "LessThanThreshold", missing = "breaching", text = "The alert function has not run in 5 minutes (the tick alone runs it every minute)." }
    "alert-iterator-age" = { metric = "IteratorAge", stat = "Maximum", period = 60, periods = 5, threshold = 300000, op = "GreaterThanThreshold", missing = "notBreaching", text = "Results wait more than 5 minutes in the stream; incidents open late." }
  }
}

resource "aws_cloudwatch_metric_alarm" "alert" {
  for_each            = local.alert_alarms
  alarm_name          = "${var.prefix}${each.key}"
  alarm_description   = each.value.text
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.alert.function_name }
  statistic           = each.value.stat
  period              = each.value.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.op
  treat_missing_data  = each.value.missing
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.prefix}alert-dead-letters"
  alarm_description   = "Stream batches the alert function gave up on are in the dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.alert_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# The alert function's EMF metrics (namespace Atalaya, by Function): evaluations that could not
# be committed; messages a channel could not deliver (they stay pending and are retried); a
# published checks file refused; the largest state item (DynamoDB refuses items over 400 KB: at
# 300 KB there is time to act, docs/deploy.md); probe regions silent for three intervals.
locals {
  alert_metric_alarms = {
    "alert-evaluation-failures" = { metric = "EvaluationFailures", stat = "Sum", threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "Evaluations of probe results could not be committed; incidents may not open or close." }
    "alert-site-failures"       = { metric = "SiteFailures", stat = "Sum", threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "The status site could not be rebuilt or published; customers may be reading an old status." }
    "alert-publish-failures"    = { metric = "PublishFailures", stat = "Sum", threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "Messages could not be delivered to a channel (they stay pending and are retried); customers or operators hear late." }
    "checks-file-rejected"      = { metric = "ChecksFileRejected", stat = "Maximum", threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "notBreaching", text = "A published checks file was refused (see the alert function's log for every problem); the last good one keeps running. Fix it and publish again." }
    "alert-state-size"          = { metric = "StateItemBytes", stat = "Maximum", threshold = 307200, op = "GreaterThanThreshold", missing = "notBreaching", text = "The engine state item is over 300 KB; at 400 KB DynamoDB refuses it and evaluations stop." }
    "probe-region-silent"       = { metric = "SilentRegions", stat = "Maximum", threshold = 1, op = "GreaterThanOrEqualToThreshold", missing = "breaching", text = "A probe region sent no results for three intervals (its function fails, is throttled or is not invoked)." }
  }
}

resource "aws_cloudwatch_metric_alarm" "alert_metrics" {
  for_each            = local.alert_metric_alarms
  alarm_name          = "${var.prefix}${each.key}"
  alarm_description   = each.value.text
  namespace           = "Atalaya"
  metric_name         = each.value.metric
  dimensions          = { Function = "alert" }
  statistic           = each.value.stat
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = each.value.op
  treat_missing_data  = each.value.missing
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# The alert function's EMF metric, per probe region: no results from it in 5 minutes.
resource "aws_cloudwatch_metric_alarm" "probe_missing" {
  for_each            = toset(var.probe_regions)
  alarm_name          = "${var.prefix}results-missing-${each.value}"
  alarm_description   = "No probe results from ${each.value} in 5 minutes (its probe function fails, is throttled or is not invoked)."
  namespace           = "Atalaya"
  metric_name         = "ResultsReceived"
  dimensions          = { Region = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# Customer email (mail_domain set).
resource "aws_cloudwatch_metric_alarm" "mailer_errors" {
  count               = local.mail ? 1 : 0
  alarm_name          = "${var.prefix}mailer-errors"
  alarm_description   = "The mailer failed; some subscribers may not have their customer mail (it is retried, then kept in the mailer's dead-letter queue)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.mailer[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# Mail the mailer gave up on waits in its dead-letter queue.
resource "aws_cloudwatch_metric_alarm" "mailer_dead_letters" {
  count               = local.mail ? 1 : 0
  alarm_name          = "${var.prefix}mailer-dead-letters"
  alarm_description   = "Customer messages the mailer gave up on are in its dead-letter queue; their subscribers did not get that mail."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.mailer_dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# The subscribers' pages failing or answering 5xx: confirm, unsubscribe and the subscribe form
# stop working while nobody is told otherwise.
resource "aws_cloudwatch_metric_alarm" "pages_errors" {
  count               = local.mail ? 1 : 0
  alarm_name          = "${var.prefix}pages-errors"
  alarm_description   = "The subscribers' pages failed; confirm and unsubscribe links may not work."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.pages[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

resource "aws_cloudwatch_metric_alarm" "pages_5xx" {
  count               = local.mail ? 1 : 0
  alarm_name          = "${var.prefix}pages-5xx"
  alarm_description   = "The subscribers' pages answered with server errors (5xx) at least 5 times in 5 minutes."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = module.pages_endpoint[0].api_id, Stage = "$default" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# SES reviews an account whose bounce rate passes 5 % or complaint rate 0.1 %: tell the
# operators well before (docs/deploy.md, "Customer email").
resource "aws_cloudwatch_metric_alarm" "mail_bounce_rate" {
  count               = local.mail ? 1 : 0
  alarm_name          = "${var.prefix}mail-bounce-rate"
  alarm_description   = "Over 2 % of customer mail bounces; SES reviews the account at 5 %. Remove or fix the addresses that bounce (atalaya subscribers list shows them)."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.BounceRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0.02
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

resource "aws_cloudwatch_metric_alarm" "mail_complaint_rate" {
  count               = local.mail ? 1 : 0
  alarm_name          = "${var.prefix}mail-complaint-rate"
  alarm_description   = "Over 0.05 % of customer mail is marked as spam; SES reviews the account at 0.1 %. Check who subscribed and whether they confirmed."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.ComplaintRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0.0005
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# Operators' paging and chat channels, one alarm per kind: three failed or given-up sends in 15
# minutes (ChannelFailures by Channel, emitted only when a send fails).
locals {
  channel_alarms = {
    "pagerduty" = "PagerDuty"
    "opsgenie"  = "Opsgenie"
    "slack"     = "Slack"
    "teams"     = "Teams"
    "webhook"   = "Webhook"
  }
}

resource "aws_cloudwatch_metric_alarm" "channel_failures" {
  for_each            = local.channel_alarms
  alarm_name          = "${var.prefix}channel-${each.key}-failures"
  alarm_description   = "Operators' ${each.value} channel keeps failing (sends retried or given up; see the alert function's log); operators may not be paged there."
  namespace           = "Atalaya"
  metric_name         = "ChannelFailures"
  dimensions          = { Channel = each.key }
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

# Operators who never confirmed their subscription hear no alarm (counted each hour by the alert
# function, here and in each probe region): the others hear that they do not.
resource "aws_cloudwatch_metric_alarm" "operators_unconfirmed" {
  alarm_name          = "${var.prefix}operators-unconfirmed"
  alarm_description   = "An operator's email subscription to the alarms (the operators topic or a probe region's alarms topic) was never confirmed; its alarms reach nobody. The alert function's log names it; confirm it, or deploy again to send a new confirmation."
  namespace           = "Atalaya"
  metric_name         = "UnconfirmedSubscriptions"
  dimensions          = { Function = "alert" }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "ignore"
  alarm_actions       = [aws_sns_topic.operators.arn]
  ok_actions          = [aws_sns_topic.operators.arn]
}

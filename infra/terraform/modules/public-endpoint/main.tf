# A public endpoint for one function: an HTTP API whose stage throttling bounds the requests
# anyone on the internet can make the function take (and so what a flood can cost and how much
# Lambda concurrency it can take from the probes); throttled requests are answered 429 by API
# Gateway, never reach the function and are not billed. The function checks each request's own
# credential (an unguessable token, a signed link, a vendor's signature).

variable "name" {
  description = "The API's name."
  type        = string
}

variable "function_name" {
  description = "The function the API invokes."
  type        = string
}

variable "function_arn" {
  description = "Its ARN."
  type        = string
}

variable "rate_limit" {
  description = "Requests a second passed on to the function."
  type        = number
}

variable "burst_limit" {
  description = "Requests passed on at once before the rate applies."
  type        = number
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.function_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 12000
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Public by design: the function checks each request's own credential (an unguessable token, a signed link or a vendor's signature); the stage's throttling bounds what anyone can send.
  api_id    = aws_apigatewayv2_api.this.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.this.id}"
}

resource "aws_apigatewayv2_stage" "this" {
  #checkov:skip=CKV_AWS_95:Access logs would record every token-bearing path; the function logs what it answered (redacted) and API Gateway's metrics count the rest.
  #checkov:skip=CKV_AWS_76:Access logs would record every token-bearing path; the function logs what it answered (redacted) and API Gateway's metrics count the rest.
  #checkov:skip=CKV2_AWS_51:Public endpoints for jobs and mail readers without client certificates; each request carries its own credential.
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true
  default_route_settings {
    throttling_rate_limit  = var.rate_limit
    throttling_burst_limit = var.burst_limit
  }
}

resource "aws_lambda_permission" "this" {
  statement_id  = "HttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${aws_apigatewayv2_api.this.id}/*"
}

output "api_id" {
  description = "The API's id (its metrics' ApiId)."
  value       = aws_apigatewayv2_api.this.id
}

output "endpoint" {
  description = "The address to give out."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

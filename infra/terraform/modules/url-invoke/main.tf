# The second statement a public function URL needs since October 2025: lambda:InvokeFunction for
# anyone, but only through the function URL (the `lambda:InvokedViaFunctionUrl` condition).
# The AWS provider can say it from 6.19 (`invoked_via_function_url` on aws_lambda_permission);
# this configuration is tested with 5.100, which cannot, so the statement is a one-resource
# CloudFormation stack: tracked in Terraform's state, removed with it. With provider 6.19 or
# later, replace this module by an aws_lambda_permission with invoked_via_function_url = true.

variable "name" {
  description = "The stack's name (one per function URL)."
  type        = string
}

variable "function" {
  description = "The function's ARN."
  type        = string
}

resource "aws_cloudformation_stack" "permission" {
  #checkov:skip=CKV_AWS_124:A one-resource stack Terraform creates, reads and deletes; nobody watches its events (Terraform reports its failures).
  name = var.name
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "lambda:InvokeFunction through the function URL only"
    Resources = {
      Permission = {
        Type = "AWS::Lambda::Permission"
        Properties = {
          Action                = "lambda:InvokeFunction"
          FunctionName          = var.function
          Principal             = "*"
          InvokedViaFunctionUrl = true
        }
      }
    }
  })
}

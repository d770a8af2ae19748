terraform {
  required_version = ">= 1.0.3"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Tested with 5.100 (make validate-infra; the plugin mirror on the build machines).
      version = "~> 5.100"
    }
  }
}

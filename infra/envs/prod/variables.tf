variable "region" {
  description = "AWS region to deploy to (Bedrock must offer the models there)."
  type        = string
  default     = "us-east-1"
}

variable "image_tag" {
  description = "Image tag to run; make deploy sets it to the git commit it pushed."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the API's HTTPS listener (required in prod)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "prod serves HTTPS only: certificate_arn must be an ACM certificate ARN."
  }
}

variable "public_base_url" {
  description = "https URL clients use (the certificate's domain, pointed at the ALB)."
  type        = string

  validation {
    condition     = startswith(var.public_base_url, "https://")
    error_message = "public_base_url must be an https:// URL."
  }
}

variable "alarm_emails" {
  description = "Addresses that receive alarms."
  type        = list(string)
  default     = []
}

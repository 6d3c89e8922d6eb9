variable "region" {
  description = "AWS region to deploy to (Bedrock must offer the models there)."
  type        = string
  default     = "us-east-1"
}

variable "image_tag" {
  description = "Image tag to run; make deploy sets it to the git commit it pushed."
  type        = string
  default     = "bootstrap"
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS; dev may leave it null and serve HTTP."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Addresses that receive alarms."
  type        = list(string)
  default     = []
}

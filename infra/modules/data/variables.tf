variable "name" {
  description = "Prefix of every resource name, e.g. imagegen-prod. Part of the bucket's name, so lowercase."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}[a-z0-9]$", var.name))
    error_message = "name must be 3-25 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "deletion_protection" {
  description = "Protect the table from deletion and keep the bucket from being destroyed while it holds objects; false (dev) lets make destroy remove both."
  type        = bool
  default     = true
}

variable "versioning_enabled" {
  description = "Keep previous versions of overwritten or deleted images (Enabled); false suspends versioning."
  type        = bool
  default     = true
}

variable "temporary_retention_days" {
  description = "Days a temporary image lives; must equal the app's IMAGEGEN_TEMPORARY_RETENTION_DAYS. Objects tagged retention=temporary expire a day later."
  type        = number
  default     = 7

  validation {
    condition     = var.temporary_retention_days >= 1 && floor(var.temporary_retention_days) == var.temporary_retention_days
    error_message = "temporary_retention_days must be a whole number of at least 1."
  }
}

variable "saved_retention_days" {
  description = "Days a saved image lives after its creation, 0 keeping it forever; must equal the app's IMAGEGEN_SAVED_RETENTION_DAYS. Objects tagged retention=saved expire a day later."
  type        = number
  default     = 90

  validation {
    condition     = var.saved_retention_days >= 0 && floor(var.saved_retention_days) == var.saved_retention_days
    error_message = "saved_retention_days must be a whole number, 0 or more."
  }
}

variable "noncurrent_version_days" {
  description = "Days a noncurrent object version (an overwritten or deleted image, with versioning on) is kept."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of at least 1."
  }
}

variable "cors_allowed_origins" {
  description = "Origins whose browser scripts may GET/HEAD images through presigned URLs (e.g. https://app.example.com). Empty sets no CORS configuration; <img> tags need none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : o == "*" || can(regex("^https?://[^/]+$", o))])
    error_message = "cors_allowed_origins must be origins (scheme://host[:port], no path) or \"*\"."
  }
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled deletion of the KMS key can still be cancelled; everything in the table and the bucket is unreadable once it is gone."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number from 7 to 30."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}

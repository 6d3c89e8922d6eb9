terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # State lives in S3: `make deploy` passes the bucket, key and region from backend.hcl
  # (copy backend.hcl.example). Validation runs with -backend=false.
  backend "s3" {}
}

# A root module that issues the certificate in the same apply as the load balancer, so the
# ARN reaching the module is unknown at plan time.
resource "aws_acm_certificate" "this" {
  domain_name       = "api.example.com"
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

module "alb" {
  source = "../.."

  name              = "imagegen-test"
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr_block    = "10.0.0.0/16"
  public_subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  certificate_arn   = aws_acm_certificate.this.arn
}

output "api_url" {
  description = "The module's api_url; its scheme is known at plan time even though the certificate is not."
  value       = module.alb.api_url
}

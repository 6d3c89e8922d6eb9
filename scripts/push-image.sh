#!/usr/bin/env bash
# Builds the image for Fargate (linux/amd64) and pushes it to ECR: push-image.sh <repository-url> <tag>
set -euo pipefail
repository="$1"
tag="$2"
registry="${repository%%/*}"
region="$(echo "$registry" | cut -d. -f4)"

aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker build --platform linux/amd64 --tag "$repository:$tag" .
docker push "$repository:$tag"

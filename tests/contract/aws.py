"""Helpers for tests against moto's server: clients for a test's endpoint, and per-test
copies of the table `terraform apply` of infra/modules/data created.

The tests build their own clients with an explicit endpoint_url (a test must not depend on
the caller's AWS setup); the code under test gets none and finds moto through the standard
AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3 variables, as it finds AWS in production.

fresh_table() copies the applied table's schema from describe_table, so each test gets an
empty table of its own while Terraform stays the only definition of keys and indexes.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
# moto takes any credentials; these keep a test from picking up real ones.
_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def dynamodb_client(endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **_CREDENTIALS)


def s3_client(endpoint: str) -> Any:
    # Path style: the endpoint is a loopback address, which has no bucket subdomains.
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        **_CREDENTIALS,
    )


def fresh_table(client: Any, source_table_name: str) -> str:
    """Create an empty table with the source table's keys, indexes, billing mode and TTL,
    under a new unique name; return that name."""
    source = client.describe_table(TableName=source_table_name)["Table"]
    name = f"{source_table_name}-{uuid.uuid4().hex[:12]}"
    billing = source.get("BillingModeSummary", {}).get("BillingMode", "PAY_PER_REQUEST")
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": source["KeySchema"],
        "AttributeDefinitions": source["AttributeDefinitions"],
        "BillingMode": billing,
    }
    indexes = [_index(index, billing) for index in source.get("GlobalSecondaryIndexes", [])]
    if indexes:
        params["GlobalSecondaryIndexes"] = indexes
    if billing == "PROVISIONED":
        params["ProvisionedThroughput"] = _throughput(source)
    client.create_table(**params)
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    ttl = client.describe_time_to_live(TableName=source_table_name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    return name


def _index(index: dict[str, Any], billing: str) -> dict[str, Any]:
    """The creatable part of a described index (describe_table adds status, sizes, ARN)."""
    copy = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
    if billing == "PROVISIONED":
        copy["ProvisionedThroughput"] = _throughput(index)
    return copy


def _throughput(described: dict[str, Any]) -> dict[str, int]:
    throughput = described.get("ProvisionedThroughput", {})
    return {
        "ReadCapacityUnits": max(int(throughput.get("ReadCapacityUnits", 1)), 1),
        "WriteCapacityUnits": max(int(throughput.get("WriteCapacityUnits", 1)), 1),
    }

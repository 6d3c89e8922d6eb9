"""infra/modules/data applied to moto: the table and bucket the AWS code runs against."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws.terraform_data import apply_data_module

# The provider waits for S3 to report the lifecycle rules unchanged for a while, about a
# minute even against moto; the apply happens once for the module.
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]


INDEXES = {
    "by_tenant": ("tenant_pk", "created_sk"),
    "by_tenant_status": ("tenant_status_pk", "created_sk"),
    "by_status": ("status_pk", "created_sk"),
    "images_by_saved": ("tenant_status_pk", "saved_sk"),
    "images_by_views": ("tenant_status_pk", "views_sk"),
    "images_by_size": ("tenant_status_pk", "size_sk"),
    "due": ("due_pk", "due_sk"),
}


@pytest.fixture(scope="module")
def applied(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    started = time.monotonic()
    # The module's defaults and the name of tests/conftest.py's data_layer: one apply for both.
    outputs = apply_data_module(moto_endpoint, tmp_path_factory.mktemp("tf-data"), "test")
    print(f"apply_data_module took {time.monotonic() - started:.1f} s")
    return outputs


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_outputs_name_the_table_bucket_and_retentions(applied: dict[str, Any]) -> None:
    assert applied["table_name"] == "test-records"
    assert applied["bucket_name"] == "test-images-123456789012-us-east-1"
    assert applied["index_names"] == sorted(INDEXES)
    assert applied["temporary_retention_days"] == 7
    assert applied["saved_retention_days"] == 90


def test_table_has_the_keys_and_indexes_of_the_data_model(
    applied: dict[str, Any], moto_endpoint: str
) -> None:
    table = client("dynamodb", moto_endpoint).describe_table(TableName=applied["table_name"])[
        "Table"
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]} == {
        "HASH": "pk",
        "RANGE": "sk",
    }
    assert {a["AttributeType"] for a in table["AttributeDefinitions"]} == {"S"}
    indexes = {
        index["IndexName"]: (
            {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]},
            index["Projection"]["ProjectionType"],
        )
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        name: ({"HASH": hash_key, "RANGE": range_key}, "ALL")
        for name, (hash_key, range_key) in INDEXES.items()
    }
    assert table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == applied["kms_key_arn"]


def test_table_has_ttl_and_point_in_time_recovery(
    applied: dict[str, Any], moto_endpoint: str
) -> None:
    dynamodb = client("dynamodb", moto_endpoint)
    ttl = dynamodb.describe_time_to_live(TableName=applied["table_name"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    backups = dynamodb.describe_continuous_backups(TableName=applied["table_name"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_bucket_is_private_and_encrypted_with_the_key(
    applied: dict[str, Any], moto_endpoint: str
) -> None:
    s3 = client("s3", moto_endpoint)
    bucket = applied["bucket_name"]
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": applied["kms_key_arn"],
    }
    assert rule["BucketKeyEnabled"] is True
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
    )
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # The helper removes the TLS-only policy, which moto (plain HTTP) would apply to everything.
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchCORSConfiguration"):
        s3.get_bucket_cors(Bucket=bucket)


def test_lifecycle_rules_follow_the_retention_tag(
    applied: dict[str, Any], moto_endpoint: str
) -> None:
    rules = {
        rule["ID"]: rule
        for rule in client("s3", moto_endpoint).get_bucket_lifecycle_configuration(
            Bucket=applied["bucket_name"]
        )["Rules"]
    }
    assert set(rules) == {"expire-temporary", "saved", "noncurrent-and-incomplete"}
    assert all(rule["Status"] == "Enabled" for rule in rules.values())

    temporary = rules["expire-temporary"]
    assert temporary["Filter"] == {"Tag": {"Key": "retention", "Value": "temporary"}}
    assert temporary["Expiration"] == {"Days": 8}

    saved = rules["saved"]
    assert saved["Filter"] == {"Tag": {"Key": "retention", "Value": "saved"}}
    # Kept 90 days, a saved image never reaches the 90-day Glacier Instant Retrieval step.
    assert saved["Transitions"] == [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    assert saved["Expiration"] == {"Days": 91}

    rest = rules["noncurrent-and-incomplete"]
    assert rest["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rest["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_objects_are_tagged_on_put_and_retagged_when_saved(
    applied: dict[str, Any], moto_endpoint: str
) -> None:
    s3 = client("s3", moto_endpoint)
    bucket, key = applied["bucket_name"], "t_1/generated/2026/11/22/img_1.png"
    s3.put_object(Bucket=bucket, Key=key, Body=b"png", Tagging="retention=temporary")
    s3.put_object_tagging(
        Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "retention", "Value": "saved"}]}
    )
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [
        {"Key": "retention", "Value": "saved"}
    ]
    assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "aws:kms"


def test_apply_helper_needs_no_files_in_the_repository(applied: dict[str, Any]) -> None:
    root = Path(__file__).with_name("terraform")
    assert sorted(p.name for p in root.iterdir()) == ["main.tf"]


def test_a_repeated_apply_returns_the_first_ones_outputs(
    applied: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    assert apply_data_module(moto_endpoint, tmp_path, "test") == applied
    assert time.monotonic() - started < 1
    assert not any(tmp_path.iterdir())

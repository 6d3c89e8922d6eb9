"""Every contract test runs against both repositories: SQLite, and DynamoDB on moto's server
in a table with the schema `terraform apply` of infra/modules/data created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imagegen.storage.dynamodb import DynamoRepository
from imagegen.storage.repository import Repository
from imagegen.storage.sqlite import SqliteRepository
from tests.contract.aws import dynamodb_client, fresh_table


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The standard endpoint variables, so the code under test finds moto as it would AWS."""
    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return moto_endpoint


@pytest.fixture(params=["sqlite", "dynamodb"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repository]:
    if request.param == "sqlite":
        yield SqliteRepository(tmp_path / "imagegen.sqlite3")
        return
    endpoint = request.getfixturevalue("aws_env")
    layer = request.getfixturevalue("data_layer")
    # A fresh copy of the applied table per test, so no test sees another's items.
    yield DynamoRepository(fresh_table(dynamodb_client(endpoint), layer["table_name"]))

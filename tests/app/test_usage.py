"""GET /v1/usage in-process: how from, to and group_by are read, and every bad value refused
with 400 IMG302 naming its parameter. What the figures count is tests/usecases/test_usage.py
and tests/integration/test_usage.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from imagegen.records import parse_utc
from tests.app.conftest import assert_error

ZERO = {"jobs": 0, "images": 0, "calls": 0, "credits_used": 0.0, "price_usd": 0.0}


@pytest.mark.parametrize(
    ("query", "period"),
    [
        # Dates are UTC days; `to` as a date is its whole day.
        (
            {"from": "2026-11-01", "to": "2026-11-30"},
            ("2026-11-01T00:00:00.000Z", "2026-11-30T23:59:59.999Z"),
        ),
        # Date-times are inclusive moments, in any offset; a "+" sent unencoded is a space.
        (
            {"from": "2026-11-01T09:30:00+09:00", "to": "2026-11-02T10:00:00.25Z"},
            ("2026-11-01T00:30:00.000Z", "2026-11-02T10:00:00.250Z"),
        ),
        (
            {"from": "2026-11-01T09:30:00 09:00", "to": "2026-11-01t01:00:00.123456789z"},
            ("2026-11-01T00:30:00.000Z", "2026-11-01T01:00:00.123Z"),
        ),
        # The longest period: 93 whole days.
        (
            {"from": "2026-09-02", "to": "2026-12-03"},
            ("2026-09-02T00:00:00.000Z", "2026-12-03T23:59:59.999Z"),
        ),
        # Without from, the 30 days up to `to`.
        ({"to": "2026-11-30T00:00:00Z"}, ("2026-10-31T00:00:00.000Z", "2026-11-30T00:00:00.000Z")),
    ],
)
def test_the_period_is_read_as_utc_moments_both_inclusive(
    client: FlaskClient, auth: dict[str, str], query: dict[str, str], period: tuple[str, str]
) -> None:
    response = client.get("/v1/usage", query_string=query, headers=auth)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["from"], body["to"]) == period
    assert body == {
        "from": period[0],
        "to": period[1],
        "group_by": None,
        "totals": ZERO,
        "groups": [],
    }


def test_without_a_period_it_is_the_last_30_days(client: FlaskClient, auth: dict[str, str]) -> None:
    before = datetime.now(UTC)
    body = client.get("/v1/usage?group_by=day", headers=auth).get_json()
    start, end = parse_utc(body["from"]), parse_utc(body["to"])
    assert end - start == timedelta(days=30)
    assert before - timedelta(seconds=1) <= end <= datetime.now(UTC)
    assert (body["group_by"], body["groups"]) == ("day", [])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"group_by": "tenant"}, "group_by"),
        ({"group_by": ""}, "group_by"),
        ({"from": "yesterday"}, "from"),
        ({"from": ""}, "from"),
        ({"to": "2026-11-31"}, "to"),  # no such day
        ({"to": "2026-11-01T10:00:00"}, "to"),  # a date-time without an offset is ambiguous
        ({"from": "2026-W44"}, "from"),  # ISO 8601, but not RFC 3339
        ({"from": "2026-11-01T10:00:00123Z"}, "from"),  # digits but no decimal point
        ({"from": "0001-01-01T00:00:00+01:00"}, "from"),  # before the first UTC moment
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
        ({"from": "2026-09-01T23:59:59.999Z", "to": "2026-12-03"}, "from"),  # 93 days and 1 ms
        ({"from": "2020-01-01"}, "from"),  # up to now: years
    ],
)
def test_a_bad_value_is_refused_naming_its_parameter(
    client: FlaskClient, auth: dict[str, str], query: dict[str, str], parameter: str
) -> None:
    response = client.get("/v1/usage", query_string=query, headers=auth)
    error = assert_error(response, 400, "IMG302")
    assert error["details"]["parameter"] == parameter
    assert parameter in error["message"]


def test_the_allowed_groupings_are_named(client: FlaskClient, auth: dict[str, str]) -> None:
    error = assert_error(client.get("/v1/usage?group_by=week", headers=auth), 400, "IMG302")
    assert error["details"]["allowed"] == ["day", "model", "user"]


def test_an_undeclared_parameter_is_refused(client: FlaskClient, auth: dict[str, str]) -> None:
    error = assert_error(client.get("/v1/usage?user_id=alice", headers=auth), 400, "IMG302")
    assert error["details"] == {"parameter": "user_id", "allowed": ["from", "group_by", "to"]}


def test_a_key_is_required(client: FlaskClient) -> None:
    assert_error(client.get("/v1/usage"), 401, "AUTH001")

"""The caller's tenant's usage over a period: images, model calls, credits and USD, in total
and by day, model or user (imagegen.usage says what counts)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from app.auth import require_api_key
from app.context import caller, services
from imagegen.records import utc_timestamp
from imagegen.usage import UsageReport, parse_usage_query, usage_report

bp = Blueprint("usage", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/usage")
def get_usage() -> ResponseReturnValue:
    query = parse_usage_query(
        request.args.get("from"),
        request.args.get("to"),
        request.args.get("group_by"),
        now=datetime.now(UTC),
    )
    return jsonify(_usage_body(usage_report(services(), caller(), query)))


def _usage_body(report: UsageReport) -> dict[str, Any]:
    return {
        "from": utc_timestamp(report.query.start),
        "to": utc_timestamp(report.query.last_moment),
        "group_by": report.query.group_by,
        "totals": asdict(report.totals),
        "groups": [{"key": key, **asdict(figures)} for key, figures in report.groups],
    }

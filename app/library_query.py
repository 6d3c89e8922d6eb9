"""The query string of GET /v1/images: the filters and order as an ImageQuery, and the page
asked for; every bad value is a 400 IMG302 naming its parameter."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from flask import request

from app.query_params import alternatives, choice_arg, int_arg, invalid_parameter
from imagegen.library_paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, PageRequest
from imagegen.records import IMAGE_SORTS, IMAGE_TYPES, LIBRARY_STATUSES, ImageQuery, utc_timestamp

MAX_SEARCH_CHARS = 500
MAX_FILTER_CHARS = 200
_OFFSET_WITHOUT_PLUS = re.compile(r" (\d{2}(:?\d{2})?)$")


def listing_query() -> ImageQuery:
    statuses = _list_arg("status")
    # "status=" names no status: it is a mistake, not a way to ask for every one.
    named_none = "status" in request.args and not statuses
    if named_none or any(status not in LIBRARY_STATUSES for status in statuses):
        raise invalid_parameter(
            "status",
            f"status must be {alternatives(LIBRARY_STATUSES)} (deleted images are not listed)",
            list(LIBRARY_STATUSES),
        )
    image_type = choice_arg("image_type", IMAGE_TYPES, None)
    sort = choice_arg("sort", IMAGE_SORTS, "created_at")
    order = choice_arg("order", ("asc", "desc"), "desc")
    search = (request.args.get("search") or "").strip()
    if len(search) > MAX_SEARCH_CHARS:
        raise invalid_parameter("search", f"search must be at most {MAX_SEARCH_CHARS} characters")
    chat_id = request.args.get("chat_id")
    if chat_id is not None and not 1 <= len(chat_id) <= MAX_FILTER_CHARS:
        raise invalid_parameter("chat_id", f"chat_id must be 1 to {MAX_FILTER_CHARS} characters")
    created_from = _timestamp_arg("created_from", end_of_day=False)
    created_to = _timestamp_arg("created_to", end_of_day=True)
    if created_from and created_to and created_from > created_to:
        raise invalid_parameter("created_from", "created_from must not be after created_to")
    return ImageQuery(
        # In a fixed order, so the same filters written differently are the same query.
        statuses=tuple(s for s in LIBRARY_STATUSES if s in statuses) or LIBRARY_STATUSES,
        chat_id=chat_id,
        tags=tuple(sorted(set(_list_arg("tags")))),
        categories=tuple(sorted(set(_list_arg("categories")))),
        is_favorite=_bool_arg("is_favorite"),
        image_type=image_type,
        search=search or None,
        created_from=created_from,
        created_to=created_to,
        sort=sort,
        descending=order == "desc",
    )


def page_request() -> PageRequest:
    """page is read only without a cursor: with one it is ignored."""
    cursor = request.args.get("cursor") or None
    if cursor:
        return PageRequest(cursor=cursor, limit=int_arg("limit", None, 1, MAX_LIMIT))
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    return PageRequest(page=int_arg("page", 1, 1, MAX_PAGE), limit=limit)


def _list_arg(name: str) -> list[str]:
    """A list parameter: repeated (?tags=a&tags=b), comma-separated (?tags=a,b) or both."""
    values = [
        part.strip()
        for raw in request.args.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]
    for value in values:
        if len(value) > MAX_FILTER_CHARS:
            raise invalid_parameter(
                name, f"each {name} value must be at most {MAX_FILTER_CHARS} characters"
            )
    return values


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise invalid_parameter(name, f"{name} must be true or false", ["true", "false"])
    return raw.lower() == "true"


def _timestamp_arg(name: str, end_of_day: bool) -> str | None:
    """ISO 8601 (a date, or a date and time with Z or an offset; none means UTC), as our UTC
    millisecond format. A date alone is the start of that day, or for created_to its end."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    # An unencoded "+01:00" arrives as " 01:00".
    text = _OFFSET_WITHOUT_PLUS.sub(r"+\1", raw.strip())
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end_of_day:
                moment += timedelta(days=1, milliseconds=-1)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return utc_timestamp(moment)
    except (ValueError, OverflowError):
        raise invalid_parameter(
            name, f"{name} must be an ISO 8601 date or date-time, e.g. 2026-11-01T00:00:00Z"
        ) from None

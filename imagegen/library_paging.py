"""How the image library's listing pages: page sizes and the cursors for deep paging.

A cursor carries where the next page starts (the repository's next_after), how many images
come before it and the page size (for the page number), and what it lists: used with
other filters or another order it would start at a meaningless place, so that is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.records import ImageQuery

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PAGE = 1_000_000
_CURSOR_VERSION = 1


@dataclass(frozen=True)
class PageRequest:
    """The page a listing asks for: after a cursor (page is then ignored), or by number.
    limit None: the page size of the cursor's listing, or without a cursor the default."""

    cursor: str | None = None
    page: int = 1
    limit: int | None = None


@dataclass(frozen=True)
class CursorStart:
    """Where a cursor's page starts."""

    position: int  # images before the page
    after: str  # the sort key the page starts after
    limit: int  # the page size of the listing the cursor came from


def make_cursor(query: ImageQuery, after: str, position: int, limit: int) -> str:
    data = {
        "v": _CURSOR_VERSION,
        "sort": query.sort,
        "order": _order(query),
        "filters": _filters_hash(query),
        "after": after,
        "position": position,
        "limit": limit,
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_cursor(cursor: str, query: ImageQuery) -> CursorStart:
    """The start of a cursor's page, or IMG302 for a cursor not made for this listing."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
            raise ValueError("not a cursor")
        after, position = data["after"], data["position"]
        # Cursors made before they carried the page size continue at the default one.
        limit = data.get("limit", DEFAULT_LIMIT)
        if not isinstance(after, str) or type(position) is not int or position < 0:
            raise ValueError("not a cursor")
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise ValueError("not a cursor")
        after.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    except (ValueError, KeyError, RecursionError, binascii.Error, UnicodeDecodeError):
        raise _invalid_cursor(
            "cursor is not one this API gave out (pass next_cursor as it came)"
        ) from None
    if (data.get("sort"), data.get("order"), data.get("filters")) != (
        query.sort,
        _order(query),
        _filters_hash(query),
    ):
        raise _invalid_cursor(
            "cursor belongs to a listing with other filters or another sort order: send the "
            "same filters, sort and order as the request it came from"
        )
    return CursorStart(position, after, limit)


def _filters_hash(query: ImageQuery) -> str:
    filters = {
        "statuses": list(query.statuses),
        "chat_id": query.chat_id,
        "tags": list(query.tags),
        "categories": list(query.categories),
        "is_favorite": query.is_favorite,
        "image_type": query.image_type,
        "search": query.search,
        "created_from": query.created_from,
        "created_to": query.created_to,
    }
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _order(query: ImageQuery) -> str:
    return "desc" if query.descending else "asc"


def _invalid_cursor(message: str) -> ServiceError:
    return ServiceError(
        errors.INVALID_PARAMETERS, message, {"field": "cursor", "parameter": "cursor"}
    )

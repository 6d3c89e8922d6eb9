"""The paging engine: listings as Queries of one partition each, read a page at a time.

A listing reads items only as the caller consumes them, so a page of N reads about N items
however long the list is; a listing over several partitions (the image library, one per
status) merges them lazily in its order. Nothing here ever Scans. Queries of an index are
eventually consistent (DynamoDB's indexes cannot be read otherwise): every write that
follows one is conditional on what the index showed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from imagegen.records import Image, ImageQuery
from imagegen.storage.dynamodb.attributes import deserialize, serialize
from imagegen.storage.dynamodb.codec import image_from_item
from imagegen.storage.dynamodb.expressions import Filter, merge_names, projection_expression
from imagegen.storage.dynamodb.keys import AFTER_INSTANT, LISTING_INDEXES, library_partition
from imagegen.storage.dynamodb.table import Table

R = TypeVar("R")


@dataclass(frozen=True)
class Bound:
    """One end of a sort key range."""

    value: str
    inclusive: bool

    def admits_above(self, key: str) -> bool:  # as a lower bound
        return key > self.value or (self.inclusive and key == self.value)

    def admits_below(self, key: str) -> bool:  # as an upper bound
        return key < self.value or (self.inclusive and key == self.value)

    @staticmethod
    def lowest(a: Bound | None, b: Bound) -> Bound:
        """The tighter of two upper bounds."""
        if a is None or b.value < a.value or (b.value == a.value and not b.inclusive):
            return b
        return a

    @staticmethod
    def highest(a: Bound | None, b: Bound) -> Bound:
        """The tighter of two lower bounds."""
        if a is None or b.value > a.value or (b.value == a.value and not b.inclusive):
            return b
        return a


def query_partition(
    table: Table,
    index: str | None,
    partition: tuple[str, str],
    sort_attr: str,
    lower: Bound | None = None,
    upper: Bound | None = None,
    forward: bool = True,
    filter_: Filter | None = None,
    page: int | Callable[[int], int] | None = None,
    projection: Iterable[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The items of one partition between the bounds, in sort key order, read a Query
    page (`page` items, before the filter; or page(n) for the n-th page) at a time as
    the caller consumes them. Without an index, the table's own partition is read
    strongly consistent."""
    params = _query_params(table.name, index, partition, sort_attr, lower, upper, filter_)
    if params is None:
        return
    params["ScanIndexForward"] = forward
    if index is None:
        params["ConsistentRead"] = True
    if projection is not None:
        params.update(merge_names(params, projection_expression((sort_attr, *projection))))
    for number in itertools.count():
        if page is not None:
            params["Limit"] = max(page(number) if callable(page) else page, 1)
        response = table.client.query(**params)
        for raw in response.get("Items", []):
            item = deserialize(raw)
            if (lower and not lower.admits_above(item[sort_attr])) or (
                upper and not upper.admits_below(item[sort_attr])
            ):
                continue  # an exclusive bound that BETWEEN had to include
            yield item
        if "LastEvaluatedKey" not in response:
            return
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def count_partition(
    table: Table,
    index: str,
    partition: tuple[str, str],
    sort_attr: str,
    lower: Bound | None,
    upper: Bound | None,
    filter_: Filter,
) -> int:
    """How many items of the partition match: every item the filter examines is read."""
    params = _query_params(table.name, index, partition, sort_attr, lower, upper, filter_)
    if params is None:
        return 0
    params["Select"] = "COUNT"
    total = 0
    while True:
        response = table.client.query(**params)
        total += int(response["Count"])
        if "LastEvaluatedKey" not in response:
            return total
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _query_params(
    table: str,
    index: str | None,
    partition: tuple[str, str],
    sort_attr: str,
    lower: Bound | None,
    upper: Bound | None,
    filter_: Filter | None,
) -> dict[str, Any] | None:
    """A Query's parameters; None when the range is empty (DynamoDB rejects BETWEEN a > b)."""
    names = {"#pk": partition[0]}
    values: dict[str, Any] = {":pk": partition[1]}
    condition = "#pk = :pk"
    if lower and upper:
        if lower.value > upper.value:
            return None
        # One operator per sort key: BETWEEN includes both ends, and query_partition() drops a key
        # equal to an exclusive end.
        condition += " AND #sk BETWEEN :lower AND :upper"
        values.update({":lower": lower.value, ":upper": upper.value})
    elif lower:
        condition += f" AND #sk {'>=' if lower.inclusive else '>'} :lower"
        values[":lower"] = lower.value
    elif upper:
        condition += f" AND #sk {'<=' if upper.inclusive else '<'} :upper"
        values[":upper"] = upper.value
    if lower or upper:
        names["#sk"] = sort_attr
    params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": condition}
    if index is not None:
        params["IndexName"] = index
    extra = filter_.params() if filter_ else {}
    if extra:
        params["FilterExpression"] = extra["FilterExpression"]
        names.update(extra["ExpressionAttributeNames"])
    params["ExpressionAttributeNames"] = names
    params["ExpressionAttributeValues"] = {
        **serialize(values),
        **extra.get("ExpressionAttributeValues", {}),
    }
    return params


# --- the image library --------------------------------------------------------------------


def library_page(
    table: Table,
    tenant_id: str,
    query: ImageQuery,
    statuses: list[str],
    limit: int,
    skip: int,
    after: str | None,
) -> tuple[list[Image], bool]:
    """A page of the library (`limit` images after the `after` cursor, or after skipping
    `skip`), and whether more follow.

    One Query per status partition, read lazily and merged in the listing's order, so a
    page reads about `limit` items of the partitions together (one more tells whether more
    follow). The cursor is a key condition: a deep page reads only itself.
    """
    index, sort_attr = LISTING_INDEXES[query.sort]
    lower, upper = _created_range(query)
    if after is not None:
        cursor = Bound(after, inclusive=False)
        if query.descending:
            upper = Bound.lowest(upper, cursor)
        else:
            lower = Bound.highest(lower, cursor)
    filter_ = _image_filter(query)
    wanted = skip + limit + 1
    taken = _Tally()  # how many the merge has handed out so far
    sizes = _page_sizes(wanted, len(statuses), filtered=bool(filter_.clauses), taken=taken)
    partitions = [
        query_partition(
            table,
            index,
            library_partition(tenant_id, status),
            sort_attr,
            lower=lower,
            upper=upper,
            forward=not query.descending,
            filter_=filter_,
            page=sizes,
        )
        for status in statuses
    ]
    merged = heapq.merge(*partitions, key=lambda item: item[sort_attr], reverse=query.descending)
    rows = [
        image_from_item(item) for item in itertools.islice(taken.counting(merged), skip, wanted)
    ]
    images = rows[:limit]
    return images, len(rows) > limit and bool(images)


def library_total(table: Table, tenant_id: str, query: ImageQuery, statuses: list[str]) -> int:
    """How many images the listing holds, counted by Queries that read every match (a
    total the counters cannot give: see counters.counted_total)."""
    index, sort_attr = LISTING_INDEXES[query.sort]
    created_from, created_to = _created_range(query)
    filter_ = _image_filter(query)
    return sum(
        count_partition(
            table,
            index,
            library_partition(tenant_id, status),
            sort_attr,
            created_from,
            created_to,
            filter_,
        )
        for status in statuses
    )


class _Tally:
    """Counts the items a merge hands out."""

    def __init__(self) -> None:
        self.count = 0

    def counting(self, items: Iterator[R]) -> Iterator[R]:
        for item in items:
            self.count += 1
            yield item


def _page_sizes(
    wanted: int, partitions: int, filtered: bool, taken: _Tally
) -> Callable[[int], int]:
    """The Limit of each Query page of a listing's partitions, which a merge reads together.

    Unfiltered, the first page of each is its share of the listing (and one to spare, for
    an uneven split), and a later one asks for what the merge can still take (`taken`
    counts what it has handed out). Filtered, Limit counts items before the filter, so every
    page is the whole listing's size, which spares round trips.
    """

    def size(number: int) -> int:
        if filtered or partitions <= 1:
            return wanted
        if number == 0:
            return -(-wanted // partitions) + 1
        return max(wanted - taken.count, 1)

    return size


def _created_range(query: ImageQuery) -> tuple[Bound | None, Bound | None]:
    """created_from/created_to as a range of created_sk, when the listing is by created_at
    (otherwise they are filters, see _image_filter). Both ends are inclusive instants."""
    if query.sort != "created_at":
        return None, None
    lower = Bound(query.created_from, inclusive=True) if query.created_from else None
    upper = Bound(query.created_to + AFTER_INSTANT, inclusive=False) if query.created_to else None
    return lower, upper


def _image_filter(query: ImageQuery) -> Filter:
    """The listing's filters other than status (the partition) and a created_at range that
    is a key condition."""
    filter_ = Filter()
    if query.chat_id is not None:
        filter_.equals("chat_id", query.chat_id)
    if query.tags:
        filter_.contains_any("user_tags", query.tags)
    if query.categories:
        filter_.contains_any("categories", query.categories)
    if query.is_favorite is not None:
        filter_.equals("is_favorite", query.is_favorite)
    if query.image_type is not None:
        filter_.equals("image_type", query.image_type)
    if query.search:
        filter_.contains_any("search_text", [query.search.casefold()])
    if query.sort != "created_at":
        if query.created_from is not None:
            filter_.compare("created_at", ">=", query.created_from)
        if query.created_to is not None:
            filter_.compare("created_at", "<=", query.created_to)
    return filter_

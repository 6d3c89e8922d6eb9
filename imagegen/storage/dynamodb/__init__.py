"""The repository on DynamoDB: one table, laid out as docs/data-model.md describes.

Every record is one item keyed by `pk`/`sk`; the global secondary indexes are sparse, so an
item is in an index only while it carries that index's key attributes. None is never stored:
an absent attribute is how a record says None, which is also what takes an item out of a
sparse index (an update that sets an index key to None removes the attribute).

Where the SQLite repository relies on a WHERE clause or a transaction, this one relies on a
ConditionExpression or on TransactWriteItems, so the same races have the same winners.
Reads of the table itself are strongly consistent, as SQLite's reads of its own writes are;
Queries of an index cannot be (DynamoDB's indexes are eventually consistent), and every
write that follows one is conditional on what the index showed.

The modules, from the bottom up: attributes (Python values <-> attribute values), keys (each
item's primary key and index keys), codec (records <-> items), expressions (updates,
conditions, filters), table (the calls on the table), paging (Queries, page by page, and
the library's listing), counters (the library's per-tenant counters) and repository
(DynamoRepository, the Repository interface).
"""

from imagegen.storage.dynamodb.repository import DynamoRepository

__all__ = ["DynamoRepository"]

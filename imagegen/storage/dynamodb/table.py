"""The repository's calls on its one table: reads of items, conditional writes, transactions.

Reads of the table itself are strongly consistent, as SQLite's reads of its own writes are.
A conditional write whose condition fails writes nothing and says so (False, or None), the
way an UPDATE whose WHERE matched no row does; any other error is raised. Queries (the
reads of a partition, page by page) are paging.py's.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from imagegen.storage.dynamodb.attributes import deserialize, serialize
from imagegen.storage.dynamodb.expressions import Update, projection_expression
from imagegen.storage.dynamodb.keys import primary_key

_BATCH_GET_SIZE = 100  # BatchGetItem's limit


class TransactionCancelled(Exception):
    """A cancelled transaction, with DynamoDB's reason for each of its items (in order)."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__([reason.get("Code") for reason in reasons])
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        """Whether the item's condition failed."""
        return (
            index < len(self.reasons)
            and self.reasons[index].get("Code") == "ConditionalCheckFailed"
        )

    def any_failed(self) -> bool:
        return any(self.failed(i) for i in range(len(self.reasons)))

    def conflicted(self) -> bool:
        return any(reason.get("Code") == "TransactionConflict" for reason in self.reasons)

    def item(self, index: int) -> dict[str, Any] | None:
        """The item as it was, for a write asking ReturnValuesOnConditionCheckFailure."""
        raw = self.reasons[index].get("Item") if index < len(self.reasons) else None
        return deserialize(raw) if raw else None


class Table:
    """One table, through one client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def get(
        self, pk: str, sk: str, projection: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        """One item, strongly consistent (a record is read back right after it is written)."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "Key": primary_key(pk, sk),
            "ConsistentRead": True,
        }
        if projection is not None:
            params.update(projection_expression(projection))
        item = self.client.get_item(**params).get("Item")
        return deserialize(item) if item else None

    def get_many(
        self, keys: list[tuple[str, str]], projection: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """BatchGetItem in chunks of 100, strongly consistent, retrying unprocessed keys."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"ConsistentRead": True}
        if projection is not None:
            request.update(projection_expression(("pk", "sk", *projection)))
        for start in range(0, len(keys), _BATCH_GET_SIZE):
            chunk = [primary_key(pk, sk) for pk, sk in keys[start : start + _BATCH_GET_SIZE]]
            pending: dict[str, Any] = {self.name: {**request, "Keys": chunk}}
            for attempt in itertools.count():
                response = self.client.batch_get_item(RequestItems=pending)
                found += [deserialize(item) for item in response["Responses"].get(self.name, [])]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))  # throttled: back off
        return found

    def put(self, write: dict[str, Any]) -> None:
        """A Put built for a transaction (expressions.put), run alone as a PutItem."""
        self.client.put_item(**write["Put"])

    def delete(self, pk: str, sk: str) -> None:
        self.client.delete_item(TableName=self.name, Key=primary_key(pk, sk))

    def update(self, update: Update) -> bool:
        """Run a conditional UpdateItem; False (nothing written) when its condition fails."""
        return (
            _unless_condition_fails(self.client.update_item, **update.params(self.name)) is not None
        )

    def update_returning(self, update: Update, returning: str) -> dict[str, Any] | None:
        """As update(), with the item before (ALL_OLD) or after (ALL_NEW) the write."""
        response = _unless_condition_fails(
            self.client.update_item, **update.params(self.name), ReturnValues=returning
        )
        return None if response is None else deserialize(response.get("Attributes", {}))

    def delete_if(self, item_key: tuple[str, str], condition: str, values: dict[str, Any]) -> bool:
        """DeleteItem under the condition; False (nothing deleted) when it fails."""
        response = _unless_condition_fails(
            self.client.delete_item,
            TableName=self.name,
            Key=primary_key(*item_key),
            ConditionExpression=condition,
            ExpressionAttributeValues=serialize(values),
        )
        return response is not None

    def transact_if_first_holds(self, writes: list[dict[str, Any]]) -> bool:
        """transact(), False (nothing written) when the first write's condition fails: the
        record whose state the others follow from had moved on."""
        try:
            self.transact(writes)
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                return False
            raise
        return True

    def transact(self, writes: list[dict[str, Any]]) -> None:
        """TransactWriteItems, all or nothing; raises TransactionCancelled with the reasons.

        The request token makes botocore's own retry of a transaction that did succeed
        (its answer lost) succeed again rather than fail its conditions. A transaction
        cancelled only because another one held an item at the time is tried again: its
        conditions are then evaluated against the other's outcome.
        """
        for attempt in itertools.count():
            try:
                self.client.transact_write_items(
                    TransactItems=writes, ClientRequestToken=uuid.uuid4().hex
                )
                return
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                cancelled = TransactionCancelled(error.response.get("CancellationReasons", []))
                if cancelled.conflicted() and not cancelled.any_failed() and attempt < 8:
                    time.sleep(min(0.02 * 2**attempt, 1.0))
                    continue
                raise cancelled from None


def _unless_condition_fails(
    call: Callable[..., dict[str, Any]], **params: Any
) -> dict[str, Any] | None:
    """The call's response, or None when its ConditionExpression did not hold."""
    try:
        return call(**params)
    except ClientError as error:
        if _code(error) == "ConditionalCheckFailedException":
            return None
        raise


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))

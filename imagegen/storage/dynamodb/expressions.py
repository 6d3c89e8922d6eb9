"""DynamoDB expressions, as data: update and condition expressions, filters, projections and
the Puts of new records.

Where the SQLite repository relies on a WHERE clause, this one relies on a
ConditionExpression: the writes are built here, with their conditions, and sent by table.py
(alone, or as items of one TransactWriteItems).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from imagegen.records import PROCESSING
from imagegen.storage.dynamodb.attributes import serialize, serialize_item

# A write of a running attempt: the job is still processing under that attempt's run id.
HELD = "#status = :processing AND run_id = :run"


def held(run_id: str) -> dict[str, Any]:
    """The values of HELD."""
    return {":processing": PROCESSING, ":run": run_id}


@dataclass
class Update:
    """An UpdateItem: SET what is given (a None value REMOVEs the attribute: an absent
    attribute is how None is stored, and what takes an item out of a sparse index), ADD the
    increments, under an optional condition whose #names are the attributes' own names."""

    key: dict[str, Any]
    changes: dict[str, Any]
    add: dict[str, int] = field(default_factory=dict)
    condition: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def params(self, table: str) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = dict(self.values)
        sets, removes, adds = [], [], []
        for i, (name, value) in enumerate(self.changes.items()):
            names[f"#u{i}"] = name
            if value is None:
                removes.append(f"#u{i}")
            else:
                sets.append(f"#u{i} = :u{i}")
                values[f":u{i}"] = value
        for i, (name, value) in enumerate(self.add.items()):
            names[f"#a{i}"] = name
            adds.append(f"#a{i} :a{i}")
            values[f":a{i}"] = value
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", sets), ("REMOVE", removes), ("ADD", adds))
            if parts
        ]
        params: dict[str, Any] = {
            "TableName": table,
            "Key": self.key,
            "UpdateExpression": " ".join(clauses),
        }
        if self.condition:
            params["ConditionExpression"] = self.condition
            names.update(_names_in(self.condition))
        if names:
            params["ExpressionAttributeNames"] = names
        if values:
            params["ExpressionAttributeValues"] = serialize(values)
        return params

    def transact(self, table: str) -> dict[str, Any]:
        """The same update as an item of TransactWriteItems."""
        return {"Update": self.params(table)}


def _names_in(expression: str) -> dict[str, str]:
    """#name placeholders of an expression, each standing for the attribute of that name."""
    return {f"#{name}": name for name in re.findall(r"#(\w+)", expression)}


def put(table: str, item: dict[str, Any], new: bool = False) -> dict[str, Any]:
    """A transaction's Put of a record; `new`: only if no item has its key (like INSERT)."""
    request: dict[str, Any] = {"TableName": table, "Item": serialize_item(item)}
    if new:
        request["ConditionExpression"] = "attribute_not_exists(pk)"
    return {"Put": request}


def idempotency_put(table: str, item: dict[str, Any], now: str) -> dict[str, Any]:
    """An idempotency key's binding, unless the key is bound already and that binding has not
    expired by `now`; a failed condition returns the existing binding (for
    IdempotencyKeyTaken)."""
    return {
        "Put": {
            "TableName": table,
            "Item": serialize_item(item),
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
            "ExpressionAttributeValues": serialize({":now": now}),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


class Filter:
    """A FilterExpression built up clause by clause (all must hold)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _value(self, value: Any) -> str:
        placeholder = f":f{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def _name(self, name: str) -> str:
        self.names[f"#{name}"] = name
        return f"#{name}"

    def equals(self, name: str, value: Any) -> None:
        self.clauses.append(f"{self._name(name)} = {self._value(value)}")

    def compare(self, name: str, operator: str, value: Any) -> None:
        self.clauses.append(f"{self._name(name)} {operator} {self._value(value)}")

    def contains_any(self, name: str, values: Iterable[Any]) -> None:
        """The list (or string) attribute contains at least one of the values."""
        attr = self._name(name)
        options = [f"contains({attr}, {self._value(value)})" for value in values]
        self.clauses.append(f"({' OR '.join(options)})")

    def params(self) -> dict[str, Any]:
        if not self.clauses:
            return {}
        return {
            "FilterExpression": " AND ".join(self.clauses),
            "ExpressionAttributeNames": dict(self.names),
            "ExpressionAttributeValues": serialize(self.values),
        }


def projection_expression(names: Iterable[str]) -> dict[str, Any]:
    """A ProjectionExpression of the attributes (each named once)."""
    names = list(dict.fromkeys(names))
    return {
        "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(names))),
        "ExpressionAttributeNames": {f"#p{i}": name for i, name in enumerate(names)},
    }


def merge_names(params: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A projection whose names join those the request's other expressions use."""
    return {
        "ProjectionExpression": extra["ProjectionExpression"],
        "ExpressionAttributeNames": {
            **params.get("ExpressionAttributeNames", {}),
            **extra["ExpressionAttributeNames"],
        },
    }

"""Python values <-> DynamoDB attribute values (the typed {"S": ...} form the client speaks).

Floats go in as Decimal, which boto3 insists on, and numbers come back as int or float, so
the rest of the package deals in plain Python values only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    """Python values as DynamoDB attribute values (floats as Decimal, which boto3 wants)."""
    return {name: _serializer.serialize(_decimals(value)) for name, value in values.items()}


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its None attributes: absent is how a record stores None."""
    return serialize({name: value for name, value in item.items() if value is not None})


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    return value


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    """Decimals back to int or float, inside lists and maps too."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value

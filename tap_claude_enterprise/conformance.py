"""A fast check that the SDK's record conformance would change nothing.

The SDK conforms every record recursively (``TYPE_CONFORMANCE_LEVEL = RECURSIVE``): it
drops properties the schema does not know, turns datetimes, bytes and 0/1 booleans into
JSON values and NaN/Infinity into null, and prunes deselected properties. For this API's
records that almost never changes anything, yet it costs about two thirds of the tap's
CPU per record. ``RecordPlan.unchanged`` answers "would conformance leave this record
as it is?" with a walk that is several times cheaper; only when the answer is no (an
unknown field, an odd type) does the stream take the SDK's full path, so every emitted
record stays exactly what the SDK would have written.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type,
    is_object_type,
)


class RecordPlan:
    """What conformance checks, for one object schema, compiled once per stream."""

    __slots__ = ("booleans", "extra_allowed", "keys", "objects")

    def __init__(self, schema: dict[str, Any]) -> None:
        properties: dict[str, Any] = schema.get("properties") or {}
        self.keys = frozenset(properties)
        self.extra_allowed = bool(schema.get("additionalProperties"))
        self.objects: dict[str, RecordPlan] = {}
        booleans = set()
        for name, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            if is_object_type(sub) and "properties" in sub:
                self.objects[name] = RecordPlan(sub)
            if _is_exclusive_boolean_type(sub):
                booleans.add(name)
        self.booleans = frozenset(booleans)

    def unchanged(self, record: dict[str, Any]) -> bool:  # noqa: PLR0911 - a flat hot loop
        """True if conformance would return a record equal to ``record``."""
        if not self.extra_allowed and not self.keys.issuperset(record):
            return False  # an unknown property: the SDK drops it and warns
        objects, booleans = self.objects, self.booleans
        for name, value in record.items():
            kind = type(value)
            if kind is str or kind is int:
                if booleans and name in booleans:
                    return False  # a boolean property: the SDK writes ``value != 0``
            elif kind is dict:
                plan = objects.get(name)
                if plan is not None:
                    if not plan.unchanged(value):
                        return False
                elif booleans and name in booleans:
                    return False
            elif value is None or kind is bool:
                continue
            elif kind is Decimal or kind is float:
                # The SDK's own test: NaN, and anything infinite as a float, becomes null.
                if math.isnan(value) or math.isinf(value):
                    return False
            else:
                return False  # lists, datetimes, bytes...: rare here, the SDK handles them
        return True

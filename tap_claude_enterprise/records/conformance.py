"""A fast check that the SDK's record conformance would change nothing.

The SDK conforms every record recursively (``TYPE_CONFORMANCE_LEVEL = RECURSIVE``): it
drops properties the schema does not know, turns datetimes, bytes and 0/1 booleans into
JSON values and NaN/Infinity into null, and prunes deselected properties. For this API's
records that almost never changes anything, yet it costs about two thirds of the tap's
CPU per record. ``RecordPlan.unchanged`` answers "would conformance leave this record
as it is?" with a walk that is several times cheaper; only when the answer is no (an
unknown field, an odd type) does the stream take the SDK's full path, so every emitted
record stays exactly what the SDK would have written.

``RecordFitter`` runs first, on every record: it moves fields the schema does not know
into ``_extra_fields`` and fixes integral floats, so the SDK's conformance (which would
drop unknown fields) finds nothing to drop and the fast path stays exact.
"""

from __future__ import annotations

import logging
import math
import threading
from decimal import Decimal
from functools import cached_property
from typing import Any

# The SDK's schema predicates live in a private module (``singer_sdk.helpers._typing``);
# these are copies, and tests/test_sdk_contract.py fails if the SDK's ever disagree.


def is_object_type(property_schema: dict[str, Any]) -> bool | None:
    """Whether a property is an object (None if the schema names no type)."""
    if "anyOf" not in property_schema and "type" not in property_schema:
        return None
    return any(
        "object" in property_type or property_type == "object"
        for property_type in property_schema.get("anyOf", [property_schema.get("type")])
    )


def is_exclusive_boolean_type(property_schema: dict[str, Any]) -> bool:
    """Whether a property is a boolean and nothing else (null aside)."""
    if "type" not in property_schema:
        return False
    kind = property_schema["type"]
    return kind in ("boolean", ["boolean"]) or set(kind) == {"boolean", "null"}


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
            if is_exclusive_boolean_type(sub):
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


# --- fitting records to their schema ------------------------------------------------

# The column that keeps what the schema has no place for (``RecordFitter``).
EXTRA_FIELDS = "_extra_fields"
# Targets store integers as 64-bit (PostgreSQL ``bigint``).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

_ANY, _INTEGER, _NUMBER, _STRING, _BOOLEAN, _OBJECT = range(6)
_KINDS = {"integer": _INTEGER, "number": _NUMBER, "string": _STRING, "boolean": _BOOLEAN}


class _Shape:
    """What one object schema allows: a kind per property, nested shapes for objects."""

    __slots__ = ("children", "kinds")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.kinds: dict[str, int] = {}
        self.children: dict[str, _Shape] = {}
        for name, sub in (schema.get("properties") or {}).items():
            types = sub.get("type") if isinstance(sub, dict) else None
            types = [types] if isinstance(types, str) else list(types or [])
            concrete = [t for t in types if t != "null"]
            if concrete == ["object"]:
                self.kinds[name] = _OBJECT
                if "properties" in sub:
                    self.children[name] = _Shape(sub)
            elif len(concrete) == 1:
                self.kinds[name] = _KINDS.get(concrete[0], _ANY)
            else:
                self.kinds[name] = _ANY


def _fits(kind: int, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits ``kind`` as it is or after a lossless change, and the value."""
    vtype = type(value)
    fractional = vtype is Decimal or vtype is float
    if kind == _INTEGER:
        if vtype is int:
            return INT_MIN <= value <= INT_MAX, value
        integral = fractional and math.isfinite(value) and value == int(value)
        if integral and INT_MIN <= value <= INT_MAX:
            return True, int(value)  # 12.0 -> 12: the same count, typed as declared
        return False, value
    if kind == _NUMBER:
        ok = vtype is int or (fractional and math.isfinite(value))
    elif kind == _STRING:
        ok = vtype is str
    elif kind == _BOOLEAN:
        ok = vtype is bool
    else:
        ok = True
    return ok, value


class RecordFitter:
    """Make each record match the SCHEMA the tap sent, and lose nothing doing so.

    * A count that arrives as ``12.0`` becomes ``12`` (the same number, typed as the
      schema declares it, so a target that validates records accepts it).
    * A field the schema does not know, at the root or inside a metrics object, and a
      value that cannot fit its declared type (``12.5`` or ``2**64`` as an integer, a
      string where a number belongs) are moved to the ``_extra_fields`` column: a JSON
      object keyed by the field's path (``chat_metrics.new_count``). A field that did not
      fit is null in its own column. Each stream names such fields once, in a warning.
    * Explicit nulls, also for whole metric objects, are valid and stay as they are.
    """

    def __init__(self, schema: dict[str, Any], stream: str, logger: Any) -> None:
        self.shape = _Shape(schema)
        self.stream = stream
        self.logger = logger
        self.reported: set[str] = set()  # paths already named in a log line
        self._warned: set[str] = set()  # "u": unknown fields, "m": mistyped values
        self._lock = threading.Lock()

    def fit(self, record: dict[str, Any]) -> dict[str, Any]:
        """Fit ``record`` in place and return it."""
        extras: dict[str, Any] = {}
        unfit: list[str] = []
        self._fit(self.shape, record, "", extras, unfit)
        if extras:
            record[EXTRA_FIELDS] = extras
            self._report(extras, unfit)
        return record

    def _fit(
        self,
        shape: _Shape,
        node: dict[str, Any],
        prefix: str,
        extras: dict[str, Any],
        unfit: list[str],
    ) -> None:
        kinds, children = shape.kinds, shape.children
        odd: list[str] | None = None
        # The common cases first, with no call: this runs for every field of every record.
        for name, value in node.items():
            kind = kinds.get(name)
            vtype = type(value)
            if kind == _INTEGER:
                if vtype is int and INT_MIN <= value <= INT_MAX:
                    continue
            elif kind == _STRING:
                if vtype is str:
                    continue
            elif kind == _OBJECT:
                if vtype is dict:
                    child = children.get(name)
                    if child is not None:
                        self._fit(child, value, f"{prefix}{name}.", extras, unfit)
                    continue
            elif kind == _ANY:
                continue
            if value is None and kind is not None:
                continue
            if odd is None:
                odd = []
            odd.append(name)
        if odd is None:
            return
        for name in odd:
            kind = kinds.get(name)
            if kind is None:
                if not (prefix == "" and name == EXTRA_FIELDS):
                    extras[prefix + name] = node.pop(name)
                continue
            value = node[name]
            ok, fitted = (False, value) if kind == _OBJECT else _fits(kind, value)
            if ok:
                node[name] = fitted
                continue
            extras[prefix + name] = value
            unfit.append(prefix + name)
            node[name] = None

    def _report(self, extras: dict[str, Any], unfit: list[str]) -> None:
        """Name new paths: a WARNING the first time per kind, INFO after that.

        The run summary lists every path again (``tap.py``), so a stream warns at most
        twice however many fields appear over a backfill.
        """
        new = [path for path in extras if path not in self.reported]
        if not new:
            return
        with self._lock:
            new = [path for path in new if path not in self.reported]
            self.reported.update(new)
            unknown = sorted(p for p in new if p not in unfit)
            mistyped = sorted(p for p in new if p in unfit)
            warned = set(self._warned)
            self._warned.update(k for k, paths in (("u", unknown), ("m", mistyped)) if paths)
        if unknown:
            self.logger.log(
                logging.INFO if "u" in warned else logging.WARNING,
                "%s: the API sent fields this tap's schema does not have: %s. They are "
                "kept in the %s column (JSON keyed by field path); a newer tap version "
                "may give them columns of their own.",
                self.stream,
                ", ".join(unknown),
                EXTRA_FIELDS,
            )
        if mistyped:
            self.logger.log(
                logging.INFO if "m" in warned else logging.WARNING,
                "%s: values that do not fit their declared type: %s. Their columns are "
                "null in those records and the values are kept unchanged in %s.",
                self.stream,
                ", ".join(mistyped),
                EXTRA_FIELDS,
            )


class FitsRecords:
    """Mixin for a stream: ``self.fitter.fit(record)`` before a record is yielded.

    Every stream family uses it, so a new stream gets the same guarantees by calling
    ``fit`` on its records (the run summary finds ``fitter`` by name).
    """

    schema: dict[str, Any]
    name: str
    logger: Any

    @cached_property
    def fitter(self) -> RecordFitter:
        """Fits records to the schema this stream sends."""
        return RecordFitter(self.schema, self.name, self.logger)

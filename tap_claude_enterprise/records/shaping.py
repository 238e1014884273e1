"""Record shaping every stream family shares: exact money, envelope columns, key columns.

Money arrives in cents, as decimal strings (or numbers, parsed to ``Decimal`` by the
client): it stays exact, and ``*_usd`` columns are a power-of-ten shift of it, never a
float. A null in a primary-key column becomes ``""``: a warehouse cannot upsert on null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

MISSING_KEY = ""
# Envelope fields copied onto every row of the report and usage/cost families.
ENVELOPE_COLUMNS = ("organization_id", "data_refreshed_at")


def exact(value: Any) -> Any:
    """A decimal string as an exact ``Decimal``; anything else unchanged."""
    return Decimal(value) if isinstance(value, str) else value


def cents(value: Any) -> Decimal | None:
    """An amount in cents as an exact ``Decimal``; None when it is not a number."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (str, int)):
        return Decimal(value)
    return None


def cents_to_usd(amount: Decimal) -> Decimal:
    """Exact conversion (a power-of-ten shift, no rounding)."""
    return amount.scaleb(-2)


def exact_fields(row: dict[str, Any], names: Iterable[str]) -> None:
    """Turn the decimal strings of ``names`` into exact decimals, in place."""
    for name in names:
        value = row.get(name)
        if isinstance(value, str):
            row[name] = Decimal(value)


def add_money(
    row: dict[str, Any], names: Iterable[str], source: dict[str, Any] | None = None
) -> None:
    """Set ``name`` (exact cents, read from ``source`` or the row) and ``name_usd``.

    With ``source`` (a nested object such as ``cost{}``) the exact value is written back
    there too, so the nested copy and the column agree.
    """
    for name in names:
        amount = cents((row if source is None else source).get(name))
        if source is not None:
            source[name] = amount
        row[name] = amount
        row[f"{name}_usd"] = None if amount is None else cents_to_usd(amount)


def add_envelope(row: dict[str, Any], envelope: Mapping[str, Any]) -> None:
    """Copy the response envelope's organization and watermark onto the row."""
    for name in ENVELOPE_COLUMNS:
        row[name] = envelope.get(name)


def fill_missing_keys(row: dict[str, Any], columns: Iterable[str]) -> None:
    """A null (or absent) key column becomes ``""``."""
    for name in columns:
        if row.get(name) is None:
            row[name] = MISSING_KEY


def nested(row: Mapping[str, Any], path: Iterable[str]) -> Any:
    """The value at ``path`` (``("user", "id")``), None where a step is missing."""
    value: Any = row
    for step in path:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value

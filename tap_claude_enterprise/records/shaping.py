"""Record shaping every stream family shares: exact money, envelope columns, key columns.

Money arrives in cents, as decimal strings (or numbers, parsed to ``Decimal`` by the
client). It is emitted as a decimal *string* in plain notation, and its schema is
``MONEY_SCHEMA`` (singer-sdk's ``x-singer.decimal`` with a precision and a scale), so
every common loader creates an exact column: NUMERIC(38, 8) in PostgreSQL, NUMBER(38, 8)
in Snowflake, STRING in BigQuery (the dbt staging casts it to NUMERIC), never a float.
Scale 8: the API sends cents with up to 6 decimals, and dollars are cents shifted by 2.
``*_usd`` columns are that exact shift. A null in a primary-key column becomes ``""``: a
warehouse cannot upsert on null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

MISSING_KEY = ""
# The schema of every money column (schemas/*.json use it; tests/test_money_schema.py
# checks that every money column of the endpoint table does).
MONEY_PRECISION = 38
MONEY_SCALE = 8
MONEY_SCHEMA = {
    "type": ["string", "null"],
    "format": "x-singer.decimal",
    "precision": MONEY_PRECISION,
    "scale": MONEY_SCALE,
}
# Envelope fields copied onto every row of the report and usage/cost families.
ENVELOPE_COLUMNS = ("organization_id", "data_refreshed_at")


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


def money_text(amount: Decimal | None) -> str | None:
    """An exact amount as the decimal string a record carries (plain notation, no exponent)."""
    return None if amount is None else format(amount, "f")


def exact_fields(row: dict[str, Any], names: Iterable[str]) -> None:
    """Money fields of ``names`` as exact decimal strings, in place (others unchanged)."""
    for name in names:
        amount = cents(row.get(name))
        if amount is not None:
            row[name] = money_text(amount)


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
            source[name] = money_text(amount)
        row[name] = money_text(amount)
        row[f"{name}_usd"] = None if amount is None else money_text(cents_to_usd(amount))


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

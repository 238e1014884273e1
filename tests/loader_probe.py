"""Print the column types a Singer loader's own code would create for a catalog.

Run with the *loader's* Python (its venv), not the tap's: ``python loader_probe.py
snowflake < catalog.json`` prints ``{stream: {column: type}}`` as JSON. Nothing connects
anywhere: only the loaders' type-mapping code runs (tests/test_loader_types.py).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _flat(schema: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Top-level columns plus nested objects flattened with ``__`` (flattening_enabled)."""
    columns: dict[str, dict[str, Any]] = {}
    for name, prop in (schema.get("properties") or {}).items():
        columns[prefix + name] = prop
        if "properties" in prop:
            columns.update(_flat(prop, f"{prefix}{name}__"))
    return columns


def snowflake(schema: dict[str, Any]) -> dict[str, str]:
    from snowflake.sqlalchemy.snowdialect import SnowflakeDialect
    from target_snowflake.connector import SnowflakeConnector

    connector = SnowflakeConnector(config={})
    dialect = SnowflakeDialect()
    return {
        name: str(connector.to_sql_type(prop).compile(dialect=dialect))
        for name, prop in _flat(schema).items()
    }


def postgres(schema: dict[str, Any]) -> dict[str, str]:
    from sqlalchemy.dialects import postgresql
    from target_postgres.connector import PostgresConnector

    connector = PostgresConnector(config={"sqlalchemy_url": "postgresql://u:p@localhost/db"})
    dialect = postgresql.dialect()
    return {
        name: str(connector.to_sql_type(prop).compile(dialect=dialect))
        for name, prop in _flat(schema).items()
    }


def bigquery(schema: dict[str, Any]) -> dict[str, str]:
    from target_bigquery.core import SchemaTranslator

    types: dict[str, str] = {}

    def walk(fields: list[Any], prefix: str) -> None:
        for field in fields:
            types[prefix + field.name] = field.field_type
            walk(list(field.fields), f"{prefix}{field.name}__")

    walk(SchemaTranslator(schema, transforms={}).translated_schema, "")
    return types


def main() -> None:
    loader = {"snowflake": snowflake, "postgres": postgres, "bigquery": bigquery}[sys.argv[1]]
    catalog = json.load(sys.stdin)
    result = {entry["tap_stream_id"]: loader(entry["schema"]) for entry in catalog["streams"]}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

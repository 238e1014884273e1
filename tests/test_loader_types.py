"""The column types the common loaders create from the tap's catalog, by their own code.

Each loader is installed from PyPI into a venv of its own (``.meltano/loader-probe/``,
kept between runs) and its type-mapping code is applied to ``--discover``
(tests/loader_probe.py): meltanolabs-target-snowflake's connector, z3-target-bigquery's
schema translator (the Hub's default BigQuery loader) and meltanolabs-target-postgres's
connector. Nothing connects to a warehouse.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tap_claude_enterprise.endpoints import ENDPOINTS

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).with_name("loader_probe.py")
VENVS = ROOT / ".meltano" / "loader-probe"
# Loader -> what pip installs (z3's namespace packages still import pkg_resources).
LOADERS = {
    "snowflake": ["meltanolabs-target-snowflake==0.20.4"],
    "bigquery": ["z3-target-bigquery==0.7.2", "setuptools<81"],
    "postgres": ["meltanolabs-target-postgres==0.8.1"],
}
# Money columns: the table's money fields in cents and their exact dollar twins.
MONEY = {
    e.name: {*e.money, *(f"{m}_usd" for m in e.money if e.family != "daily")}
    for e in ENDPOINTS
    if e.money
}

pytestmark = pytest.mark.e2e


def test_every_money_column_is_found() -> None:
    """The money list covers the cost streams' amounts and the skills' spend columns."""
    assert {"amount", "list_amount", "amount_usd", "list_amount_usd"} <= MONEY["cost"]
    assert {"estimated_overage_spend", "attributed_list_price"} <= MONEY["skills"]


def _python(loader: str) -> Path:
    home = VENVS / loader
    python = home / "bin" / "python"
    marker = home / ".installed"
    wanted = " ".join(LOADERS[loader])
    if not marker.exists() or marker.read_text() != wanted:
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *LOADERS[loader],
            ],
            check=True,
        )
        marker.write_text(wanted)
    return python


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> str:
    config = tmp_path_factory.mktemp("discover") / "config.json"
    config.write_text(json.dumps({"api_key": "sk-ant-api01-test", "api_url": "http://127.0.0.1:9"}))
    return subprocess.run(
        [sys.executable, "-m", "tap_claude_enterprise", "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _types(loader: str, catalog: str) -> dict[str, dict[str, str]]:
    result = subprocess.run(
        [str(_python(loader)), str(PROBE), loader],
        input=catalog,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


def _flat(schema: dict, prefix: str = "") -> dict[str, dict]:
    """Columns as the probe names them: nested objects flattened with ``__``."""
    columns: dict[str, dict] = {}
    for name, prop in (schema.get("properties") or {}).items():
        columns[prefix + name] = prop
        if "properties" in prop:
            columns.update(_flat(prop, f"{prefix}{name}__"))
    return columns


def _properties(catalog: str) -> dict[str, dict[str, dict]]:
    """Every stream's columns, nested ones flattened (as with flattening_enabled)."""
    return {
        entry["tap_stream_id"]: _flat(entry["schema"]) for entry in json.loads(catalog)["streams"]
    }


def _money_columns(catalog: str) -> dict[str, list[str]]:
    """Money columns at any depth: a column whose last name is a money field of its stream."""
    return {
        stream: [c for c in columns if c.split("__")[-1] in MONEY.get(stream, ())]
        for stream, columns in _properties(catalog).items()
    }


def _kind(prop: dict) -> str | None:
    types = prop.get("type") or []
    types = [types] if isinstance(types, str) else types
    if prop.get("format") == "x-singer.decimal" or "number" in types:
        return "money-or-number"
    if prop.get("format") == "date":
        return "date"
    if prop.get("format") == "date-time":
        return "timestamp"
    if types and set(types) <= {"integer", "null"}:
        return "integer"
    return None


def _scale(sql_type: str) -> int | None:
    match = re.fullmatch(r"(?:NUMBER|DECIMAL|NUMERIC)\((\d+), ?(\d+)\)", sql_type)
    return int(match.group(2)) if match else None


def test_snowflake_money_is_exact_number_with_six_or_more_decimals(catalog: str) -> None:
    types = _types("snowflake", catalog)
    for stream, columns in _money_columns(catalog).items():
        for column in columns:
            sql_type = types[stream][column]
            scale = _scale(sql_type)
            assert scale is not None, f"{stream}.{column}: {sql_type}"
            assert scale >= 6, f"{stream}.{column}: {sql_type}"
    _check_other_columns(
        types,
        catalog,
        integer=r"(DECIMAL|NUMBER|INTEGER|BIGINT)",
        date=r"DATE",
        timestamp=r"TIMESTAMP.*",
    )


def test_bigquery_money_is_never_float(catalog: str) -> None:
    types = _types("bigquery", catalog)
    for stream, columns in _money_columns(catalog).items():
        for column in columns:
            assert types[stream][column] in {"NUMERIC", "BIGNUMERIC", "STRING"}, (
                f"{stream}.{column}: {types[stream][column]}"
            )
    _check_other_columns(
        types, catalog, integer=r"INTEGER|INT64", date=r"DATE", timestamp=r"TIMESTAMP"
    )


def test_postgres_money_is_numeric(catalog: str) -> None:
    types = _types("postgres", catalog)
    for stream, columns in _money_columns(catalog).items():
        for column in columns:
            assert re.fullmatch(r"(NUMERIC|DECIMAL)(\(\d+, ?\d+\))?", types[stream][column]), (
                f"{stream}.{column}: {types[stream][column]}"
            )
    _check_other_columns(
        types, catalog, integer=r"BIGINT|INTEGER", date=r"DATE", timestamp=r"TIMESTAMP.*"
    )


def _check_other_columns(
    types: dict[str, dict[str, str]], catalog: str, *, integer: str, date: str, timestamp: str
) -> None:
    """Counts are integers, dates dates, timestamps timestamps; no money column is FLOAT."""
    for stream, props in _properties(catalog).items():
        for column, prop in props.items():
            sql_type = types[stream][column]
            kind = _kind(prop)
            if column.split("__")[-1] in MONEY.get(stream, ()):
                assert "FLOAT" not in sql_type, f"{stream}.{column}"
                assert "DOUBLE" not in sql_type, f"{stream}.{column}"
            elif kind == "integer":
                assert re.fullmatch(integer, sql_type), f"{stream}.{column}: {sql_type}"
            elif kind == "date":
                assert re.fullmatch(date, sql_type), f"{stream}.{column}: {sql_type}"
            elif kind == "timestamp":
                assert re.fullmatch(timestamp, sql_type), f"{stream}.{column}: {sql_type}"

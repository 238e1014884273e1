"""SCHEMA messages carry money's precision and scale, as --discover does.

singer-sdk registers a stream's schema from its catalog model, which drops ``precision``
and ``scale``; without them target-postgres creates NUMERIC and target-snowflake
NUMBER(38, 0) (no fraction). Checked with and without flattening, and with Meltano's way
of passing the catalog (``--catalog`` from ``--discover``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tap_claude_enterprise.endpoints import ENDPOINTS

MONEY = {e.name: set(e.money) for e in ENDPOINTS if e.money}
TAP = [sys.executable, "-m", "tap_claude_enterprise"]


def schemas(config: dict, tmp_path: Path, *extra: str) -> dict[str, dict]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"api_key": "sk-ant-api01-test", **config}))
    out = subprocess.run(
        [*TAP, "--config", str(path), *extra, "--test=schema"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {m["stream"]: m["schema"] for m in messages if m["type"] == "SCHEMA"}


def money_properties(schema: dict, money: set[str], prefix: str = "") -> dict[str, dict]:
    """Money properties at any depth (flattened ``cost__amount`` or nested)."""
    found = {}
    for name, prop in schema.get("properties", {}).items():
        if name.split("__")[-1] in money and prop.get("format") == "x-singer.decimal":
            found[prefix + name] = prop
        found.update(money_properties(prop, money, f"{prefix}{name}__"))
    return found


@pytest.mark.parametrize("flattening", [False, True])
def test_schema_messages_keep_money_precision_and_scale(tmp_path: Path, flattening: bool) -> None:
    config = {"flattening_enabled": flattening, "flattening_max_depth": 3}
    emitted = schemas(config, tmp_path)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        subprocess.run(
            [*TAP, "--config", str(tmp_path / "config.json"), "--discover"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    from_catalog = schemas(config, tmp_path, "--catalog", str(catalog))
    for found in (emitted, from_catalog):
        for stream, money in MONEY.items():
            props = money_properties(found[stream], money)
            assert props, stream
            for name, prop in props.items():
                assert (prop["type"], prop["precision"], prop["scale"]) == (
                    ["string", "null"],
                    38,
                    8,
                ), (stream, name)
    assert "cost__amount" in money_properties(emitted["cost"], MONEY["cost"]) or not flattening

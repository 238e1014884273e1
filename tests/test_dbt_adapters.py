"""The dbt project (transform/) on Snowflake and BigQuery: it compiles, offline, and casts
money to each warehouse's exact type.

No warehouse here: dbt-snowflake and dbt-bigquery (PyPI, the dbt-core line meltano.yml's
dbt utilities use) are installed into .meltano/dbt-warehouses once, and ``dbt compile
--no-introspect`` renders every model and data test without a connection (the models then
take every source table as present; see macro introspecting()). Snowflake opens its
connection lazily; BigQuery builds a client up front, so its test profile carries a dummy
OAuth token that is never sent. Running the SQL needs a live warehouse: docs/warehouses.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "transform"
VENV = ROOT / ".meltano" / "dbt-warehouses"
PACKAGES = ("dbt-core~=1.11.0", "dbt-snowflake~=1.11.0", "dbt-bigquery~=1.11.0")

# Profiles of this test only: nothing here reaches a warehouse.
PROFILES = {
    "snowflake": """
claude_enterprise:
  target: offline
  outputs:
    offline:
      type: snowflake
      account: offline-compile
      user: offline
      password: offline
      database: CLAUDE
      warehouse: COMPUTE_WH
      schema: analytics
      threads: 1
""",
    "bigquery": """
claude_enterprise:
  target: offline
  outputs:
    offline:
      type: bigquery
      method: oauth-secrets
      token: offline-compile-never-sent
      project: offline-project
      dataset: analytics
      threads: 1
""",
}
# The exact type each staging money column is cast to (docs/warehouses.md).
MONEY_TYPE = {"snowflake": "number(38, 8)", "bigquery": "numeric"}
MONEY_COLUMNS = {
    "stg_claude__cost": ("amount_cents", "list_amount_cents", "amount_usd", "list_amount_usd"),
    "stg_claude__cost_report": ("amount_usd", "list_amount_usd"),
    "stg_claude__user_cost_report": ("amount_usd", "list_amount_usd"),
    "stg_claude__skills": ("estimated_overage_spend", "attributed_list_price"),
}
COUNTS = {
    "stg_claude__summaries": ("daily_active_users", "assigned_seats"),
    "stg_claude__cost": ("requests",),
    "stg_claude__usage": ("total_tokens", "requests"),
    "stg_claude__chat_projects": ("messages", "distinct_users"),
}
DATES = {"stg_claude__summaries": ("activity_date",), "stg_claude__skills": ("activity_date",)}
TIMESTAMPS = {"stg_claude__cost_report": ("bucket_start", "bucket_end", "data_refreshed_at")}
# cast(<expression> as <type>) as <alias>: the type, by alias.
CAST = re.compile(r"cast\((.+?) as ([a-z0-9_]+(?:\(\d+, \d+\))?)\) as (\w+),?$", re.IGNORECASE)


@pytest.fixture(scope="module")
def warehouse_dbt() -> Path:
    """dbt with the Snowflake and BigQuery adapters, installed from PyPI on first use."""
    dbt = VENV / "bin" / "dbt"
    stamp = VENV / "packages.txt"
    wanted = "\n".join(PACKAGES)
    if not (dbt.exists() and stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", *PACKAGES],
            check=True,
            timeout=1800,
        )
        stamp.write_text(wanted)
    return dbt


def compile_offline(dbt: Path, adapter: str, work: Path) -> dict[str, str]:
    """``dbt compile --no-introspect`` for ``adapter``; the compiled SQL by node name."""
    profiles = work / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(PROFILES[adapter])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "GOOGLE_"))}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    result = subprocess.run(
        [str(dbt), "compile", "--no-introspect", "--no-populate-cache", "--no-partial-parse",
         "--project-dir", str(PROJECT), "--profiles-dir", str(profiles),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "target='offline'" in output
    compiled = work / "target" / "compiled" / "claude_enterprise"
    return {path.stem: path.read_text() for path in compiled.rglob("*.sql")}


def cast_types(sql: str) -> dict[str, str]:
    """The type each top-level ``cast(...) as <alias>`` of a staging model casts to."""
    out = {}
    for line in sql.splitlines():
        match = CAST.search(line.strip())
        if match:
            out[match.group(3).lower()] = match.group(2).lower()
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("adapter", ["snowflake", "bigquery"])
def test_project_compiles_offline_with_exact_money(
    warehouse_dbt: Path, adapter: str, tmp_path: Path
) -> None:
    """Every model and data test compiles; staging casts money to NUMBER(38, 8) on
    Snowflake and NUMERIC on BigQuery (never a float), counts to integers, `date` columns
    to dates and bucket times to timestamps."""
    compiled = compile_offline(warehouse_dbt, adapter, tmp_path)
    models = {path.stem for path in (PROJECT / "models").rglob("*.sql")}
    assert models <= set(compiled), models - set(compiled)
    assert "assert_partial_month_is_flagged_and_not_projected" in compiled

    for model, columns in MONEY_COLUMNS.items():
        types = cast_types(compiled[model])
        for column in columns:
            assert types.get(column) == MONEY_TYPE[adapter], (model, column, types.get(column))
    for model, columns in COUNTS.items():
        types = cast_types(compiled[model])
        for column in columns:
            assert types.get(column) in {"bigint", "int64", "integer"}, (model, column)
    for model, columns in DATES.items():
        for column in columns:
            assert cast_types(compiled[model]).get(column) == "date", (model, column)
    for model, columns in TIMESTAMPS.items():
        for column in columns:
            assert cast_types(compiled[model]).get(column) == "timestamp", (model, column)

    # Nowhere a float, and on BigQuery no DECIMAL(p, s) it would refuse (p - s > 29).
    for name, sql in compiled.items():
        assert not re.search(r"\bas (float|double|real)\b", sql, re.IGNORECASE), name
        if adapter == "bigquery":
            assert not re.search(r"\b(decimal|number)\(", sql, re.IGNORECASE), name
    # The marts' amounts are exact too: the daily organization spend, summed and typed.
    spend = compiled["spend_org_daily"].lower()
    exact = "numeric" if adapter == "bigquery" else "number(38, 8)"
    assert f"as {exact}) as amount_usd" in spend

"""A sandbox loaded into DuckDB and the dbt models built on it, once per session.

``meltano run tap-claude-enterprise duckdb-compat target-duckdb dbt-duckdb:build``, as a
user runs it: the models' own tests (data tests, reconciliation, unit tests) run inside
that command and fail it when they fail. tests/test_dbt.py checks the marts against the
synthetic organization; tests/test_report_browser.py draws the report from them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tap_claude_enterprise.endpoints import names
from tap_claude_enterprise.sandbox.data import OrgConfig, SyntheticOrg
from tap_claude_enterprise.sandbox.server import SandboxServer, SandboxSettings
from tests.helpers import FAST_RATE
from tests.test_e2e_meltano import (
    DEMO_VENV,
    MELTANO,
    ROOT,
    Meltano,
    Period,
    clean_env,
    run_demo,
    sandbox_clock,
)

DBT_MEMBERS = 30
DBT_SEED = 5
DBT_DAYS = 45  # two report windows; long enough for 28-day anomaly baselines
MARTS = "analytics"
SOURCE = "claude_enterprise"
STREAMS = tuple(names())
# Streams an organization may not have (the tap skips a 403/404 endpoint: no table; the
# spend limits also without admin_api_key: budgets then come from the seed) ...
OPTIONAL_STREAMS = ("plugins", "artifacts", "usage", "cost", *names("spend_limits"))
# ... and the only two a Console organization (Admin key) has.
CONSOLE_STREAMS = tuple(names("usage_cost"))  # Console orgs have no Spend Limits API


@dataclass
class DbtBuild:
    """A sandbox period loaded and modelled: where, what, and the org behind it."""

    db_file: Path
    org: SyntheticOrg
    period: Period
    output: str  # Meltano's output, dbt's log included
    started: dt.datetime | None = None  # when the tap began reading (spend-limit truth)


@pytest.fixture(scope="session")
def meltano_project() -> Meltano:
    """Meltano and every plugin of meltano.yml (dbt utilities included), installed once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MELTANO_")}
    result = run_demo("--install-only", env=env)
    assert result.returncode == 0, f"meltano install failed:\n{result.stderr[-6000:]}"
    return Meltano(executable=MELTANO, project=ROOT)


def sandbox_period(sandbox: SandboxServer, days: int) -> Period:
    """The last ``days`` complete days (the report buckets of yesterday are not final)."""
    latest, refreshed = sandbox_clock(sandbox)
    last = latest - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    return Period(first=first, last=last, latest=latest, refreshed_day=refreshed)


@pytest.fixture(scope="session")
def dbt_sandbox() -> Iterator[SandboxServer]:
    """The organization the dbt tests model (no float-breaking job: a real-looking org)."""
    org = OrgConfig(seed=DBT_SEED, members=DBT_MEMBERS)
    server = SandboxServer(SandboxSettings(org=org, rate_limit_per_minute=FAST_RATE)).start()
    yield server
    server.stop()


def period_env(sandbox: SandboxServer, period: Period, state_dir: Path, **extra: str) -> dict:
    """Settings of one sandbox run through Meltano, all from the environment."""
    return clean_env(
        state_dir,
        TAP_CLAUDE_ENTERPRISE_API_URL=sandbox.url,
        TAP_CLAUDE_ENTERPRISE_START_DATE=period.first.isoformat(),
        TAP_CLAUDE_ENTERPRISE_END_DATE=period.last.isoformat(),
        TAP_CLAUDE_ENTERPRISE_MAX_REQUESTS_PER_MINUTE=str(FAST_RATE),
        CLAUDE_ENTERPRISE_SOURCE_SCHEMA=SOURCE,
        # The sandbox has API-key and service-account traffic (OrgConfig.api_keys), in the
        # organization's reports but not the members': dbt checks members <= organization per
        # day, tests/test_dbt.py both amounts to the digit.
        CLAUDE_ENTERPRISE_RECONCILE_EXACT="false",
        **extra,
    )


@pytest.fixture(scope="session")
def dbt_duckdb_build(
    meltano_project: Meltano, dbt_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> DbtBuild:
    """The sandbox's last 45 days in DuckDB, with the models built and tested by dbt."""
    work = tmp_path_factory.mktemp("dbt-duckdb")
    db_file = work / "claude.duckdb"
    period = sandbox_period(dbt_sandbox, DBT_DAYS)
    started = dbt_sandbox.now()
    env = period_env(
        dbt_sandbox,
        period,
        work,
        TARGET_DUCKDB_FILEPATH=str(db_file),
        TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA=SOURCE,
        DBT_DUCKDB_PATH=str(db_file),
        DBT_DUCKDB_SCHEMA=MARTS,
    )
    output = meltano_project.run(
        "--environment=dev",
        "run",
        "tap-claude-enterprise",
        "duckdb-compat",
        "target-duckdb",
        "dbt-duckdb:build",
        env=env,
        log=work / "meltano.log",
    )
    if sandbox_clock(dbt_sandbox) != (period.latest, period.refreshed_day):
        pytest.skip("the sandbox's day rolled over during the run; expectations moved")
    org = SyntheticOrg(OrgConfig(seed=DBT_SEED, members=DBT_MEMBERS))
    return DbtBuild(db_file=db_file, org=org, period=period, output=output, started=started)


def duckdb_copy(
    db_file: Path, into: Path, *, keep: tuple[str, ...] = STREAMS, since: dt.date | None = None
) -> Path:
    """A copy of a loaded DuckDB file with only the source tables in ``keep``, only their
    rows from ``since`` on (as if the tap had started that day), and no models. Written with
    the demo's duckdb (the version target-duckdb and dbt-duckdb use), so that they can still
    read it."""
    copy = into / db_file.name
    shutil.copyfile(db_file, copy)
    first = since.isoformat() if since else ""
    python = str(DEMO_VENV / "bin" / "python")
    subprocess.run(
        [python, "-c", _KEEP_TABLES, str(copy), SOURCE, MARTS, first, *keep],
        capture_output=True,
        text=True,
        check=True,
    )
    return copy


# argv: file, source schema, models schema, first day kept ('' for all), tables to keep.
_KEEP_TABLES = """
import sys, duckdb
path, source, models, since, keep = (*sys.argv[1:5], sys.argv[5:])
with duckdb.connect(path) as con:
    con.execute(f'drop schema if exists "{models}" cascade')
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [source]
    ).fetchall()
    for (table,) in tables:
        if table not in keep:
            con.execute(f'drop table "{source}"."{table}"')
            continue
        columns = {c[0] for c in con.execute(f'describe "{source}"."{table}"').fetchall()}
        day = next((c for c in ("date", "starting_at") if c in columns), None)
        if since and day:
            con.execute(
                f'delete from "{source}"."{table}" '
                f"where cast(left(cast({day} as varchar), 10) as date) < cast(? as date)",
                [since],
            )
"""

"""The dbt models (transform/) on DuckDB and on a real PostgreSQL, checked against the sandbox.

Each pipeline is the one a user runs: ``meltano run tap-claude-enterprise <loader>
dbt-<adapter>:build``. dbt's own tests run inside it (unique/not_null/relationships/
accepted_values, the reconciliation tests, and the unit tests of the projection, budget
and anomaly logic), so a failing model test fails the run. Then the marts are compared
with the synthetic organization rebuilt in this process, to the last digit of every amount.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tap_claude_enterprise.sandbox.data import OrgConfig, SyntheticOrg
from tap_claude_enterprise.sandbox.server import SandboxServer
from tests.dbt_fixtures import (
    DBT_DAYS,
    DBT_MEMBERS,
    DBT_SEED,
    MARTS,
    DbtBuild,
    period_env,
    sandbox_period,
)
from tests.helpers import days
from tests.postgres import PostgresServer, pg_binary, postgres_server
from tests.test_e2e_meltano import Meltano, Period, sandbox_clock

Query = Callable[[str], list[tuple]]
FLOAT_TYPES = {"double", "float", "real", "double precision", "float4", "float8"}
MART_TABLES = {
    "adoption_daily", "product_usage_daily", "members", "member_activity", "spend_daily",
    "spend_monthly", "spend_org_daily", "spend_model_product_daily", "top_spenders_monthly",
    "budget_spend_daily", "budget_status", "spend_entity_daily", "spend_anomalies",
}  # fmt: skip


def dollars(micro_cents: int) -> Decimal:
    """Integer micro-cents as exact dollars."""
    return Decimal(micro_cents).scaleb(-8)


def org_spend_per_day(org: SyntheticOrg, period: Period, *, per_user: bool) -> dict:
    """Exact spend per day (per_user: per (day, user_id)) as the sandbox serves it."""
    rows = org.report_rows(
        kind="cost",
        per_user=per_user,
        start=period.start,
        end=period.end,
        width="1d",
        group_by=("product", "model"),
        refreshed_day=period.refreshed_day,
    )
    out: dict = defaultdict(Decimal)
    for (bucket, user, _), values in rows.items():
        key = (bucket.date(), org.members[user].user_id) if per_user else bucket.date()
        out[key] += dollars(values["amount"])
    return dict(out)


def assert_dbt_passed(output: str) -> None:
    """dbt ran every node and nothing failed (the run's exit code already said so)."""
    match = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", output)
    assert match, output[-3000:]
    passed, _, errors, skipped = map(int, match.groups())
    assert (errors, skipped) == (0, 0), output[-3000:]
    assert passed >= 100  # seeds, 24 models, ~80 data tests, 3 unit tests
    for unit_test in (
        "month_end_projection_is_straight_line_from_month_to_date",
        "budget_overrun_day_and_status",
        "anomaly_rule_judges_each_series_against_its_own_baseline",
    ):
        assert re.search(rf"PASS \S*{unit_test}", output), unit_test


def check_marts(query: Query, org: SyntheticOrg, period: Period) -> None:
    """The marts hold the sandbox's numbers exactly, whatever the database."""
    # Money is DECIMAL/NUMERIC end to end: no float column anywhere in the marts.
    columns = query(
        "select table_name, column_name, lower(data_type) from information_schema.columns "
        f"where table_schema = '{MARTS}'"
    )
    assert {c[0] for c in columns} >= MART_TABLES
    floats = [c for c in columns if c[2] in FLOAT_TYPES]
    assert not floats, floats
    types = {(c[0], c[1]): c[2] for c in columns}
    for table, column in (
        ("spend_org_daily", "amount_usd"),
        ("spend_daily", "amount_usd"),
        ("budget_status", "spent_usd"),
        ("spend_anomalies", "amount_usd"),
    ):
        assert types[(table, column)].startswith(("decimal", "numeric")), (table, column)

    # Organization spend per day, exact, and the members' (seat traffic only: the sandbox's
    # API keys and service accounts are in the org-wide report, not in the per-user one).
    want = org_spend_per_day(org, period, per_user=False)
    members_want: dict = defaultdict(Decimal)
    for (day, _), amount in org_spend_per_day(org, period, per_user=True).items():
        members_want[day] += amount
    got = {
        row[0]: (row[1], row[2])
        for row in query(
            f"select spend_date, amount_usd, members_amount_usd from {MARTS}.spend_org_daily"
        )
    }
    assert set(got) == set(want)
    for day, amount in want.items():
        assert got[day] == (amount, members_want[day]), day
        assert members_want[day] < amount, day  # non-seat traffic every day
    # Month to date, as of the last day: the exact sum of the month's days loaded.
    last = max(want)
    month = [a for d, a in want.items() if (d.year, d.month) == (last.year, last.month)]
    ((mtd, projected),) = query(
        f"select month_to_date_usd, projected_month_end_usd from {MARTS}.spend_org_daily "
        f"where spend_date = '{last.isoformat()}'"
    )
    assert mtd == sum(month, Decimal(0))
    days_in_month = (
        (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    ).day
    expected_projection = (mtd * days_in_month / last.day).quantize(Decimal("0.01"))
    assert abs(projected - expected_projection) <= Decimal("0.01")

    # Per member and day, the same to the digit.
    per_user = org_spend_per_day(org, period, per_user=True)
    got_user = {
        (row[0], row[1]): row[2]
        for row in query(
            f"select spend_date, user_id, sum(amount_usd) from {MARTS}.spend_daily group by 1, 2"
        )
    }
    assert got_user == per_user

    # Adoption: the API's counts per day, and utilization computed from them.
    for day, dau, seats, pct in query(
        "select activity_date, daily_active_users, assigned_seats, daily_utilization_pct "
        f"from {MARTS}.adoption_daily"
    ):
        summary = org.summary_row(day, period.latest)
        assert (dau, seats) == (summary["daily_active_user_count"], summary["assigned_seat_count"])
        assert pct == (Decimal(100 * dau) / seats).quantize(Decimal("0.01"))

    # Member activity over the last 7 and 30 days of the period.
    for user_id, days_7, days_30, last_active, status in query(
        "select user_id, active_days_7d, active_days_30d, last_active_date, activity_status "
        f"from {MARTS}.member_activity"
    ):
        member = next(m for m in org.members if m.user_id == user_id)
        active = [
            d for d in days(period.first, period.last) if member.index in org.active_members(d)
        ]
        recent_30 = [d for d in active if (period.last - d).days < 30]
        recent_7 = [d for d in active if (period.last - d).days < 7]
        assert (days_7, days_30) == (len(recent_7), len(recent_30)), user_id
        assert last_active == (max(active) if active else None)
        if member.service_account:
            assert status == "no_seat_activity"
        elif member.removed is None and active:
            assert status == (
                "active_7d" if recent_7 else "active_30d" if recent_30 else "inactive_30d"
            )

    # Top spender of the last month is the member who spent most in it.
    month_start = last.replace(day=1)
    month_spend: dict[str, Decimal] = defaultdict(Decimal)
    for (day, user_id), amount in per_user.items():
        if day >= month_start:
            month_spend[user_id] += amount
    ((top_user, top_amount),) = query(
        f"select user_id, amount_usd from {MARTS}.top_spenders_monthly "
        f"where spend_rank = 1 and spend_month = '{month_start.isoformat()}'"
    )
    assert (top_user, top_amount) == max(month_spend.items(), key=lambda kv: (kv[1], kv[0]))

    # The organization budget counts all traffic of its month.
    ((org_spent,),) = query(
        f"select spent_usd from {MARTS}.budget_status "
        f"where scope = 'organization' and spend_month = '{month_start.isoformat()}'"
    )
    assert org_spent == mtd

    # Anomalies: each flagged day clears its threshold, and the sandbox's surges are found.
    anomalies = query(
        "select entity_type, amount_usd, threshold_usd, baseline_median_usd "
        f"from {MARTS}.spend_anomalies"
    )
    assert any(a[0] == "member" for a in anomalies)
    for _, amount, threshold, median in anomalies:
        assert amount > threshold > median
        assert amount >= 50


# --- DuckDB ---------------------------------------------------------------------------


@pytest.mark.e2e
def test_dbt_build_on_duckdb_matches_the_sandbox(dbt_duckdb_build: DbtBuild) -> None:
    """`meltano run ... target-duckdb dbt-duckdb:build`: all models and tests pass, exact marts."""
    import duckdb

    assert_dbt_passed(dbt_duckdb_build.output)
    with duckdb.connect(str(dbt_duckdb_build.db_file), read_only=True) as con:
        check_marts(
            lambda sql: con.execute(sql).fetchall(), dbt_duckdb_build.org, dbt_duckdb_build.period
        )
        # Staging: one row per key even though the loader is not asked to de-duplicate.
        (loaded,) = con.execute(
            "select count(*) from claude_enterprise.user_cost_report"
        ).fetchone()
        (staged,) = con.execute(
            f"select count(distinct row_key) from {MARTS}.stg_claude__user_cost_report"
        ).fetchone()
        assert staged == loaded > 0


# --- PostgreSQL -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dbt_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own (UTC-naive columns, New York session)."""
    import os

    try:
        pg_binary("initdb")
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    with postgres_server() as server:
        with server.connect() as conn:
            conn.execute(f"ALTER DATABASE {server.database} SET timezone TO 'America/New_York'")
        yield server


@pytest.mark.e2e
def test_dbt_build_on_postgres_matches_the_sandbox(
    meltano_project: Meltano,
    dbt_sandbox: SandboxServer,
    dbt_postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    """`meltano run tap-claude-enterprise target-postgres dbt-postgres:build` on a real server."""
    period = sandbox_period(dbt_sandbox, DBT_DAYS)
    env = period_env(
        dbt_sandbox,
        period,
        tmp_path,
        **dbt_postgres.target_env(),
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA="claude_enterprise",
        DBT_POSTGRES_SCHEMA=MARTS,
    )
    pipeline = ("tap-claude-enterprise", "target-postgres", "dbt-postgres:build")
    output = meltano_project.run(
        "--environment=dev", "run", *pipeline, env=env, log=tmp_path / "meltano.log"
    )
    if sandbox_clock(dbt_sandbox) != (period.latest, period.refreshed_day):
        pytest.skip("the sandbox's day rolled over during the run; expectations moved")
    assert_dbt_passed(output)
    org = SyntheticOrg(OrgConfig(seed=DBT_SEED, members=DBT_MEMBERS))

    def query(sql: str) -> list[tuple[Any, ...]]:
        with dbt_postgres.connect() as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    check_marts(query, org, period)
    # A second run (Meltano re-reads the lookback windows and upserts): still one row per key.
    meltano_project.run("--environment=dev", "run", *pipeline, env=env, log=tmp_path / "m2.log")
    ((dupes,),) = query(
        f"select count(*) - count(distinct row_key) from {MARTS}.stg_claude__user_cost_report"
    )
    assert dupes == 0
    check_marts(query, org, period)

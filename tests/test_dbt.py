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
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from tap_claude_enterprise.sandbox import spend_limits as sandbox_limits
from tap_claude_enterprise.sandbox.data import OrgConfig, SyntheticOrg
from tap_claude_enterprise.sandbox.server import SandboxServer, SandboxSettings
from tests.dbt_fixtures import (
    CONSOLE_STREAMS,
    DBT_DAYS,
    DBT_MEMBERS,
    DBT_SEED,
    DEMO_VENV,
    MARTS,
    OPTIONAL_STREAMS,
    SOURCE,
    STREAMS,
    DbtBuild,
    duckdb_copy,
    period_env,
    sandbox_period,
)
from tests.helpers import days
from tests.postgres import PostgresServer, pg_binary, postgres_server
from tests.test_e2e_meltano import ROOT, Meltano, Period, clean_env, sandbox_clock

Query = Callable[[str], list[tuple]]
FLOAT_TYPES = {"double", "float", "real", "double precision", "float4", "float8"}
MART_TABLES = {
    "adoption_daily", "product_usage_daily", "members", "member_activity", "spend_daily",
    "spend_monthly", "spend_org_daily", "spend_model_product_daily", "top_spenders_monthly",
    "budget_spend_daily", "budget_status", "spend_entity_daily", "spend_anomalies",
    "cost_api_spend_daily", "spend_limit_status", "spend_limit_requests_pending",
}  # fmt: skip
CENT = Decimal("0.01")


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
        ("stg_claude__cost", "amount_usd"),
        ("stg_claude__cost", "amount_cents"),
        ("cost_api_spend_daily", "amount_usd"),
    ):
        assert types[(table, column)].startswith(("decimal", "numeric")), (table, column)

    # Organization spend per day (all traffic, API keys and service accounts included) and
    # the members' (seat traffic, the per-user report), both exact.
    want = org_spend_per_day(org, period, per_user=False)
    per_user = org_spend_per_day(org, period, per_user=True)
    members_want: dict = defaultdict(Decimal)
    for (day, _), amount in per_user.items():
        members_want[day] += amount
    got = {
        row[0]: (row[1], row[2])
        for row in query(
            f"select spend_date, amount_usd, members_amount_usd from {MARTS}.spend_org_daily"
        )
    }
    assert set(got) == set(want)
    for day, amount in want.items():
        assert got[day] == (amount, members_want.get(day, Decimal(0))), day
    assert any(got[day][1] < got[day][0] for day in got)  # the sandbox's API-key traffic
    # Month to date, as of the last day: the exact sum of the month's days loaded.
    last = max(want)
    month = [a for d, a in want.items() if (d.year, d.month) == (last.year, last.month)]
    ((mtd, projected, partial),) = query(
        "select month_to_date_usd, projected_month_end_usd, is_partial_month "
        f"from {MARTS}.spend_org_daily where spend_date = '{last.isoformat()}'"
    )
    assert mtd == sum(month, Decimal(0))
    assert partial is (min(want) > last.replace(day=1))
    days_in_month = (
        (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    ).day
    expected_projection = (mtd * days_in_month / last.day).quantize(Decimal("0.01"))
    assert abs(projected - expected_projection) <= Decimal("0.01")

    # Per member and day, the same to the digit.
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
    check_first_month(query, want)

    # Anomalies: each flagged day clears its threshold, and the sandbox's surges are found.
    anomalies = query(
        "select entity_type, amount_usd, threshold_usd, baseline_median_usd "
        f"from {MARTS}.spend_anomalies"
    )
    assert any(a[0] == "member" for a in anomalies)
    for _, amount, threshold, median in anomalies:
        assert amount > threshold > median
        assert amount >= 50


def check_first_month(query: Query, want: dict[dt.date, Decimal]) -> None:
    """The month the data starts in is partial when the data starts after its 1st: flagged,
    summed from the data's first day, never projected (spend_org_daily, spend_monthly,
    budget_status); every other month is whole and projected as always."""
    start = min(want)
    first_month = start.replace(day=1)
    partial = start > first_month
    rows = query(
        "select spend_date, spend_month, is_partial_month, month_covered_from, "
        f"month_to_date_usd, projected_month_end_usd from {MARTS}.spend_org_daily"
    )
    assert rows
    for day, month, is_partial, covered_from, mtd, projected in rows:
        if month == first_month and partial:
            assert (is_partial, covered_from, projected) == (True, start, None), day
            assert mtd == sum((a for d, a in want.items() if start <= d <= day), Decimal(0))
        else:
            assert (is_partial, covered_from) == (False, month), day
            assert projected is not None, day
    monthly = query(
        "select spend_month, bool_or(is_partial_month), count(projected_month_end_usd), count(*) "
        f"from {MARTS}.spend_monthly group by 1"
    )
    for month, is_partial, projections, count in monthly:
        assert is_partial is (partial and month == first_month), month
        assert projections == (0 if is_partial else count), month
    budgets = query(
        "select spend_month, is_partial_month, spent_usd, projected_month_end_usd, "
        "projected_pct_used, status from "
        f"{MARTS}.budget_status where scope = 'organization'"
    )
    assert len(budgets) == len({r[1] for r in rows})
    for month, is_partial, spent, projected, projected_pct, status in budgets:
        month_spend = sum((a for d, a in want.items() if d.replace(day=1) == month), Decimal(0))
        assert spent == month_spend, month
        if partial and month == first_month:
            assert (is_partial, projected, projected_pct) == (True, None, None), month
            assert status in ("partial_month", "at_risk", "over_budget"), status
        else:
            assert is_partial is False, month
            assert projected is not None, month
            assert status in ("on_track", "at_risk", "over_budget"), status


@dataclass
class SandboxAt:
    """The sandbox's Spend Limits answers as of one moment (its spend grows with time)."""

    org: SyntheticOrg
    moment: dt.datetime

    def now(self) -> dt.datetime:
        return self.moment

    def data_refreshed_at(self) -> dt.datetime:
        lag = dt.timedelta(hours=SandboxSettings().refresh_lag_hours)
        return (self.moment - lag).replace(second=0, microsecond=0)


def spend_limit_truth(org: SyntheticOrg, moment: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per member: the effective row the sandbox serves at ``moment`` (amounts in cents)."""
    state = cast(Any, SandboxAt(org, moment))
    return {row["scope"]["user_id"]: row for row in sandbox_limits.effective_rows(state, {})}


def limit_status(limit: Decimal | None, spent: Decimal) -> str:
    """The mart's rule: NULL unlimited; 0 over once anything is spent; near >= 80 %."""
    if limit is None:
        return "unlimited"
    if spent >= limit and (limit > 0 or spent > 0):
        return "over"
    return "near" if limit > 0 and spent * 100 >= limit * 80 else "ok"


def check_spend_limits(
    query: Query, org: SyntheticOrg, period: Period, started: dt.datetime
) -> None:
    """The spend-limit marts and the budgets from limits hold the sandbox's truth: limits
    exact, NULL (unlimited) and 0 (included usage only) apart, near/over, the pending
    queue, and budgets per member, RBAC group and organization."""
    now = dt.datetime.now(tz=dt.timezone.utc)
    before, after = spend_limit_truth(org, started), spend_limit_truth(org, now)
    assert set(before) == set(after)
    cents = Decimal(100)
    limits = {
        user: None if row["amount"] is None else Decimal(row["amount"]) / cents
        for user, row in after.items()
    }
    rows = query(
        "select user_id, is_unlimited, limit_usd, period_to_date_spend_usd, source_type, "
        f"limit_status, pct_used from {MARTS}.spend_limit_status"
    )
    got = {r[0]: r[1:] for r in rows}
    assert set(got) == set(limits)  # current members only, each once
    for user, (unlimited, limit, spent, source, status, pct) in got.items():
        assert (unlimited, limit) == (limits[user] is None, limits[user]), user
        assert source == after[user]["source"]["type"], user
        # The spend read lies between the sandbox's answers before and after the run.
        low = Decimal(before[user]["period_to_date_spend"]) / cents
        high = Decimal(after[user]["period_to_date_spend"]) / cents
        assert low <= spent <= high, user
        assert status == limit_status(limits[user], spent), user
        if limit:
            assert pct == (spent * 100 / limit).quantize(CENT), user
        else:
            assert pct is None, user
    # NULL and 0 stay apart all the way: both kinds are in the sandbox and in the mart.
    assert any(r[1] and r[2] is None for r in rows)
    assert any(not r[1] and r[2] == 0 for r in rows)
    statuses = {r[5] for r in rows}
    assert {"over", "unlimited", "ok"} <= statuses
    # The near/over list is exactly the truth's (from the limits and the spend read).
    flagged = {r[0]: r[5] for r in rows if r[5] in ("near", "over")}
    assert flagged == {
        u: limit_status(limits[u], got[u][2])
        for u in limits
        if limit_status(limits[u], got[u][2]) in ("near", "over")
    }

    # The pending queue: every pending request of a current member, its live limit.
    state = cast(Any, SandboxAt(org, now))
    pending = [r for r in sandbox_limits.increase_requests(state, {}) if r["status"] == "pending"]
    assert pending
    queue = query(
        "select request_id, user_id, is_unlimited, current_limit_usd, period_to_date_spend_usd "
        f"from {MARTS}.spend_limit_requests_pending"
    )
    assert {q[0]: q[1] for q in queue} == {r["id"]: r["actor"]["user_id"] for r in pending}
    for _, user, unlimited, limit, spent in queue:
        assert (unlimited, limit) == (limits[user] is None, limits[user]), user
        assert spent == got[user][2], user

    # Budgets from the limits: member = its limit (none when unlimited, 0 stays 0), RBAC
    # group = the sum over the members whose limit comes from it, organization = the sum
    # of every finite limit; each against the right members' spend this month.
    month = period.last.replace(day=1)
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for (day, user), amount in org_spend_per_day(org, period, per_user=True).items():
        if day >= month:
            spend[user] += amount
    groups: dict[str, list[str]] = defaultdict(list)
    for user, row in after.items():
        if row["source"]["type"] == "rbac_group":
            groups[row["source"]["rbac_group_id"]].append(user)
    finite = {u: lim for u, lim in limits.items() if lim is not None}
    want = {("member", u): (lim, spend[u]) for u, lim in finite.items()}
    for group, users in groups.items():
        want[("rbac_group", group)] = (
            sum((finite[u] for u in users), Decimal(0)),
            sum((spend[u] for u in users), Decimal(0)),
        )
    budgets = query(
        "select scope, scope_id, monthly_budget_usd, spent_usd, budget_source "
        f"from {MARTS}.budget_status where spend_month = '{month.isoformat()}'"
    )
    assert {b[4] for b in budgets} == {"spend_limits"}
    assert {(b[0], b[1]): (b[2], b[3]) for b in budgets if b[0] != "organization"} == want
    ((org_budget,),) = [(b[2],) for b in budgets if b[0] == "organization"]
    assert org_budget == sum(finite.values(), Decimal(0))
    assert any(b[0] == "member" and b[2] == 0 for b in budgets)  # "0" is a budget of 0


def check_seed_budgets(query: Query, *, spend: bool = True) -> None:
    """Without the spend-limit tables the budgets are the seed's, and the marts are empty
    (``spend`` False: no cost report either, so no budget has a day to count)."""
    seed = ROOT / "transform" / "seeds" / "budgets.csv"
    lines = seed.read_text(encoding="utf-8").splitlines()[1:]
    want = {(f.split(",")[0], f.split(",")[1]): Decimal(f.split(",")[2]) for f in lines}
    budgets = query(
        "select distinct scope, scope_id, monthly_budget_usd, budget_source "
        f"from {MARTS}.budget_status"
    )
    assert {(b[0], b[1]): b[2] for b in budgets} == (want if spend else {})
    assert {b[3] for b in budgets} == ({"seed"} if spend else set())
    for mart in ("spend_limit_status", "spend_limit_requests_pending"):
        assert query(f"select count(*) from {MARTS}.{mart}") == [(0,)], mart


def check_usage_cost(query: Query, org: SyntheticOrg, period: Period) -> None:
    """Staging of the beta usage and cost streams: one row per loaded key, exact spend."""
    for stream in ("usage", "cost"):
        ((loaded,),) = query(f'select count(*) from {SOURCE}."{stream}"')
        ((staged, keys),) = query(
            f"select count(*), count(distinct row_key) from {MARTS}.stg_claude__{stream}"
        )
        assert staged == keys == loaded > 0, stream
    # /cost holds all the organization's traffic, as the cost report does: the same dollars
    # per day, to the digit (the default grouping: actor, model, product).
    got = dict(
        query(f"select usage_date, sum(amount_usd) from {MARTS}.stg_claude__cost group by 1")
    )
    want = org_spend_per_day(org, period, per_user=False)
    assert got == want
    # The Cost API mart: the same per day; not grouped by workspace or API key: '(all)'.
    mart = f"{MARTS}.cost_api_spend_daily"
    assert dict(query(f"select spend_date, sum(amount_usd) from {mart} group by 1")) == want
    assert query(f"select distinct workspace_id, api_key_id from {mart}") == [("(all)", "(all)")]
    ((actor_types,),) = query(
        f"select count(distinct actor_type) from {MARTS}.stg_claude__cost "
        "where actor_id is not null"
    )
    assert actor_types >= 2  # members and API keys / service accounts
    ((unattributed_dims,),) = query(
        f"select count(*) from {MARTS}.stg_claude__usage where workspace_id is not null"
    )
    assert unattributed_dims == 0  # not grouped by workspace: NULL, not '(unattributed)'


def staging_shapes(query: Query) -> dict[str, list[tuple[str, str]]]:
    """Column names and types of every model, by model."""
    shapes: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for table, column, kind in query(
        "select table_name, column_name, lower(data_type) from information_schema.columns "
        f"where table_schema = '{MARTS}' order by table_name, ordinal_position"
    ):
        shapes[table].append((column, kind))
    return dict(shapes)


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
        check_usage_cost(
            lambda sql: con.execute(sql).fetchall(), dbt_duckdb_build.org, dbt_duckdb_build.period
        )
        assert dbt_duckdb_build.started is not None
        check_spend_limits(
            lambda sql: con.execute(sql).fetchall(),
            dbt_duckdb_build.org,
            dbt_duckdb_build.period,
            dbt_duckdb_build.started,
        )
    # Period-to-date spend reconciles with user_cost_report within the documented lag.
    assert re.search(
        r"PASS \S*assert_period_to_date_spend_reconciles_with_user_cost_report",
        dbt_duckdb_build.output,
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    "kept",
    [
        pytest.param(tuple(s for s in STREAMS if s not in OPTIONAL_STREAMS), id="enterprise"),
        pytest.param(CONSOLE_STREAMS, id="console"),
    ],
)
def test_dbt_builds_without_the_tables_of_skipped_streams(
    meltano_project: Meltano, dbt_duckdb_build: DbtBuild, tmp_path: Path, kept: tuple[str, ...]
) -> None:
    """The tap skips an endpoint the organization lacks, so its table never exists: an
    Enterprise org without plugins, artifacts, usage and cost; a Console org with only
    usage and cost. `dbt build` still passes: those staging views are empty, typed alike."""
    import duckdb

    db_file = duckdb_copy(dbt_duckdb_build.db_file, tmp_path, keep=kept)
    env = clean_env(
        tmp_path,
        DBT_DUCKDB_PATH=str(db_file),
        DBT_DUCKDB_SCHEMA=MARTS,
        CLAUDE_ENTERPRISE_SOURCE_SCHEMA=SOURCE,
        CLAUDE_ENTERPRISE_RECONCILE_EXACT="false",
    )
    output = meltano_project.run("--environment=dev", "invoke", "dbt-duckdb:build", env=env)
    assert_dbt_passed(output)
    missing = [s for s in STREAMS if s not in kept]
    for stream in missing:
        assert re.search(rf'"{stream}" does not exist .* stg_claude__{stream} is empty', output)
    with (
        duckdb.connect(str(dbt_duckdb_build.db_file), read_only=True) as full,
        duckdb.connect(str(db_file), read_only=True) as partial,
    ):
        # Same models, same columns, same types as with every table present.
        assert staging_shapes(lambda sql: partial.execute(sql).fetchall()) == staging_shapes(
            lambda sql: full.execute(sql).fetchall()
        )
        for stream in STREAMS:
            sql = f"select count(*) from {MARTS}.stg_claude__{stream}"
            (count,) = partial.execute(sql).fetchone()
            (full_count,) = full.execute(sql).fetchone()
            assert count == (full_count if stream in kept else 0), stream
        tables = partial.execute(
            f"select table_name from information_schema.tables where table_schema = '{MARTS}'"
        ).fetchall()
        assert {t[0] for t in tables} >= MART_TABLES
        check_seed_budgets(lambda sql: partial.execute(sql).fetchall(), spend="cost_report" in kept)


# argv: file, first day of the month: the member who spent most in it "has spent nothing".
_ZERO_TOP_SPENDER = """
import sys, duckdb
with duckdb.connect(sys.argv[1]) as con:
    (user,) = con.execute(
        "select user_id from claude_enterprise.user_cost_report "
        "where cast(left(cast(starting_at as varchar), 10) as date) >= cast(? as date) "
        "and user_id in (select user_id from claude_enterprise.spend_limits_effective) "
        "group by 1 order by sum(cast(amount_usd as decimal(38, 8))) desc limit 1",
        [sys.argv[2]],
    ).fetchone()
    con.execute(
        "update claude_enterprise.spend_limits_effective "
        "set period_to_date_spend = '0', period_to_date_spend_usd = '0' where user_id = ?",
        [user],
    )
"""


@pytest.mark.e2e
def test_period_to_date_spend_below_the_warehouse_fails_the_reconciliation(
    meltano_project: Meltano, dbt_duckdb_build: DbtBuild, tmp_path: Path
) -> None:
    """The reconciliation test is real: one member's period-to-date spend set below what
    user_cost_report already holds for the month (beyond the lag) fails it, for that member."""
    month = dbt_duckdb_build.period.last.replace(day=1)
    if month != dt.datetime.now(tz=dt.timezone.utc).date().replace(day=1):
        pytest.skip("the warehouse holds no day of the month read yet (its 1st or 2nd)")
    db_file = duckdb_copy(dbt_duckdb_build.db_file, tmp_path)
    with_spend = month.isoformat()
    subprocess.run(
        [str(DEMO_VENV / "bin" / "python"), "-c", _ZERO_TOP_SPENDER, str(db_file), with_spend],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    env = clean_env(
        tmp_path,
        DBT_DUCKDB_PATH=str(db_file),
        DBT_DUCKDB_SCHEMA=MARTS,
        CLAUDE_ENTERPRISE_SOURCE_SCHEMA=SOURCE,
    )
    test = "assert_period_to_date_spend_reconciles_with_user_cost_report"
    result = subprocess.run(
        [str(meltano_project.executable), "--environment=dev", "invoke", "dbt-duckdb:build",
         "--select", f"+{test}", "--exclude", "assert_one_organization_per_build"],
        cwd=meltano_project.project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(rf"FAIL 1 \S*{test}", output), output[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("start", ["first_of_month", "mid_month"])
def test_first_month_is_flagged_from_a_mid_month_start_and_whole_from_the_1st(
    meltano_project: Meltano, dbt_duckdb_build: DbtBuild, tmp_path: Path, start: str
) -> None:
    """The same organization synced from a later day (the loaded rows before it removed):
    from a 1st, every figure of spend_org_daily, spend_monthly and the organization's
    budget equals the full build's; from mid-month, that first month is flagged, summed
    from its first day and not projected, and the months after it equal the full build's."""
    import duckdb

    period = dbt_duckdb_build.period
    since = period.last.replace(day=1)
    if start == "mid_month":
        since = period.last - dt.timedelta(days=10)
        since -= dt.timedelta(days=1 if since.day == 1 else 0)
    db_file = duckdb_copy(dbt_duckdb_build.db_file, tmp_path, since=since)
    env = clean_env(
        tmp_path,
        DBT_DUCKDB_PATH=str(db_file),
        DBT_DUCKDB_SCHEMA=MARTS,
        CLAUDE_ENTERPRISE_SOURCE_SCHEMA=SOURCE,
        CLAUDE_ENTERPRISE_RECONCILE_EXACT="false",
    )
    output = meltano_project.run("--environment=dev", "invoke", "dbt-duckdb:build", env=env)
    assert_dbt_passed(output)
    assert re.search(r"PASS \S*assert_partial_month_is_flagged_and_not_projected", output)
    want = org_spend_per_day(dbt_duckdb_build.org, period, per_user=False)
    with (
        duckdb.connect(str(dbt_duckdb_build.db_file), read_only=True) as full,
        duckdb.connect(str(db_file), read_only=True) as partial,
    ):
        check_first_month(
            lambda sql: partial.execute(sql).fetchall(),
            {day: amount for day, amount in want.items() if day >= since},
        )
        # The months whole in both builds: every column of every row, identical.
        whole_from = since if since.day == 1 else (since.replace(day=28) + dt.timedelta(days=4))
        whole_from = whole_from.replace(day=1)
        compared = 0
        for table, where in (
            ("spend_org_daily", f"spend_date >= '{whole_from}'"),
            ("spend_monthly", f"spend_month >= '{whole_from}'"),
            ("budget_status", f"spend_month >= '{whole_from}' and scope = 'organization'"),
        ):
            sql = f"select * from {MARTS}.{table} where {where} order by all"
            rows = partial.execute(sql).fetchall()
            assert rows == full.execute(sql).fetchall(), table
            compared += len(rows)
        if start == "first_of_month":
            assert compared > 0
            ((flagged,),) = partial.execute(
                f"select count(*) from {MARTS}.spend_org_daily where is_partial_month"
            ).fetchall()
            assert flagged == 0


@pytest.mark.e2e
def test_two_organizations_in_one_warehouse_never_collapse(
    meltano_project: Meltano, dbt_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Two extractors with their own organization_label load one DuckDB (README, "Many
    organizations"): staging keeps both organizations' rows, one per organization and key;
    the marts are built per organization (var organization_label), exact."""
    import duckdb

    db_file = tmp_path / "two.duckdb"
    period = sandbox_period(dbt_sandbox, DBT_DAYS)
    env = period_env(
        dbt_sandbox,
        period,
        tmp_path,
        TARGET_DUCKDB_FILEPATH=str(db_file),
        TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA=SOURCE,
        DBT_DUCKDB_PATH=str(db_file),
        DBT_DUCKDB_SCHEMA=MARTS,
    )
    for label in ("acme", "globex"):
        meltano_project.run(
            "--environment=dev", "run", f"tap-claude-enterprise--{label}", "duckdb-compat",
            "target-duckdb", env=env, log=tmp_path / f"{label}.log",
        )  # fmt: skip
    # Staging alone, over both organizations: dbt's unique tests on every key pass.
    output = meltano_project.run(
        "--environment=dev", "invoke", "dbt-duckdb:build", "--select", "staging",
        "--exclude", "test_name:relationships", "assert_one_organization_per_build", env=env,
    )  # fmt: skip
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0 SKIP=0", output), output[-3000:]
    with duckdb.connect(str(db_file), read_only=True) as con:
        for stream in STREAMS:
            rows = dict(
                con.execute(
                    f"select organization_label, count(*) from {MARTS}.stg_claude__{stream} "
                    "group by 1"
                ).fetchall()
            )
            loaded = dict(
                con.execute(
                    f'select organization_label, count(*) from {SOURCE}."{stream}" group by 1'
                ).fetchall()
            )
            assert rows == loaded, stream
            assert set(rows) == {"acme", "globex"}, stream
            assert rows["acme"] == rows["globex"] > 0, stream
    # The marts of all organizations at once would mix them: a test refuses it.
    refused = subprocess.run(
        [str(meltano_project.executable), "--environment=dev", "invoke", "dbt-duckdb:test",
         "--select", "assert_one_organization_per_build"],
        cwd=meltano_project.project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert re.search(r"FAIL 2 \S*assert_one_organization_per_build", output), output[-3000:]
    # One organization's marts: exactly the sandbox's numbers.
    output = meltano_project.run(
        "--environment=dev", "invoke", "dbt-duckdb:build", "--vars", "{organization_label: acme}",
        env=env, log=tmp_path / "build-acme.log",
    )  # fmt: skip
    if sandbox_clock(dbt_sandbox) != (period.latest, period.refreshed_day):
        pytest.skip("the sandbox's day rolled over during the run; expectations moved")
    assert_dbt_passed(output)
    org = SyntheticOrg(OrgConfig(seed=DBT_SEED, members=DBT_MEMBERS))
    with duckdb.connect(str(db_file), read_only=True) as con:
        check_marts(lambda sql: con.execute(sql).fetchall(), org, period)


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
    started = dbt_sandbox.now()
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
    check_usage_cost(query, org, period)
    check_spend_limits(query, org, period, started)

    # The organization has no plugins, artifacts, usage or cost endpoint (the tap skipped
    # them, so there are no tables): the models still build, those staging views empty.
    full_shapes = staging_shapes(query)
    with dbt_postgres.connect() as conn:
        for stream in OPTIONAL_STREAMS:
            conn.execute(f'drop table {SOURCE}."{stream}" cascade')  # type: ignore[arg-type]
    output = meltano_project.run(
        "--environment=dev", "invoke", "dbt-postgres:build", env=env, log=tmp_path / "m3.log"
    )
    assert_dbt_passed(output)
    assert staging_shapes(query) == full_shapes
    for stream in OPTIONAL_STREAMS:
        assert query(f"select count(*) from {MARTS}.stg_claude__{stream}") == [(0,)], stream
    check_marts(query, org, period)
    check_seed_budgets(query)

"""End to end through Meltano: the sandbox -> tap -> target-postgres / target-duckdb / target-jsonl.

Every expectation is computed from the sandbox's synthetic organization rebuilt in this
process (``SyntheticOrg``, deterministic from seed and size), never from the tap's code.

One Meltano installation serves the whole session: ``bash scripts/demo.sh --install-only``
keeps Meltano in ``.meltano/demo-venv`` and the plugins in ``.meltano/`` (git-ignored), so
a second session, or CI after ``.ci/e2e-setup.sh``, only checks them. Each test keeps its
Meltano state in its own system database (``MELTANO_DATABASE_URI``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_claude_enterprise.endpoints import ADMIN_ONLY, ENDPOINTS
from tap_claude_enterprise.sandbox.data import OrgConfig, SyntheticOrg, first_revisable_day
from tap_claude_enterprise.sandbox.server import SandboxServer
from tap_claude_enterprise.sandbox.usage_cost import build_rows, expected_total
from tests.helpers import ENGAGEMENT_ROWS, FAST_RATE, days, expected_engagement_keys
from tests.postgres import PostgresServer, pg_binary, postgres_server

ROOT = Path(__file__).resolve().parents[1]
DEMO_VENV = ROOT / ".meltano" / "demo-venv"
MELTANO = DEMO_VENV / "bin" / "meltano"
HUB_FILE = ROOT / "hub" / "extractors" / "tap-claude-enterprise" / "tap-claude-enterprise.yml"
TAP_EXECUTABLE = Path(sys.executable).parent / "tap-claude-enterprise"
RUN_TIMEOUT = 900

MEMBERS = 12
SEED = 11
PERIOD_DAYS = 40  # spans two 31-day report windows, and the 30-day revision window

GROUP_BY = ("product", "model")
# The dimensions the tap groups by default, part of each row's key: the reports' by
# product and model; the Usage and Cost API's, with an Analytics key, by actor too.
GROUPED_KEYS: dict[str, tuple[str, ...]] = {
    "report": GROUP_BY,
    "usage_cost": ("actor_id", "actor_type", "model", "product"),
}
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    e.name: e.primary_keys + GROUPED_KEYS.get(e.family, ()) for e in ENDPOINTS
}
# The Spend Limits API's streams: Meltano's sandbox config reads them too (admin_api_key).
SPEND_LIMIT_STREAMS = {e.name for e in ENDPOINTS if e.keys == ADMIN_ONLY}
REPORTS = {  # table -> (kind, per_user)
    e.name: (e.trait("measure"), e.trait("per_user")) for e in ENDPOINTS if e.family == "report"
}
MONEY_COLUMNS = ("amount", "list_amount", "amount_usd", "list_amount_usd")
UNATTRIBUTED = "(unattributed)"  # duckdb-compat's stand-in for "" in a key column

# --- Meltano ------------------------------------------------------------------------


@dataclass
class Meltano:
    """The installed Meltano project at the repository root."""

    executable: Path
    project: Path

    def run(
        self,
        *args: str,
        env: dict[str, str],
        cwd: Path | None = None,
        log: Path | None = None,
    ) -> str:
        """Run ``meltano ARGS``; return its combined output, fail the test on error."""
        result = subprocess.run(
            [str(self.executable), *args],
            cwd=cwd or self.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        output = result.stdout + result.stderr
        if log is not None:
            log.write_text(output)
        assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{output[-6000:]}"
        return output


def clean_env(db_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any tap/target/Meltano setting, plus ``extra``.

    A developer's own ``TAP_CLAUDE_ENTERPRISE_API_KEY`` must never reach a test run, and
    each test keeps its state in its own system database.
    """
    prefixes = ("TAP_CLAUDE_ENTERPRISE_", "TARGET_", "MELTANO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["MELTANO_DATABASE_URI"] = f"sqlite:///{db_dir / 'meltano.db'}"
    env.update(extra)
    return env


def run_demo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the README's demo command from the repository root."""
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="session")
def meltano() -> Meltano:
    """Meltano and every plugin of meltano.yml, installed once (the demo's own installer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MELTANO_")}
    result = run_demo("--install-only", env=env)
    assert result.returncode == 0, f"meltano install failed:\n{result.stderr[-6000:]}"
    assert MELTANO.exists()
    return Meltano(executable=MELTANO, project=ROOT)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the session; each test loads into its own schema.

    The database's time zone is deliberately not UTC: the UTC timestamps must still be
    stored as UTC (meltano.yml gives target-postgres PGTZ=UTC).
    """
    try:
        pg_binary("initdb")
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise  # CI must run these (.ci/e2e-setup.sh installs PostgreSQL)
        pytest.skip(str(exc))
    with postgres_server() as server:
        with server.connect() as conn:
            conn.execute(f"ALTER DATABASE {server.database} SET timezone TO 'America/New_York'")
        yield server


# --- the sandbox's truth ------------------------------------------------------------


def admin(sandbox: SandboxServer, route: str, method: str = "GET") -> dict[str, Any]:
    """Call a ``/_sandbox/`` admin route over HTTP, as another process would."""
    request = urllib.request.Request(f"{sandbox.url}/_sandbox/{route}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@dataclass(frozen=True)
class Period:
    """The days a run covers, and the sandbox clocks its data depends on."""

    first: dt.date
    last: dt.date
    latest: dt.date  # the newest day the engagement endpoints serve
    refreshed_day: dt.date  # the report watermark's day (revisions reach 30 days back)

    @property
    def start(self) -> dt.datetime:
        """Midnight UTC starting the first day."""
        return dt.datetime.combine(self.first, dt.time(), tzinfo=dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        """Midnight UTC after the last day."""
        return dt.datetime.combine(self.last, dt.time(), tzinfo=dt.timezone.utc) + dt.timedelta(
            days=1
        )


def sandbox_clock(sandbox: SandboxServer) -> tuple[dt.date, dt.date]:
    """(latest day, watermark day) as the sandbox reports them."""
    info = admin(sandbox, "info")
    return dt.date.fromisoformat(info["latest_day"]), dt.date.fromisoformat(
        info["data_refreshed_at"][:10]
    )


def settled_period(sandbox: SandboxServer, first: dt.date, last: dt.date) -> Period:
    """The period, provided the sandbox's clocks did not roll over since ``first`` was chosen."""
    latest, refreshed = sandbox_clock(sandbox)
    return Period(first=first, last=last, latest=latest, refreshed_day=refreshed)


def check_clock(sandbox: SandboxServer, period: Period) -> None:
    """Skip (rather than fail) when UTC midnight or 04:00 passed during the test."""
    if sandbox_clock(sandbox) != (period.latest, period.refreshed_day):
        pytest.skip("the sandbox's day rolled over during the test; expectations moved")


def synthetic_org(revision: int = 0) -> SyntheticOrg:
    """The sandbox's organization, rebuilt independently of the server."""
    org = SyntheticOrg(OrgConfig(seed=SEED, members=MEMBERS))
    org.revision = revision
    return org


def micro_to_cents(micro: int) -> Decimal:
    """Integer micro-cents as the exact decimal cents the API sends."""
    return Decimal(micro).scaleb(-6)


def expected_report(
    org: SyntheticOrg, table: str, period: Period
) -> dict[tuple, dict[str, Decimal | int]]:
    """Rows of a report table keyed like the warehouse rows: null key dimensions are ""."""
    kind, per_user = REPORTS[table]
    rows = org.report_rows(
        kind=kind,
        per_user=per_user,
        start=period.start,
        end=period.end,
        width="1d",
        group_by=GROUP_BY,
        refreshed_day=period.refreshed_day,
    )
    out: dict[tuple, dict[str, Decimal | int]] = {}
    for (bucket, user, dims), values in rows.items():
        user_key = (org.members[user].user_id,) if per_user else ()
        key = (bucket.replace(tzinfo=None), *user_key, *(d if d is not None else "" for d in dims))
        if kind == "cost":
            out[key] = {
                "amount": micro_to_cents(values.get("amount", 0)),
                "list_amount": micro_to_cents(values.get("list_amount", 0)),
            }
        else:
            out[key] = {"output_tokens": values.get("output_tokens", 0)}
    return out


def expected_keys(sandbox: SandboxServer, org: SyntheticOrg, period: Period) -> dict[str, list]:
    """Primary keys of every row each table should hold."""
    keys: dict[str, list] = {"summaries": [(d,) for d in days(period.first, period.last)]}
    for stream in ENGAGEMENT_ROWS:
        keys[stream] = [
            (dt.date.fromisoformat(k[0]), *k[1:])
            for k in expected_engagement_keys(sandbox, stream, period.first, period.last)
        ]
    for table in REPORTS:
        keys[table] = list(expected_report(org, table, period))
    for table in ("usage", "cost"):
        keys[table] = list(expected_usage_cost(sandbox, table, period))
    return keys


def expected_usage_cost(sandbox: SandboxServer, table: str, period: Period) -> dict[tuple, dict]:
    """Rows of ``usage``/``cost`` keyed like the warehouse rows (default grouping)."""
    refreshed = sandbox.data_refreshed_at()
    rows = build_rows(
        sandbox,
        cost=table == "cost",
        start=period.start,
        end=period.end,
        data_end=min(period.end, refreshed),
        width="1d",
        group_by=("actor", "actor_type", "model", "product"),
        filters={},
        refreshed_day=refreshed.date(),
    )
    out = {}
    for row in rows:
        group, actor = row["group"], row["group"]["actor"]
        actor_id = (
            actor.get("user_id") or actor.get("api_key_id") or actor.get("service_account_id")
        )
        key = (
            dt.datetime.fromisoformat(row["starting_at"].replace("Z", "+00:00")).replace(
                tzinfo=None
            ),
            actor_id,
            group["actor_type"],
            group["model"] or "",
            group["product"] or "",
        )
        out[key] = row
    return out


# --- the warehouse ------------------------------------------------------------------


def flattened_schemas() -> dict[str, list[str]]:
    """Column names per stream with meltano.yml's flattening settings (``--test=schema``)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    flattening = {
        k: v
        for k, v in project["plugins"]["extractors"][0]["config"].items()
        if k.startswith("flattening_")
    }
    config = {"api_key": "sk-ant-api01-unused", **flattening}
    result = subprocess.run(
        [str(TAP_EXECUTABLE), "--config", "ENV", "--test=schema"],
        env={
            **clean_env(Path()),
            **{f"TAP_CLAUDE_ENTERPRISE_{k.upper()}": json.dumps(v) for k, v in config.items()},
            "TAP_CLAUDE_ENTERPRISE_API_KEY": config["api_key"],
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {
        m["stream"]: list(m["schema"]["properties"])
        for m in map(json.loads, result.stdout.splitlines())
        if m["type"] == "SCHEMA"
    }


def pg_rows(pg: PostgresServer, sql: str) -> list[tuple]:
    """All rows of a query."""
    with pg.connect() as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def pg_keys(pg: PostgresServer, schema: str, table: str) -> list[tuple]:
    """Key tuples of every row of a table."""
    columns = ", ".join(f'"{c}"' for c in PRIMARY_KEYS[table])
    return pg_rows(pg, f'SELECT {columns} FROM "{schema}"."{table}"')


def pg_primary_key(pg: PostgresServer, schema: str, table: str) -> tuple[str, ...]:
    """The table's PRIMARY KEY columns, in order."""
    rows = pg_rows(
        pg,
        f"""
        SELECT a.attname FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = '"{schema}"."{table}"'::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)
        """,
    )
    return tuple(r[0] for r in rows)


def pg_column_types(pg: PostgresServer, schema: str) -> dict[str, dict[str, str]]:
    """``{table: {column: data_type}}`` of a schema."""
    types: dict[str, dict[str, str]] = defaultdict(dict)
    for table, column, data_type in pg_rows(
        pg,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}'",
    ):
        types[table][column] = data_type
    return types


def assert_same_rows(table: str, stored: list[tuple], expected: list[tuple]) -> None:
    """Same keys, each exactly once."""
    duplicates = [k for k, n in Counter(stored).items() if n > 1]
    assert not duplicates, f"{table}: {len(duplicates)} duplicate keys, e.g. {duplicates[:3]}"
    missing = set(expected) - set(stored)
    extra = set(stored) - set(expected)
    assert not missing, f"{table}: {len(missing)} rows missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{table}: {len(extra)} unexpected rows, e.g. {sorted(extra)[:3]}"
    assert len(stored) == len(expected), table


def assert_warehouse_matches(
    pg: PostgresServer, schema: str, sandbox: SandboxServer, org: SyntheticOrg, period: Period
) -> None:
    """Every table holds exactly the sandbox's rows, values included where they matter."""
    expected = expected_keys(sandbox, org, period)
    for table, keys in expected.items():
        assert keys, f"{table}: the sandbox period has no rows; the test proves nothing"
        assert pg_primary_key(pg, schema, table) == PRIMARY_KEYS[table]
        assert_same_rows(table, pg_keys(pg, schema, table), keys)

    for table in ("cost_report", "user_cost_report"):
        truth = expected_report(org, table, period)
        key_sql = ", ".join(f'"{c}"' for c in PRIMARY_KEYS[table])
        stored = {
            tuple(row[:-4]): row[-4:]
            for row in pg_rows(
                pg,
                f"SELECT {key_sql}, amount, list_amount, amount_usd, list_amount_usd "
                f'FROM "{schema}"."{table}"',
            )
        }
        for key, values in truth.items():
            amount, list_amount, amount_usd, list_amount_usd = stored[key]
            assert (amount, list_amount) == (values["amount"], values["list_amount"]), key
            assert amount_usd == values["amount"].scaleb(-2), key
            assert list_amount_usd == values["list_amount"].scaleb(-2), key
        # The sum of a table's amounts is the sandbox's total to the micro-cent.
        (total, list_total, usd_total), *_ = pg_rows(
            pg,
            f'SELECT sum(amount), sum(list_amount), sum(amount_usd) FROM "{schema}"."{table}"',
        )
        want = sum((v["amount"] for v in truth.values()), Decimal(0))
        assert total == want, f"{table}: sum(amount) {total} != {want}"
        assert list_total == sum((v["list_amount"] for v in truth.values()), Decimal(0))
        assert usd_total == want.scaleb(-2)

    # cost: every row's amount, and the total to the micro-cent (API keys included).
    truth_cost = expected_usage_cost(sandbox, "cost", period)
    key_sql = ", ".join(f'"{c}"' for c in PRIMARY_KEYS["cost"])
    stored_cost = {
        tuple(row[:-2]): row[-2:]
        for row in pg_rows(pg, f'SELECT {key_sql}, amount, amount_usd FROM "{schema}".cost')
    }
    for key, row in truth_cost.items():
        assert stored_cost[key] == (
            Decimal(row["cost"]["amount"]),
            Decimal(row["cost"]["amount"]).scaleb(-2),
        ), key
    ((total,),) = pg_rows(pg, f'SELECT sum(amount) FROM "{schema}".cost')
    assert total == Decimal(expected_total(sandbox, start=period.start, end=period.end)).scaleb(-6)
    ((tokens,),) = pg_rows(pg, f'SELECT sum(usage__output_tokens) FROM "{schema}".usage')
    assert tokens == sum(
        r["usage"]["output_tokens"] for r in expected_usage_cost(sandbox, "usage", period).values()
    )

    for table in ("usage_report", "user_usage_report"):
        truth = expected_report(org, table, period)
        ((tokens,),) = pg_rows(pg, f'SELECT sum(output_tokens) FROM "{schema}"."{table}"')
        assert tokens == sum(v["output_tokens"] for v in truth.values()), table

    # Flattened engagement values, revised days included.
    dau = dict(pg_rows(pg, f'SELECT date, daily_active_user_count FROM "{schema}".summaries'))
    for day in days(period.first, period.last):
        row = org.summary_row(day, period.latest)
        assert dau[day] == row["daily_active_user_count"], day
    messages = {
        (d, u): n
        for d, u, n in pg_rows(
            pg,
            f'SELECT date, user_id, chat_metrics__message_count FROM "{schema}".user_activity',
        )
    }
    for day in days(period.first, period.last):
        for row in org.user_rows(day, period.latest):
            assert messages[(day, row["user"]["id"])] == row["chat_metrics"]["message_count"]


def meltano_period_env(
    sandbox: SandboxServer, period: Period, db_dir: Path, **extra: str
) -> dict[str, str]:
    """Settings of a sandbox run over ``period``, from the environment, as a user would."""
    return clean_env(
        db_dir,
        TAP_CLAUDE_ENTERPRISE_API_URL=sandbox.url,
        TAP_CLAUDE_ENTERPRISE_START_DATE=period.first.isoformat(),
        TAP_CLAUDE_ENTERPRISE_END_DATE=period.last.isoformat(),
        TAP_CLAUDE_ENTERPRISE_MAX_REQUESTS_PER_MINUTE=str(FAST_RATE),
        **extra,
    )


# --- tests --------------------------------------------------------------------------


@pytest.mark.e2e
def test_meltano_run_into_postgres_then_revised_rerun(
    meltano: Meltano,
    postgres: PostgresServer,
    make_sandbox: Callable[..., SandboxServer],
    tmp_path: Path,
) -> None:
    """`meltano run tap-claude-enterprise target-postgres`, twice, around a revision."""
    sandbox = make_sandbox(members=MEMBERS, seed=SEED)
    latest, _ = sandbox_clock(sandbox)
    # End two days back: every bucket is complete, so expectations do not move by the minute.
    last = latest - dt.timedelta(days=1)
    period = settled_period(sandbox, last - dt.timedelta(days=PERIOD_DAYS - 1), last)
    schema = "e2e_meltano"
    env = meltano_period_env(
        sandbox,
        period,
        tmp_path,
        **postgres.target_env(),
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
    )
    pipeline = ("--environment=dev", "run", "tap-claude-enterprise", "target-postgres")

    meltano.run(*pipeline, env=env, log=tmp_path / "run1.log")
    check_clock(sandbox, period)
    assert_warehouse_matches(postgres, schema, sandbox, synthetic_org(0), period)

    # Analyst-ready types: flat columns, NUMERIC money, real dates, BIGINT counts.
    types = pg_column_types(postgres, schema)
    # meltano.yml gives the sandbox's spend-limits key (admin_api_key): those tables too.
    assert set(types) == set(PRIMARY_KEYS) | SPEND_LIMIT_STREAMS
    # Exactly the tap's flattened columns: nothing left nested, no name cut at 63 bytes.
    for table, columns in flattened_schemas().items():
        if table not in PRIMARY_KEYS:  # the spend-limit streams: no admin_api_key, no table
            continue
        stored = {c for c in types[table] if not c.startswith("_sdc_")}
        assert stored == set(columns), table
        assert "jsonb" not in types[table].values(), f"{table} kept nested JSON"
    for table in ("cost_report", "user_cost_report"):
        for column in MONEY_COLUMNS:
            assert types[table][column] == "numeric", (table, column)
        assert types[table]["starting_at"] == "timestamp without time zone"
    assert types["skills"]["estimated_overage_spend"] == "numeric"
    for column in (*MONEY_COLUMNS, "cost__amount", "cost__list_amount"):
        assert types["cost"][column] == "numeric", column
    # NUMERIC(38, 8) from the tap's decimal strings: every digit (cents have 6 decimals).
    scales = {
        (table, column): (precision, scale)
        for table, column, precision, scale in pg_rows(
            postgres,
            "SELECT table_name, column_name, numeric_precision, numeric_scale "
            f"FROM information_schema.columns WHERE table_schema = '{schema}'",
        )
    }
    money = [(t, c) for t in ("cost_report", "user_cost_report", "cost") for c in MONEY_COLUMNS]
    money += [("skills", "estimated_overage_spend"), ("skills", "attributed_list_price")]
    assert {scales[m] for m in money} == {(38, 8)}
    assert types["usage"]["usage__total_tokens"] == "bigint"
    assert types["cost"]["starting_at"] == "timestamp without time zone"
    assert types["summaries"]["date"] == "date"
    assert types["user_usage_report"]["output_tokens"] == "bigint"
    assert types["usage_report"]["cache_creation__ephemeral_5m_input_tokens"] == "bigint"
    assert types["user_activity"]["chat_metrics__message_count"] == "bigint"
    assert (
        types["user_activity"]["claude_code_metrics__core_metrics__lines_of_code__added_count"]
        == "bigint"
    )
    assert types["user_cost_report"]["actor__email_address"] == "text"
    # Stored as UTC although the database's time zone is New York's.
    ((first_bucket,),) = pg_rows(postgres, f'SELECT min(starting_at) FROM "{schema}".cost_report')
    assert first_bucket == period.start.replace(tzinfo=None)
    before = dict(
        pg_rows(postgres, f'SELECT starting_at, sum(amount) FROM "{schema}".cost_report GROUP BY 1')
    )

    # The API revises spend until about 7 days after a month ends; the sandbox on request.
    revised = admin(sandbox, "revise", method="POST")
    assert revised["revision"] == 1
    admin(sandbox, "reset", method="POST")  # a fresh request log for the second run
    meltano.run(*pipeline, env=env, log=tmp_path / "run2.log")
    check_clock(sandbox, period)

    # No duplicates and the revised values everywhere (the target upserted on the keys).
    assert_warehouse_matches(postgres, schema, sandbox, synthetic_org(1), period)
    after = dict(
        pg_rows(postgres, f'SELECT starting_at, sum(amount) FROM "{schema}".cost_report GROUP BY 1')
    )
    changed = [day for day in before if before[day] != after[day]]
    assert changed, "the revision changed no stored amount; the test proves nothing"
    # Revised: only months not closed yet (from the 1st of the earliest one).
    assert min(changed).date() >= first_revisable_day(period.refreshed_day)
    # Meltano kept the state: the engagement stream re-read only its 3-day lookback.
    reread = sorted({r["params"]["date"][0] for r in sandbox.requests_for("users")})
    assert reread == [(last - dt.timedelta(days=n)).isoformat() for n in (2, 1, 0)]


@pytest.mark.e2e
def test_demo_prints_the_report_from_duckdb(meltano: Meltano, tmp_path: Path) -> None:
    """`bash scripts/demo.sh`: sandbox -> meltano run ... target-duckdb -> the report."""
    del meltano  # installed; the demo reuses it
    members, seed, span = 15, 5, 10
    db_file = tmp_path / "demo.duckdb"
    today = dt.datetime.now(tz=dt.timezone.utc).date()
    last = today - dt.timedelta(days=2)  # complete buckets only: exact expectations
    env = clean_env(tmp_path)
    env.pop("MELTANO_DATABASE_URI")  # the demo uses the project's own
    env["TAP_CLAUDE_ENTERPRISE_API_KEY"] = "sk-ant-api01-not-a-real-key"  # must be ignored
    result = run_demo(
        "--sandbox",
        f"--days={span}",
        f"--end-date={last.isoformat()}",
        f"--members={members}",
        f"--seed={seed}",
        f"--output={db_file}",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    report, log = result.stdout, result.stderr
    assert "source: the local sandbox" in log
    assert "sk-ant-api01-not-a-real-key" not in report + log

    first = last - dt.timedelta(days=span - 1)
    org = SyntheticOrg(OrgConfig(seed=seed, members=members))
    latest = today - dt.timedelta(days=1)
    refreshed_day = (dt.datetime.now(tz=dt.timezone.utc) - dt.timedelta(hours=4)).date()
    period = Period(first=first, last=last, latest=latest, refreshed_day=refreshed_day)

    # The report's numbers are the sandbox's, in exact dollars.
    dau = [org.summary_row(day, latest)["daily_active_user_count"] for day in days(first, last)]
    assert f"{span} days: average {Decimal(sum(dau)) / span:.1f}, peak {max(dau)}" in report
    per_user: dict[int, int] = defaultdict(int)
    for (_, user, _), values in org.report_rows(
        kind="cost",
        per_user=True,
        start=period.start,
        end=period.end,
        width="1d",
        group_by=GROUP_BY,
        refreshed_day=refreshed_day,
    ).items():
        per_user[user] += values["amount"]
    top = sorted(per_user.items(), key=lambda kv: (-kv[1], org.members[kv[0]].user_id))[:5]
    for rank, (user, micro) in enumerate(top, start=1):
        member = org.members[user]
        line = next(x for x in report.splitlines() if x.strip().startswith(f"{rank}. "))
        assert f"${micro_to_cents(micro).scaleb(-2):,f}" in line
        assert member.user_id in line
    by_model_product: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for key, values in expected_report(org, "cost_report", period).items():
        _, product, model = key
        by_model_product[(model or UNATTRIBUTED, product or UNATTRIBUTED)] += values["amount"]
    for (model, product), cents in by_model_product.items():
        assert any(
            x.split()[:2] == [model, product] and x.endswith(f"${cents.scaleb(-2):,f}")
            for x in report.splitlines()
        ), (model, product)
    total = sum(by_model_product.values(), Decimal(0)).scaleb(-2)
    assert any(
        x.split()[:1] == ["total"] and x.endswith(f"${total:,f}") for x in report.splitlines()
    )

    # And the DuckDB file holds every row (target-duckdb once dropped rows: see meltano.yml).
    import duckdb

    expected_counts = {"summaries": span}
    for stream, method in ENGAGEMENT_ROWS.items():
        expected_counts[stream] = sum(
            len(getattr(org, method)(day, latest)) for day in days(first, last)
        )
    for table in REPORTS:
        expected_counts[table] = len(expected_report(org, table, period))
    with duckdb.connect(str(db_file), read_only=True) as con:
        for table, want in expected_counts.items():
            (count,) = con.execute(f"SELECT count(*) FROM claude_enterprise.{table}").fetchone()
            assert count == want, table
        (stored_total,) = con.execute(
            "SELECT sum(CAST(amount AS DECIMAL(38, 6))) FROM claude_enterprise.cost_report"
        ).fetchone()
        assert stored_total == total.scaleb(2)


@pytest.mark.e2e
def test_demo_with_a_key_runs_the_prod_environment(
    meltano: Meltano, make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    """A key in the environment switches the demo to `prod`, and is never printed.

    The "real API" here is a sandbox that only accepts this test's key, reached through
    TAP_CLAUDE_ENTERPRISE_API_URL: the switch is tested without the internet.
    """
    del meltano
    key = "sk-ant-api01-e2e-" + "k" * 32
    sandbox = make_sandbox(members=8, seed=3, api_key=key)
    db_file = tmp_path / "prod.duckdb"
    env = clean_env(
        tmp_path,
        TAP_CLAUDE_ENTERPRISE_API_KEY=key,
        TAP_CLAUDE_ENTERPRISE_API_URL=sandbox.url,
        TAP_CLAUDE_ENTERPRISE_MAX_REQUESTS_PER_MINUTE=str(FAST_RATE),
    )
    result = run_demo("--days=3", f"--output={db_file}", env=env)
    assert result.returncode == 0, result.stderr[-6000:]
    assert "source: the real Claude Enterprise Analytics API" in result.stderr
    assert "--environment=prod" in result.stderr
    assert "Claude Enterprise analytics (real API)" in result.stdout
    meltano_log = (ROOT / "output" / "demo-meltano.log").read_text()
    assert key not in result.stdout + result.stderr + meltano_log
    # Every API request carried the key from the environment (meltano.yml has none).
    assert sandbox.requests_for("summaries")
    assert all(r["status"] == 200 for r in sandbox.requests_for())


@pytest.mark.e2e
def test_standalone_tap_piped_into_target_jsonl(
    meltano: Meltano, make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    """`tap-claude-enterprise --config c.json | target-jsonl --config t.json`, no Meltano."""
    target = meltano.project / ".meltano" / "loaders" / "target-jsonl" / "venv" / "bin"
    sandbox = make_sandbox(members=MEMBERS, seed=SEED)
    latest, _ = sandbox_clock(sandbox)
    last = latest - dt.timedelta(days=1)
    period = settled_period(sandbox, last - dt.timedelta(days=6), last)
    tap_config = tmp_path / "c.json"
    tap_config.write_text(
        json.dumps(
            {
                "api_key": "sk-ant-api01-sandbox",
                "admin_api_key": "sk-ant-admin01-sandbox-limits",  # the spend limits too
                "api_url": sandbox.url,
                "start_date": period.first.isoformat(),
                "end_date": period.last.isoformat(),
                "max_requests_per_minute": FAST_RATE,
            }
        )
    )
    out_dir = tmp_path / "jsonl"
    out_dir.mkdir()
    target_config = tmp_path / "t.json"
    target_config.write_text(
        json.dumps({"destination_path": str(out_dir), "do_timestamp_file": False})
    )
    tap = subprocess.Popen(
        [str(TAP_EXECUTABLE), "--config", str(tap_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert tap.stdout is not None
    loaded = subprocess.run(
        [str(target / "target-jsonl"), "--config", str(target_config)],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    tap.stdout.close()
    assert tap.wait(timeout=60) == 0
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    check_clock(sandbox, period)

    # target-jsonl echoes the tap's last STATE: a bookmark for every stream.
    state = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert set(state["bookmarks"]) == set(PRIMARY_KEYS)
    expected = expected_keys(sandbox, synthetic_org(0), period)
    for stream, keys in expected.items():
        lines = (out_dir / f"{stream}.jsonl").read_text().splitlines()
        assert len(lines) == len(keys), stream
    truth = expected_report(synthetic_org(0), "cost_report", period)
    records = [
        json.loads(line, parse_float=Decimal)
        for line in (out_dir / "cost_report.jsonl").read_text().splitlines()
    ]
    # Money is decimal text in the file (never a JSON number), exact to the last digit.
    assert all(isinstance(r["amount"], str) for r in records)
    assert sum((Decimal(r["amount"]) for r in records), Decimal(0)) == sum(
        (v["amount"] for v in truth.values()), Decimal(0)
    )


# --- Meltano Hub --------------------------------------------------------------------

EXPANDED_OBJECTS = ("batch_config", "faker_config")  # the Hub lists their leaves


def about() -> dict[str, Any]:
    """``tap-claude-enterprise --about --format=json``."""
    result = subprocess.run(
        [str(TAP_EXECUTABLE), "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def about_settings(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """--about's settings by Meltano setting name (dotted for the expanded objects)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, properties: dict[str, Any]) -> None:
        for name, prop in properties.items():
            if name in EXPANDED_OBJECTS or (prefix and "properties" in prop):
                walk(f"{prefix}{name}.", prop["properties"])
            else:
                out[prefix + name] = prop

    walk("", info["settings"]["properties"])
    return out


# Defaults the Hub definition and meltano.yml give beyond --about's: flat columns in
# every target, PostgreSQL's 63-byte names included (README, "Installing from Meltano Hub").
FLATTENING_DEFAULTS = {
    "flattening_enabled": True,
    "flattening_max_depth": 3,
    "flattening_max_key_length": 64,
}


def expected_kind(prop: dict[str, Any], *, hub: bool = False) -> str:
    """The Meltano kind of a JSON-schema setting, as hub-utils derives it.

    JSON ``number`` maps to ``integer``: Meltano 4.4 cannot hand a ``decimal`` setting
    given in an env var to a plugin (see meltano.yml). A secret is ``password`` on the
    Hub (its convention); Meltano itself writes ``string`` + ``sensitive``.
    """
    if hub and prop.get("secret"):
        return "password"
    if "enum" in prop:
        return "options"
    types = prop.get("type") or []
    types = [types] if isinstance(types, str) else types
    if not types:  # oneOf: faker_config.seed (scalar) or .locale (string or array)
        variants = [v.get("type") for v in prop.get("oneOf", [])]
        return "array" if "array" in variants else "string"
    if prop.get("format") in {"date", "date-time"}:
        return "date_iso8601"
    for json_type, kind in (
        ("boolean", "boolean"),
        ("integer", "integer"),
        ("number", "integer"),
        ("array", "array"),
        ("object", "object"),
    ):
        if json_type in types:
            return kind
    return "string"


def assert_settings_match_about(
    settings: list[dict[str, Any]], info: dict[str, Any], *, hub: bool = False
) -> None:
    """Names, labels, descriptions, kinds, defaults, options and secrecy as --about says."""
    truth = about_settings(info)
    by_name = {s["name"]: s for s in settings}
    assert len(by_name) == len(settings), "a setting is defined twice"
    assert set(by_name) == set(truth)
    for name, prop in truth.items():
        setting = by_name[name]
        assert setting.get("label") == prop.get("title"), name
        assert setting.get("description") == prop.get("description"), name
        assert setting.get("kind") == expected_kind(prop, hub=hub), name
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), name
        assert setting.get("value") == FLATTENING_DEFAULTS.get(name, prop.get("default")), name
        if "enum" in prop:
            assert [o["value"] for o in setting["options"]] == prop["enum"], name


def test_hub_definition_matches_about() -> None:
    """The Hub file says what --about says, and the Hub's own schema accepts it."""
    info = about()
    hub = yaml.safe_load(HUB_FILE.read_text())
    assert_settings_match_about(hub["settings"], info, hub=True)
    assert sorted(hub["capabilities"]) == sorted(info["capabilities"])
    assert hub["settings_group_validation"] == [info["settings"]["required"]]
    assert hub["supported_python_versions"] == info["supported_python_versions"]
    assert (hub["name"], hub["namespace"], hub["executable"]) == (
        info["name"],
        "tap_claude_enterprise",
        info["name"],
    )

    problems = hub_definition_problems(hub)
    assert not problems, problems
    assert hub_definition_problems({**hub, "kind_of_typo": 1}), "the check checks nothing"


# The Hub's extractor format (meltano/hub `schemas/plugin_definitions`), as rules.
HUB_REQUIRED = {"name", "namespace", "variant", "quality"}
HUB_OPTIONAL = {
    "label", "description", "pip_url", "executable", "repo", "docs", "logo_url", "domain_url",
    "keywords", "maintenance_status", "capabilities", "settings", "settings_group_validation",
    "settings_preamble", "usage", "next_steps", "supported_python_versions", "select", "metadata",
    "ext_repo", "definition", "log_parser",
}  # fmt: skip
HUB_CAPABILITIES = {
    "properties", "catalog", "discover", "state", "about", "stream-maps", "schema-flattening",
    "activate-version", "batch", "test", "log-based", "structured-logging",
}  # fmt: skip
HUB_KINDS = {
    "string", "integer", "boolean", "decimal", "date_iso8601", "email", "file", "array",
    "object", "options", "password", "hidden",
}  # fmt: skip
HUB_QUALITY = {"gold", "silver", "bronze", "unknown"}
HUB_STATUS = {"active", "beta", "development", "inactive", "unknown"}


def hub_definition_problems(hub: dict) -> list[str]:
    """What the Hub's CI would reject in an extractor definition."""
    problems = [f"missing {key}" for key in sorted(HUB_REQUIRED - hub.keys())]
    problems += [f"unknown key {key}" for key in sorted(hub.keys() - HUB_REQUIRED - HUB_OPTIONAL)]
    problems += [
        f"capability {c}" for c in hub.get("capabilities", []) if c not in HUB_CAPABILITIES
    ]
    if hub.get("quality") not in HUB_QUALITY:
        problems.append(f"quality {hub.get('quality')}")
    if hub.get("maintenance_status", "unknown") not in HUB_STATUS:
        problems.append(f"maintenance_status {hub.get('maintenance_status')}")
    names = set()
    for setting in hub.get("settings", []):
        names.add(setting.get("name"))
        if not setting.get("name") or not setting.get("description"):
            problems.append(f"setting without name or description: {setting}")
        if setting.get("kind", "string") not in HUB_KINDS:
            problems.append(f"setting {setting.get('name')} kind {setting.get('kind')}")
        if setting.get("kind") == "options" and not setting.get("options"):
            problems.append(f"setting {setting.get('name')} has no options")
    for group in hub.get("settings_group_validation", []):
        problems += [f"group names unknown setting {n}" for n in group if n not in names]
    return problems


def test_meltano_yml_matches_about() -> None:
    """meltano.yml's extractor is the Hub's (its lock file), and the project is as documented."""
    info = about()
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert project["send_anonymous_usage_stats"] is False
    extractor, *organizations = project["plugins"]["extractors"]
    assert extractor["name"] == "tap-claude-enterprise"
    assert extractor["pip_url"] == "tap-claude-enterprise"  # the PyPI release
    hub = yaml.safe_load(HUB_FILE.read_text())
    # The definition is the Hub's, locked as `meltano lock` writes it (plugins/).
    assert "settings" not in extractor
    assert extractor["variant"] == hub["variant"]
    locked = json.loads(lock_file("extractors", extractor).read_text())
    assert_settings_match_about(locked["settings"], info)
    assert sorted(locked["capabilities"]) == sorted(info["capabilities"])
    as_meltano_writes = [
        {**s, "kind": "string", "sensitive": True} if s.get("kind") == "password" else s
        for s in hub["settings"]
    ]
    assert locked["settings"] == as_meltano_writes
    # The sandbox is the extractor's own config: `meltano config` and `meltano select`
    # ignore default_environment, and must work as typed.
    assert extractor["config"] == {
        **FLATTENING_DEFAULTS,
        "api_url": "http://127.0.0.1:8765",
        "api_key": "sk-ant-api01-sandbox",
        "admin_api_key": "sk-ant-admin01-sandbox-limits",
        "start_date": "30 days ago",
    }
    # The many-organizations recipe: inheriting extractors with their own label.
    assert organizations
    for org in organizations:
        assert org["inherit_from"] == "tap-claude-enterprise"
        assert org["name"] == f"tap-claude-enterprise--{org['config']['organization_label']}"
        assert set(org["config"]) == {"organization_label"}, "keys come from the environment"
    environments = {e["name"]: e["config"]["plugins"] for e in project["environments"]}
    assert project["default_environment"] == "dev"
    assert "extractors" not in environments["dev"]
    (prod,) = environments["prod"]["extractors"]
    assert prod["config"]["api_key"] == "$TAP_CLAUDE_ENTERPRISE_API_KEY", "only from the env"
    assert prod["config"]["api_url"] == "https://api.anthropic.com"
    assert prod["config"]["start_date"] == "2026-01-01"
    # No anchors or aliases: Meltano expands them when it rewrites the file.
    text = (ROOT / "meltano.yml").read_text()
    assert not [line for line in text.splitlines() if re.search(r"(^|\s)[&*][A-Za-z_]", line)]
    loaders = {p["name"]: p for p in project["plugins"]["loaders"]}
    assert loaders["target-postgres"]["env"] == {"PGTZ": "UTC"}
    postgres = json.loads(lock_file("loaders", loaders["target-postgres"]).read_text())
    assert {"password", "sqlalchemy_url"} == {
        s["name"] for s in postgres["settings"] if s.get("sensitive")
    }


def lock_file(plugin_type: str, plugin: dict[str, Any]) -> Path:
    """Where Meltano reads a plugin's locked definition."""
    return ROOT / "plugins" / plugin_type / f"{plugin['name']}--{plugin['variant']}.lock"


@pytest.mark.e2e
def test_hub_definition_in_a_new_meltano_project(
    meltano: Meltano, make_sandbox: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    """`meltano init`, `meltano add --from-ref <hub file>`, install this checkout, invoke."""
    env = clean_env(tmp_path)
    env.pop("MELTANO_DATABASE_URI")  # the new project's own
    meltano.run("init", "hubproject", "--no_usage_stats", env=env, cwd=tmp_path)
    project = tmp_path / "hubproject"
    meltano.run(
        "add",
        "--plugin-type=extractor",
        "tap-claude-enterprise",
        f"--from-ref={HUB_FILE}",
        "--no-install",
        env=env,
        cwd=project,
    )
    config = yaml.safe_load((project / "meltano.yml").read_text())
    assert set(config["plugins"]) == {"extractors"}
    (extractor,) = config["plugins"]["extractors"]
    hub = yaml.safe_load(HUB_FILE.read_text())
    # Meltano writes the Hub's `kind: password` as `string` + `sensitive: true`.
    assert extractor["settings"] == [
        {**s, "kind": "string"} if s.get("kind") == "password" else s for s in hub["settings"]
    ]
    # The Hub installs from the package index; this test installs this checkout.
    extractor["pip_url"] = str(ROOT)
    (project / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    meltano.run("install", "--plugin-type=extractor", "tap-claude-enterprise", env=env, cwd=project)

    sandbox = make_sandbox(members=MEMBERS, seed=SEED)
    latest, _ = sandbox_clock(sandbox)
    period = settled_period(sandbox, latest - dt.timedelta(days=3), latest - dt.timedelta(days=1))
    run_env = {
        **env,
        "TAP_CLAUDE_ENTERPRISE_API_KEY": "sk-ant-api01-sandbox",
        "TAP_CLAUDE_ENTERPRISE_API_URL": sandbox.url,
        "TAP_CLAUDE_ENTERPRISE_START_DATE": period.first.isoformat(),
        "TAP_CLAUDE_ENTERPRISE_END_DATE": period.last.isoformat(),
        "TAP_CLAUDE_ENTERPRISE_MAX_REQUESTS_PER_MINUTE": str(FAST_RATE),
    }
    result = subprocess.run(
        [str(meltano.executable), "invoke", "tap-claude-enterprise"],
        cwd=project,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    check_clock(sandbox, period)
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    records: dict[str, int] = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    expected = expected_keys(sandbox, synthetic_org(0), period)
    assert records == {stream: len(keys) for stream, keys in expected.items()}
    # Installed as a package, as from the Hub, not as a link to this checkout.
    venv = project / ".meltano" / "extractors" / "tap-claude-enterprise" / "venv"
    assert list(venv.glob("lib/python*/site-packages/tap_claude_enterprise/tap.py"))


def load_demo() -> Any:
    """scripts/demo.py as a module (scripts/ is not a package)."""
    import importlib.util

    name = "tap_claude_enterprise_demo"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_demo_switches_to_the_real_api_only_with_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    """The key in the environment selects the real API, says so, and is never shown."""
    demo = load_demo()
    key = "sk-ant-api01-" + "x" * 24
    cases = [
        ([], {}, "sandbox", "is not set"),
        ([], {demo.API_KEY_ENV: key}, "api", "is set"),
        (["--sandbox"], {demo.API_KEY_ENV: key}, "sandbox", "is ignored"),
        (["--api"], {demo.API_KEY_ENV: key}, "api", "--api"),
    ]
    for argv, env, source, reason in cases:
        assert demo.choose_source(demo.parse_args(argv), env) == source
        logged = capsys.readouterr().err
        assert reason in logged
        assert ("real Claude Enterprise Analytics API" in logged) == (source == "api")
        assert key not in logged
    with pytest.raises(SystemExit) as exit_info:
        demo.choose_source(demo.parse_args(["--api"]), {})
    assert exit_info.value.code == 2
    assert demo.API_KEY_ENV in capsys.readouterr().err

    # The sandbox run never passes a real key (or any other tap setting) to Meltano.
    stray = {demo.API_KEY_ENV: key, "TAP_CLAUDE_ENTERPRISE_API_URL": "https://example.invalid"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in stray.items():
            patch.setenv(name, value)
        env = demo.meltano_env("sandbox", start_date=dt.date(2026, 11, 1), db_file=Path("x.duckdb"))
        assert demo.API_KEY_ENV not in env
        assert "TAP_CLAUDE_ENTERPRISE_API_URL" not in env
        assert env["TAP_CLAUDE_ENTERPRISE_START_DATE"] == "2026-11-01"
        api_env = demo.meltano_env("api", start_date=dt.date(2026, 11, 1), db_file=Path("x.duckdb"))
        assert api_env[demo.API_KEY_ENV] == key
    assert demo.redact(f"oops {key} leaked", key) == "oops <redacted> leaked"

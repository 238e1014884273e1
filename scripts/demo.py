"""The demo after its bootstrap (``scripts/demo.sh``): source, sync, report.

1. Choose the source, and say which: the real API when ``TAP_CLAUDE_ENTERPRISE_API_KEY``
   is set (or ``--api``), else a local sandbox serving a synthetic organization.
2. ``meltano install`` the plugins the pipeline needs (fast when they are installed).
3. ``meltano run tap-claude-enterprise duckdb-compat target-duckdb dbt-duckdb:build``
   into a DuckDB file: load, then build and test the dbt models (``transform/``).
4. Read the file back and print daily active users, the five members with the highest
   spend, and spend by model and product, in exact dollars.
5. Write the HTML report (``report/``) from the marts and print its path.

Run it through ``scripts/demo.sh``, which prepares the Python environment it needs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

API_KEY_ENV = "TAP_CLAUDE_ENTERPRISE_API_KEY"
TAP_ENV_PREFIX = "TAP_CLAUDE_ENTERPRISE_"
PIPELINE = ("tap-claude-enterprise", "duckdb-compat", "target-duckdb", "dbt-duckdb:build")
DEMO_PLUGINS = ("tap-claude-enterprise", "meltano-map-transformer", "target-duckdb", "dbt-duckdb")
SCHEMA = "claude_enterprise"
MARTS_SCHEMA = "analytics"  # where dbt builds the models (dbt-duckdb's schema default)
# The sandbox is local and the demo should take seconds, not the minutes that the real
# API's 60 requests per minute would impose: both sides get a far higher limit.
SANDBOX_RATE_LIMIT = 100_000
LOG_TAIL_LINES = 40


def log(message: str) -> None:
    """Progress on stderr; the report goes to stdout."""
    print(f"demo: {message}", file=sys.stderr, flush=True)


# --- arguments and source -------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo.sh",
        description=(
            "Sync Claude Enterprise analytics into DuckDB with Meltano and print a report. "
            f"Uses the real API when {API_KEY_ENV} is set, else a local sandbox."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sandbox", action="store_true", help="use the local sandbox")
    source.add_argument("--api", action="store_true", help=f"use the real API ({API_KEY_ENV})")
    parser.add_argument("--days", type=int, default=30, help="days to sync (default 30)")
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        help="last day to sync, YYYY-MM-DD (default: up to the latest data)",
    )
    parser.add_argument("--members", type=int, default=40, help="sandbox organization size")
    parser.add_argument("--seed", type=int, default=7, help="sandbox data seed")
    parser.add_argument("--output", type=Path, help="DuckDB file (default under output/)")
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="real API: ignore the saved state and sync the whole period again",
    )
    parser.add_argument(
        "--install-only",
        action="store_true",
        help="install every plugin of meltano.yml and stop (CI, before the e2e tests)",
    )
    parser.add_argument("--project", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def choose_source(args: argparse.Namespace, env: dict[str, str]) -> str:
    """``api`` or ``sandbox``, logged with the reason (never the key)."""
    has_key = bool(env.get(API_KEY_ENV, "").strip())
    if args.api:
        if not has_key:
            log(f"--api needs {API_KEY_ENV} in the environment")
            raise SystemExit(2)
        log(f"source: the real Claude Enterprise Analytics API (--api; key from {API_KEY_ENV})")
        return "api"
    if args.sandbox:
        reason = f"--sandbox; {API_KEY_ENV} is ignored" if has_key else "--sandbox"
        log(f"source: the local sandbox, synthetic data ({reason})")
        return "sandbox"
    if has_key:
        log(f"source: the real Claude Enterprise Analytics API ({API_KEY_ENV} is set)")
        return "api"
    log(f"source: the local sandbox, synthetic data ({API_KEY_ENV} is not set)")
    return "sandbox"


# --- processes ------------------------------------------------------------------------


@contextlib.contextmanager
def sandbox(bin_dir: Path, *, members: int, seed: int) -> Iterator[str]:
    """Start ``tap-claude-enterprise-sandbox`` on a free loopback port; yield its URL."""
    process = subprocess.Popen(
        [
            str(bin_dir / "tap-claude-enterprise-sandbox"),
            "--host=127.0.0.1",
            "--port=0",
            f"--members={members}",
            f"--seed={seed}",
            f"--rate-limit={SANDBOX_RATE_LIMIT}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            msg = "the sandbox did not start"
            raise RuntimeError(msg)
        info = json.loads(line)
        log(
            f"sandbox at {info['url']}: {members} members (seed {seed}), "
            f"latest day {info['latest_day']}"
        )
        yield str(info["url"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def redact(text: str, secret: str | None) -> str:
    """Hide the key should any output ever contain it."""
    return text.replace(secret, "<redacted>") if secret else text


def run_meltano(
    bin_dir: Path,
    args: list[str],
    *,
    project: Path,
    env: dict[str, str],
    log_file: Path,
    secret: str | None,
) -> float:
    """Run one meltano command with its output in ``log_file``; return its duration."""
    started = time.monotonic()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"\n$ meltano {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(
            [str(bin_dir / "meltano"), *args],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        print(redact("\n".join(tail[-LOG_TAIL_LINES:]), secret), file=sys.stderr)
        log(f"`meltano {' '.join(args)}` failed (exit {result.returncode}); log: {log_file}")
        raise SystemExit(1)
    return elapsed


def meltano_env(source: str, *, start_date: dt.date, db_file: Path) -> dict[str, str]:
    """The environment Meltano runs in.

    The sandbox run drops every ``TAP_CLAUDE_ENTERPRISE_*`` variable, so that neither a
    real key nor a stray setting can follow the synthetic run.
    """
    env = dict(os.environ)
    if source == "sandbox":
        env = {k: v for k, v in env.items() if not k.startswith(TAP_ENV_PREFIX)}
        env[f"{TAP_ENV_PREFIX}MAX_REQUESTS_PER_MINUTE"] = str(SANDBOX_RATE_LIMIT)
    env.pop("MELTANO_ENVIRONMENT", None)
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.setdefault(f"{TAP_ENV_PREFIX}START_DATE", start_date.isoformat())
    env["TARGET_DUCKDB_FILEPATH"] = str(db_file)
    env["TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA"] = SCHEMA
    # dbt builds the models in the same file, reading the schema the loader wrote.
    env["DBT_DUCKDB_PATH"] = str(db_file)
    env["DBT_DUCKDB_SCHEMA"] = MARTS_SCHEMA
    env["CLAUDE_ENTERPRISE_SOURCE_SCHEMA"] = SCHEMA
    # Members' spend only never exceeds the org's: the sandbox, like a real organization,
    # has API-key and service-account traffic that the per-user reports leave out.
    env["CLAUDE_ENTERPRISE_RECONCILE_EXACT"] = "false"
    return env


# --- the report -----------------------------------------------------------------------


@dataclass
class Report:
    """What the demo prints, read back from the DuckDB file."""

    tables: dict[str, int] = field(default_factory=dict)
    daily_active: list[tuple[dt.date, int, int]] = field(default_factory=list)
    top_members: list[tuple[str, str, str, Decimal]] = field(default_factory=list)
    spend_by_model_product: list[tuple[str, str, Decimal]] = field(default_factory=list)
    total_spend: Decimal = Decimal(0)
    member_spend: Decimal = Decimal(0)


def read_report(db_file: Path) -> Report:
    """Query the loaded tables. Money is exact decimal text (duckdb-compat): cast, sum.

    A stream with no rows in the period has no table; its section stays empty.
    """
    import duckdb  # the demo venv has it; imported late so --help works without it

    report = Report()
    usd = "CAST(amount_usd AS DECIMAL(38, 8))"
    with duckdb.connect(str(db_file), read_only=True) as con:

        def rows(table: str, sql: str) -> list[tuple]:
            if table not in report.tables:
                return []
            return con.execute(sql.format(t=f"{SCHEMA}.{table}", usd=usd)).fetchall()

        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "ORDER BY table_name",
            [SCHEMA],
        ).fetchall():
            count = con.execute(f'SELECT count(*) FROM {SCHEMA}."{table}"').fetchone()
            report.tables[table] = int(count[0]) if count else 0
        report.daily_active = [
            (row[0], int(row[1] or 0), int(row[2] or 0))
            for row in rows(
                "summaries",
                "SELECT CAST(date AS DATE), daily_active_user_count, assigned_seat_count "
                "FROM {t} ORDER BY 1",
            )
        ]
        report.top_members = [
            (str(row[0]), str(row[1] or ""), str(row[2] or ""), Decimal(row[3] or 0))
            for row in rows(
                "user_cost_report",
                "SELECT user_id, arg_max(actor__name, starting_at), "
                "arg_max(actor__email_address, starting_at), sum({usd}) AS spend "
                "FROM {t} GROUP BY user_id ORDER BY spend DESC NULLS LAST, user_id LIMIT 5",
            )
        ]
        report.spend_by_model_product = [
            (str(row[0]), str(row[1]), Decimal(row[2] or 0))
            for row in rows(
                "cost_report",
                "SELECT model, product, sum({usd}) AS spend FROM {t} "
                "GROUP BY model, product ORDER BY spend DESC NULLS LAST, model, product",
            )
        ]
        for attr, table in (("total_spend", "cost_report"), ("member_spend", "user_cost_report")):
            total = rows(table, "SELECT coalesce(sum({usd}), 0) FROM {t}")
            setattr(report, attr, Decimal(total[0][0]) if total else Decimal(0))
    return report


def dollars(value: Decimal) -> str:
    """Every digit the API gave (no rounding), with thousands separators."""
    return f"${value:,f}"


def format_report(report: Report, *, source: str, db_file: Path) -> str:
    """The printed report."""
    lines = [
        "",
        f"Claude Enterprise analytics ({'real API' if source == 'api' else 'sandbox'}), "
        f"read back from {db_file}",
        "",
        "Tables: " + ", ".join(f"{name} ({rows})" for name, rows in report.tables.items()),
        "",
        "Daily active users",
    ]
    peak = max((dau for _, dau, _ in report.daily_active), default=0) or 1
    for day, dau, seats in report.daily_active:
        bar = "#" * round(30 * dau / peak)
        lines.append(f"  {day} {day:%a}  {dau:4d} of {seats:4d} seats  {bar}")
    if report.daily_active:
        values = [dau for _, dau, _ in report.daily_active]
        average = Decimal(sum(values)) / len(values)
        lines.append(
            f"  {len(values)} days: average {average:.1f}, peak {max(values)}, low {min(values)}"
        )
    lines += ["", "Top 5 members by spend"]
    for rank, (user_id, name, email, spend) in enumerate(report.top_members, start=1):
        who = f"{name} <{email}>" if email else name or "(no name)"
        lines.append(f"  {rank}. {dollars(spend):>24}  {who}  {user_id}")
    lines += ["", "Spend by model and product"]
    width = max((len(model) for model, _, _ in report.spend_by_model_product), default=5)
    for model, product, spend in report.spend_by_model_product:
        lines.append(f"  {model:<{width}}  {product:<18} {dollars(spend):>24}")
    lines.append(f"  {'total':<{width}}  {'':<18} {dollars(report.total_spend):>24}")
    lines += [
        "",
        f"Spend over all members (user_cost_report): {dollars(report.member_spend)}",
        "",
        f"Query it yourself: python -c \"import duckdb; duckdb.connect('{db_file}')"
        f".sql('SELECT * FROM {SCHEMA}.cost_report LIMIT 5').show()\"",
    ]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the demo."""
    args = parse_args(argv)
    project = args.project.resolve()
    bin_dir = Path(sys.executable).parent
    log_file = project / "output" / "demo-meltano.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(f"# scripts/demo.sh {' '.join(argv or sys.argv[1:])}\n")
    base_env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    base_env.pop("MELTANO_ENVIRONMENT", None)

    if args.install_only:
        took = run_meltano(
            bin_dir, ["install"], project=project, env=base_env, log_file=log_file, secret=None
        )
        log(f"meltano install (all plugins): {took:.1f} s")
        return 0

    source = choose_source(args, dict(os.environ))
    secret = os.environ.get(API_KEY_ENV) if source == "api" else None
    today = dt.datetime.now(tz=dt.timezone.utc).date()
    if args.end_date:
        start_date = args.end_date - dt.timedelta(days=args.days - 1)
    else:  # engagement data ends yesterday: `days` whole days, and today's partial spend
        start_date = today - dt.timedelta(days=args.days)
    # Synthetic and real data never share a file.
    default_name = f"claude_enterprise{'' if source == 'api' else '_sandbox'}.duckdb"
    db_file = (args.output or project / "output" / default_name).resolve()
    db_file.parent.mkdir(parents=True, exist_ok=True)

    took_install = run_meltano(
        bin_dir,
        ["install", *DEMO_PLUGINS],
        project=project,
        env=base_env,
        log_file=log_file,
        secret=secret,
    )
    log(f"meltano install: {took_install:.1f} s")

    env = meltano_env(source, start_date=start_date, db_file=db_file)
    if args.end_date:
        env[f"{TAP_ENV_PREFIX}END_DATE"] = args.end_date.isoformat()
    with contextlib.ExitStack() as stack:
        if source == "sandbox":
            url = stack.enter_context(sandbox(bin_dir, members=args.members, seed=args.seed))
            env[f"{TAP_ENV_PREFIX}API_URL"] = url
            # A fresh file and no saved state: the demo shows the same numbers every time.
            db_file.unlink(missing_ok=True)
            command = ["--environment=dev", "run", "--full-refresh", *PIPELINE]
        else:
            url = env.get(f"{TAP_ENV_PREFIX}API_URL", "https://api.anthropic.com")
            log(f"API URL {url}; the key is not shown; incremental (state kept by Meltano)")
            refresh = ["--full-refresh"] if args.full_refresh else []
            command = ["--environment=prod", "run", *refresh, *PIPELINE]
        log(
            f"meltano {' '.join(command)}: {env[f'{TAP_ENV_PREFIX}START_DATE']} onward "
            f"into {db_file} (log: {log_file})"
        )
        took_run = run_meltano(
            bin_dir, command, project=project, env=env, log_file=log_file, secret=secret
        )
    log(f"meltano run: {took_run:.1f} s")

    report = read_report(db_file)
    print(format_report(report, source=source, db_file=db_file))
    html_file = write_html_report(project, db_file, source=source)
    print(f"\nModels (dbt, built and tested): schema {MARTS_SCHEMA} of {db_file}")
    print(f"HTML report with charts: {html_file}")
    return 0


def write_html_report(project: Path, db_file: Path, *, source: str) -> Path:
    """The self-contained HTML report from the marts, beside the DuckDB file."""
    import duckdb

    sys.path.insert(0, str(project))  # the report package lives in the checkout
    from report.build import build_report, plotly_bundle, read_marts, render_html

    started = time.monotonic()
    with duckdb.connect(str(db_file), read_only=True) as con:
        data = read_marts(con, MARTS_SCHEMA)
    now = dt.datetime.now(tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    label = "real API" if source == "api" else "sandbox, synthetic organization"
    page = render_html(
        build_report(data),
        data,
        plotly_js=plotly_bundle(),
        title="Claude Enterprise: adoption and spend",
        generated=f"{label}; generated {now} from {db_file.name}",
    )
    html_file = db_file.with_name(db_file.stem + "_report.html")
    html_file.write_text(page, encoding="utf-8")
    log(f"HTML report: {time.monotonic() - started:.1f} s")
    return html_file


if __name__ == "__main__":
    sys.exit(main())

"""``python -m report``: write the HTML report from the marts in DuckDB or PostgreSQL."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from report.build import build_report, plotly_bundle, read_marts, render_html


def main(argv: list[str] | None = None) -> int:
    """Read the marts, write the page, print its path."""
    parser = argparse.ArgumentParser(prog="python -m report", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--duckdb", type=Path, help="DuckDB file the models were built in")
    source.add_argument("--postgres", help='libpq connection string, e.g. "host=... dbname=..."')
    parser.add_argument(
        "--schema", default="analytics", help="schema of the marts (default analytics)"
    )
    parser.add_argument("--output", type=Path, default=Path("output/claude_enterprise_report.html"))
    parser.add_argument("--title", default="Claude Enterprise: adoption and spend")
    args = parser.parse_args(argv)

    if args.duckdb:
        import duckdb

        connection = duckdb.connect(str(args.duckdb), read_only=True)
        source_name = str(args.duckdb)
    else:
        import psycopg

        connection = psycopg.connect(args.postgres)
        source_name = "PostgreSQL"
    try:
        data = read_marts(connection, args.schema)
    finally:
        connection.close()
    now = dt.datetime.now(tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = render_html(
        build_report(data),
        data,
        plotly_js=plotly_bundle(),
        title=args.title,
        generated=f"Generated {now} from {source_name} (schema {args.schema})",
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    print(args.output.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())

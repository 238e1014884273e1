"""The HTML report: one self-contained page of charts built from the dbt marts.

``python -m report --duckdb output/claude_enterprise_sandbox.duckdb`` (or ``--postgres
"host=... dbname=..."``) writes ``output/claude_enterprise_report.html``. The page inlines
plotly.js (from the ``plotly`` package), so it opens from disk with no server or network.
"""

from report.build import Chart, ReportData, build_report, read_marts, render_html

__all__ = ["Chart", "ReportData", "build_report", "read_marts", "render_html"]

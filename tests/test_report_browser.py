"""The HTML report in a real headless Chromium: every chart drawn with its data, no errors.

The report is built from the marts of ``dbt_duckdb_build`` (the sandbox through Meltano and
dbt), opened from disk as a user opens it, and driven by Playwright with the system's
Chromium (Debian's ``chromium`` package; Playwright cannot download its own browser
here). The screenshot is kept in output/test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tests.dbt_fixtures import MARTS, DbtBuild

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "output" / "test-artifacts"
CHART_IDS = [
    "adoption", "utilization", "product_usage", "spend_by_model", "spend_by_product",
    "month_to_date", "top_spenders", "budgets", "spend_limits", "anomalies",
]  # fmt: skip


def chromium_path() -> str:
    """The system's Chromium, or skip (CI must have it: .ci/run installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is not installed (apt-get install chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def report_file(dbt_duckdb_build: DbtBuild, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m report --duckdb ...` on the built marts."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("report") / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "report", "--duckdb", str(dbt_duckdb_build.db_file),
         "--schema", MARTS, "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve())
    return out


@pytest.mark.e2e
def test_report_is_one_self_contained_file(report_file: Path, dbt_duckdb_build: DbtBuild) -> None:
    """No external script, stylesheet or font: it opens from disk, offline."""
    import duckdb

    page = report_file.read_text(encoding="utf-8")
    assert "<script src=" not in page
    assert "<link " not in page
    assert "https://" not in page.split("</head>", 1)[1]  # no remote resource in the body
    assert "Plotly.newPlot" in page
    assert len(page) > 1_000_000  # plotly.js inlined
    # Tables carry exact amounts (every digit), e.g. this month's organization budget.
    with duckdb.connect(str(dbt_duckdb_build.db_file), read_only=True) as con:
        (spent,) = con.execute(
            f"select spent_usd from {MARTS}.budget_status where scope = 'organization' "
            f"order by spend_month desc limit 1"
        ).fetchone()
    assert f"${Decimal(spent):,f}" in page


@pytest.mark.e2e
def test_every_chart_renders_its_data_in_chromium(
    report_file: Path, dbt_duckdb_build: DbtBuild
) -> None:
    """Each chart is drawn (SVG), holds all its points, the spend-limit tables list the
    marts' rows, and the page logs no error."""
    import duckdb
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(report_file.as_uri(), wait_until="load")
            page.evaluate("window.REPORT_RENDERED")
            charts = page.evaluate(
                """() => Array.from(document.querySelectorAll('.chart')).map(el => ({
                    id: el.dataset.chart,
                    expected: Number(el.dataset.points),
                    traces: (el.data || []).length,
                    plotted: (el.data || []).reduce(
                        (n, t) => n + ((t.x && t.x.length) || (t.y && t.y.length) || 0), 0),
                    svg: el.querySelectorAll('svg.main-svg').length,
                    drawn: el.querySelectorAll('.point, .js-line').length,
                    width: el.getBoundingClientRect().width,
                }))"""
            )
            tables = page.evaluate(
                """() => Object.fromEntries(['spend-limits', 'limit-requests'].map(id => [id,
                    Array.from(document.querySelectorAll('#' + id + ' tbody tr'))
                        .filter(tr => !tr.classList.contains('empty'))
                        .filter(tr => tr.getBoundingClientRect().height > 0).length]))"""
            )
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert not problems, problems
    assert [c["id"] for c in charts] == CHART_IDS
    for chart in charts:
        assert chart["svg"] > 0, chart
        assert chart["traces"] > 0, chart
        assert chart["plotted"] == chart["expected"] > 0, chart
        assert chart["drawn"] > 0, chart
        assert chart["width"] > 300, chart
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
    # The members near or over their limit and the pending requests, one visible row each.
    with duckdb.connect(str(dbt_duckdb_build.db_file), read_only=True) as con:
        ((flagged,),) = con.execute(
            f"select count(*) from {MARTS}.spend_limit_status "
            "where limit_status in ('near', 'over')"
        ).fetchall()
        ((pending,),) = con.execute(
            f"select count(*) from {MARTS}.spend_limit_requests_pending"
        ).fetchall()
    assert tables == {"spend-limits": flagged, "limit-requests": pending}
    assert flagged > 0
    assert pending > 0

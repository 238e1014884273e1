"""The report builder on hand-made mart rows (no database, no browser): fast checks."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

from report.build import ReportData, build_report, dollars, render_html

DAY = dt.date(2026, 11, 3)
EXACT = Decimal("122963665.23475315")  # more digits than a float holds


def limit_row(
    name: str, status: str, limit: Decimal | None, spent: Decimal, pct: Decimal | None
) -> dict:
    """A spend_limit_status row."""
    return {
        "user_id": f"user_{name}",
        "actor_name": name,
        "actor_email_address": None,
        "read_on": DAY,
        "period": "monthly",
        "source_type": "organization",
        "source_id": None,
        "is_unlimited": limit is None,
        "limit_usd": limit,
        "period_to_date_spend_usd": spent,
        "pct_used": pct,
        "limit_status": status,
    }


def sample() -> ReportData:
    adoption = [
        {
            "activity_date": DAY - dt.timedelta(days=n),
            "daily_active_users": 10 + n,
            "weekly_active_users": 20,
            "monthly_active_users": 25,
            "assigned_seats": 30,
            "inactive_seats": 5,
            "daily_utilization_pct": Decimal("33.33"),
            "weekly_utilization_pct": Decimal("66.67"),
            "monthly_utilization_pct": Decimal("83.33"),
        }
        for n in (2, 1, 0)
    ]
    spend = [
        {
            "spend_date": DAY,
            "product": p,
            "model": m,
            "amount_usd": Decimal("1.5"),
            "list_amount_usd": Decimal("2"),
        }
        for p in ("chat", "claude_code")
        for m in ("claude-opus-4-6", "claude-sonnet-4-6")
    ]
    return ReportData(
        rows={
            "adoption": adoption,
            "product_usage": [
                {
                    "usage_date": DAY,
                    "product": "chat",
                    "active_members": 3,
                    "requests": 9,
                    "tokens": 1000,
                    "amount_usd": Decimal("1"),
                },
            ],
            "spend_model_product": spend,
            "spend_org": [
                {
                    "spend_date": DAY,
                    "spend_month": DAY.replace(day=1),
                    "amount_usd": EXACT,
                    "list_amount_usd": EXACT,
                    "discount_pct": Decimal("0"),
                    "month_to_date_usd": EXACT,
                    "projected_month_end_usd": Decimal("1229636652.35"),
                    "non_seat_amount_usd": Decimal("0"),
                },
            ],
            "top_spenders": [
                {
                    "spend_month": DAY.replace(day=1),
                    "spend_rank": 1,
                    "user_id": "user_1",
                    "display_name": "<script>alert(1)</script>",
                    "email_address": None,
                    "amount_usd": EXACT,
                    "list_amount_usd": EXACT,
                    "share_of_members_pct": 100,
                    "top_product": "chat",
                    "top_model": "claude-opus-4-6",
                },
            ],
            "budgets": [
                {
                    "label": "Org",
                    "scope": "organization",
                    "scope_id": "",
                    "spend_month": DAY.replace(day=1),
                    "as_of_date": DAY,
                    "monthly_budget_usd": Decimal("100"),
                    "spent_usd": EXACT,
                    "pct_used": Decimal("99.99"),
                    "projected_month_end_usd": Decimal("1"),
                    "projected_pct_used": Decimal("1"),
                    "overrun_date": DAY,
                    "projected_overrun_date": DAY,
                    "status": "over_budget",
                },
            ],
            "spend_limits": [
                limit_row("over_zero", "over", Decimal("0"), Decimal("0.25"), None),
                limit_row("near", "near", Decimal("500"), EXACT / 1000000, Decimal("98.36")),
                limit_row("fine", "ok", Decimal("500"), Decimal("1"), Decimal("0.20")),
                limit_row("free", "unlimited", None, Decimal("900"), None),
            ],
            "limit_requests": [
                {
                    "request_id": "slir_1",
                    "actor_name": "Nadia <b>",
                    "actor_email_address": None,
                    "user_id": "user_n",
                    "period": "monthly",
                    "created_at": dt.datetime(2026, 11, 2, 9),
                    "is_unlimited": False,
                    "current_limit_usd": Decimal("500"),
                    "period_to_date_spend_usd": Decimal("17.07219"),
                    "pct_used": Decimal("3.41"),
                },
            ],
            "anomalies": [],
            "members": [{"activity_status": "active_7d", "members": 3, "inactive": 0}],
        }
    )


def test_charts_carry_every_row_as_a_point():
    charts = {c.chart_id: c for c in build_report(sample())}
    assert len(charts) == 10
    assert charts["adoption"].points == 4 * 3  # DAU, WAU, MAU and seats, three days
    assert charts["spend_by_model"].points == 2  # two models on one day
    assert charts["spend_by_product"].points == 2
    assert charts["top_spenders"].points == 1
    assert charts["anomalies"].points == 0  # none found: an empty chart, not an error


def test_page_is_self_contained_exact_and_escaped():
    data = sample()
    page = render_html(
        build_report(data), data, plotly_js="/* plotly */", title="T & <b>", generated="now"
    )
    # Tables keep every digit; the chart data is the same value, as a number.
    assert dollars(EXACT, None) == "$122,963,665.23475315"
    assert "$122,963,665.23475315" in page
    figures = json.loads(re.search(r"const FIGURES = (\{.*\});", page).group(1))
    assert figures["month_to_date"]["data"][0]["y"] == [float(EXACT)]
    # Names from the data never become markup.
    assert "<script>alert(1)</script>" not in page
    assert "T &amp; &lt;b&gt;" in page
    assert page.count('class="chart"') == 10
    assert "/* plotly */" in page
    assert "<script src=" not in page


def partial_sample() -> ReportData:
    """Data that starts on the 20th: the month so far is partial, with no projection."""
    data = sample()
    start = DAY.replace(day=1) + dt.timedelta(days=19)
    day = start + dt.timedelta(days=5)
    data.rows["spend_org"] = [
        {
            "spend_date": start + dt.timedelta(days=n),
            "spend_month": DAY.replace(day=1),
            "amount_usd": EXACT,
            "list_amount_usd": EXACT,
            "discount_pct": Decimal("0"),
            "month_to_date_usd": EXACT * (n + 1),
            "projected_month_end_usd": None,
            "non_seat_amount_usd": Decimal("0"),
            "is_partial_month": True,
            "month_covered_from": start,
        }
        for n in range(6)
    ]
    data.rows["budgets"][0].update(
        as_of_date=day,
        projected_month_end_usd=None,
        projected_pct_used=None,
        overrun_date=None,
        projected_overrun_date=None,
        status="partial_month",
        is_partial_month=True,
        month_covered_from=start,
    )
    return data


def test_a_partial_month_is_marked_and_not_projected():
    data = partial_sample()
    charts = {c.chart_id: c for c in build_report(data)}
    page = render_html(list(charts.values()), data, plotly_js="", title="T", generated="now")
    figures = json.loads(re.search(r"const FIGURES = (\{.*\});", page).group(1))
    # The spend since the data's first day is drawn; the projection line has no point.
    assert figures["month_to_date"]["data"][1]["y"] == [None] * 6
    assert "partial month, from 2026-11-20" in charts["month_to_date"].question
    assert "partial month, from 2026-11-20" in charts["top_spenders"].title
    # The headline says which days the spend covers, and projects nothing.
    assert "Spend 2026-11-20 to 2026-11-25 (partial month, from 2026-11-20)" in page
    assert "Projected month end (none for a partial month)" in page
    assert "Spend this month" not in page
    # The budget table marks the month; no projection, no "on track".
    assert "2026-11 (partial month, from 2026-11-20)" in page
    assert "partial month</td>" in page
    assert "on track" not in page


def test_a_month_from_its_1st_is_reported_as_before():
    data = sample()
    for row in data["spend_org"] + data["budgets"]:
        row.update(is_partial_month=False, month_covered_from=DAY.replace(day=1))
    page = render_html(build_report(data), data, plotly_js="", title="T", generated="now")
    assert "partial month" not in page
    assert f"Spend this month (to {DAY})" in page
    assert "$1,229,636,652.35" in page  # the projection


def test_spend_limits_show_who_is_near_or_over_and_the_request_queue():
    """The chart draws the members with a finite limit; the table lists only near/over
    ones, exact; 0 is "included usage only", never "unlimited"; the queue is listed."""
    data = sample()
    charts = {c.chart_id: c for c in build_report(data)}
    chart = charts["spend_limits"]
    assert chart.points == 2 * 3  # spent and limit of the three members with a limit
    assert "free" not in chart.data[0]["y"]  # unlimited: no limit to be near
    page = render_html(build_report(data), data, plotly_js="", title="T", generated="now")
    table = re.search(r'<table id="spend-limits">.*?</table>', page).group(0)
    assert table.count("<tr>") == 3  # header, over, near
    assert "over_zero" in table
    assert "$0 (included usage only)" in table
    assert f"${EXACT / 1000000:,f}" in table  # exact spend
    assert "fine" not in table
    assert "free" not in table
    queue = re.search(r'<table id="limit-requests">.*?</table>', page).group(0)
    assert "Nadia &lt;b&gt;" in queue
    assert "$17.07219" in queue
    # Nobody near a limit and no request: the tables say so instead of staying blank.
    data.rows["spend_limits"] = [r for r in data["spend_limits"] if r["limit_status"] == "ok"]
    data.rows["limit_requests"] = []
    page = render_html(build_report(data), data, plotly_js="", title="T", generated="now")
    assert "No member is near or over their spend limit." in page
    assert "No pending request for a higher spend limit." in page

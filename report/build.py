"""Read the marts, turn them into plotly.js figures, and write one self-contained page."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import Any

from report.queries import QUERIES

TEMPLATE = Path(__file__).with_name("template.html")
NONE = "\N{EN DASH}"  # shown for a missing value
Row = dict[str, Any]
# Colours that stay apart for the colour-blind (Okabe-Ito), then plotly's defaults.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


@dataclass
class ReportData:
    """The rows the report is drawn from, one list per query in ``QUERIES``."""

    rows: dict[str, list[Row]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> list[Row]:
        return self.rows.get(name, [])


@dataclass
class Chart:
    """One chart: a plotly.js figure and the words around it."""

    chart_id: str
    title: str
    question: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]

    @property
    def points(self) -> int:
        """Data points over all traces (the browser test expects the same count drawn)."""
        return sum(len(trace.get("x") or trace.get("y") or []) for trace in self.data)


def read_marts(connection: Any, schema: str = "analytics") -> ReportData:
    """Run every query on a DB-API connection (duckdb or psycopg)."""
    data = ReportData()
    for name, sql in QUERIES.items():
        cursor = connection.cursor()
        cursor.execute(sql.format(schema=schema))
        columns = [column[0] for column in cursor.description]
        data.rows[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        cursor.close()
    return data


# --- formatting ---------------------------------------------------------------------


def dollars(value: Decimal | float | int | None, places: int | None = 2) -> str:
    """``$1,234.56``; ``places=None`` keeps every digit (exact amounts in tables)."""
    if value is None:
        return NONE
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if places is None:
        return f"${amount:,f}"
    return f"${amount:,.{places}f}"


def partial_from(row: Row) -> str | None:
    """The words "partial month, from <day>" when the row's month is partial (the data
    starts after its 1st: its spend covers only the days synced, no projection), else None."""
    if not row.get("is_partial_month"):
        return None
    return f"partial month, from {row.get('month_covered_from')}"


def _plain(value: Any) -> Any:
    """JSON for plotly.js: numbers as numbers (a chart is a picture, tables stay exact)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    msg = f"not JSON serializable: {type(value).__name__}"
    raise TypeError(msg)


def _base_layout(y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 64, "r": 24, "t": 16, "b": 48},
        "height": 340,
        "legend": {"orientation": "h", "y": -0.18},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "gridcolor": "#eee"},
        "xaxis": {"gridcolor": "#eee"},
        "plot_bgcolor": "#fff",
        "paper_bgcolor": "#fff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "hovermode": "x unified",
        "colorway": PALETTE,
    }
    layout.update(extra)
    return layout


def _series(rows: Iterable[Row], key: Callable[[Row], str], x: str, y: str) -> dict[str, tuple]:
    grouped: dict[str, dict[Any, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        grouped[key(row)][row[x]] += Decimal(str(row[y] or 0))
    out = {}
    for name in sorted(grouped, key=lambda n: -sum(grouped[n].values())):
        xs = sorted(grouped[name])
        out[name] = (xs, [grouped[name][v] for v in xs])
    return out


# --- the charts ---------------------------------------------------------------------


def _line_traces(
    rows: list[dict[str, Any]], days: list[Any], series: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """One line with markers per (label, column) over ``days``."""
    return [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": label,
            "x": days,
            "y": [r[column] for r in rows],
        }
        for label, column in series
    ]


def adoption_chart(data: ReportData) -> Chart:
    rows = data["adoption"]
    days = [r["activity_date"] for r in rows]
    traces = _line_traces(
        rows,
        days,
        (
            ("Daily active", "daily_active_users"),
            ("Weekly active", "weekly_active_users"),
            ("Monthly active", "monthly_active_users"),
        ),
    )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Assigned seats",
            "x": days,
            "y": [r["assigned_seats"] for r in rows],
            "line": {"dash": "dash", "color": "#777"},
        }
    )
    return Chart(
        "adoption",
        "Adoption over time",
        "How many members use Claude each day, week and month, against the seats assigned?",
        traces,
        _base_layout("members"),
    )


def utilization_chart(data: ReportData) -> Chart:
    rows = data["adoption"]
    days = [r["activity_date"] for r in rows]
    traces = _line_traces(
        rows,
        days,
        (
            ("Daily utilization %", "daily_utilization_pct"),
            ("Weekly utilization %", "weekly_utilization_pct"),
            ("Monthly utilization %", "monthly_utilization_pct"),
        ),
    )
    traces.append(
        {
            "type": "bar",
            "name": "Seats without a monthly active user",
            "x": days,
            "y": [r["inactive_seats"] for r in rows],
            "yaxis": "y2",
            "opacity": 0.35,
            "marker": {"color": "#D55E00"},
        }
    )
    layout = _base_layout(
        "% of assigned seats",
        yaxis2={
            "title": {"text": "inactive seats"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
    )
    layout["yaxis"]["range"] = [0, 105]
    # Idle seats as low bars along the bottom third, under the utilization lines.
    idle = max((int(r["inactive_seats"] or 0) for r in rows), default=0)
    layout["yaxis2"]["range"] = [0, max(3 * idle, 1)]
    return Chart(
        "utilization",
        "Seat utilization",
        "What share of the seats paid for is used, and how many sit idle?",
        traces,
        layout,
    )


def product_usage_chart(data: ReportData) -> Chart:
    series = _series(data["product_usage"], lambda r: r["product"], "usage_date", "tokens")
    traces = [
        {"type": "bar", "name": name, "x": xs, "y": ys}
        for name, (xs, ys) in series.items()
        if any(ys)
    ]
    return Chart(
        "product_usage",
        "Usage by product",
        "Which products does the organization use, in tokens per day?",
        traces,
        _base_layout("tokens", barmode="stack"),
    )


def spend_by_model_chart(data: ReportData) -> Chart:
    series = _series(data["spend_model_product"], lambda r: r["model"], "spend_date", "amount_usd")
    traces = [{"type": "bar", "name": name, "x": xs, "y": ys} for name, (xs, ys) in series.items()]
    return Chart(
        "spend_by_model",
        "Spend over time by model",
        "Where does the money go, model by model? (USD per day, discounted price)",
        traces,
        _base_layout("USD", barmode="stack"),
    )


def spend_by_product_chart(data: ReportData) -> Chart:
    series = _series(
        data["spend_model_product"], lambda r: r["product"], "spend_date", "amount_usd"
    )
    traces = [{"type": "bar", "name": name, "x": xs, "y": ys} for name, (xs, ys) in series.items()]
    return Chart(
        "spend_by_product",
        "Spend over time by product",
        "Which products does the money go to? (USD per day)",
        traces,
        _base_layout("USD", barmode="stack"),
    )


def month_to_date_chart(data: ReportData) -> Chart:
    rows = data["spend_org"]
    days = [r["spend_date"] for r in rows]
    question = "Where is this month's bill heading? (straight line from the spend so far)"
    partial = next((partial_from(r) for r in rows if partial_from(r)), None)
    if partial:
        # The month the data starts in mid-way: its sums miss the first days, so no
        # projection is drawn for it (the marts leave it NULL).
        question += f" The first month is a {partial}: spend since then, not projected."
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Month to date",
            "x": days,
            "y": [r["month_to_date_usd"] for r in rows],
            "fill": "tozeroy",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Projected month end",
            "x": days,
            "y": [r["projected_month_end_usd"] for r in rows],
            "line": {"dash": "dot"},
        },
    ]
    return Chart(
        "month_to_date",
        "Month to date and month-end projection",
        question,
        traces,
        _base_layout("USD"),
    )


def top_spenders_chart(data: ReportData) -> Chart:
    rows = list(reversed(data["top_spenders"]))
    month = rows[0]["spend_month"] if rows else None
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Spend",
            "x": [r["amount_usd"] for r in rows],
            "y": [f"{r['display_name'] or r['user_id']}" for r in rows],
            "text": [
                f"{dollars(r['amount_usd'])} · {r['top_product']} / {r['top_model']}" for r in rows
            ],
            "textposition": "auto",
            "marker": {"color": PALETTE[0]},
        }
    ]
    layout = _base_layout("", hovermode="closest", showlegend=False)
    layout["xaxis"]["title"] = {"text": "USD"}
    layout["yaxis"] = {"automargin": True}
    title = f"Top spenders, {month:%B %Y}" if isinstance(month, dt.date) else "Top spenders"
    partial = next((partial_from(r) for r in data["spend_org"] if r["spend_month"] == month), None)
    if partial:
        title += f" ({partial})"
    return Chart(
        "top_spenders", title, "Who spent the most this month, and on what?", traces, layout
    )


def budget_chart(data: ReportData) -> Chart:
    rows = list(reversed(data["budgets"]))
    labels = [r["label"] for r in rows]
    colour = {
        "on_track": "#009E73",
        "at_risk": "#E69F00",
        "over_budget": "#D55E00",
        "partial_month": "#999999",
    }
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Used so far (%)",
            "y": labels,
            "x": [r["pct_used"] for r in rows],
            "marker": {"color": [colour.get(r["status"], "#777") for r in rows]},
            "text": [
                f"{dollars(r['spent_usd'])} of {dollars(r['monthly_budget_usd'])}" for r in rows
            ],
            "textposition": "auto",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Projected at month end (%)",
            "y": labels,
            "x": [r["projected_pct_used"] for r in rows],
            "marker": {"symbol": "diamond", "size": 12, "color": "#000"},
        },
    ]
    layout = _base_layout(
        "",
        hovermode="closest",
        shapes=[
            {
                "type": "line",
                "x0": 100,
                "x1": 100,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#D55E00", "dash": "dash"},
            }
        ],
    )
    layout["xaxis"]["title"] = {"text": "% of monthly budget"}
    layout["yaxis"] = {"automargin": True}
    layout["height"] = max(layout["height"], 80 + 22 * len(rows))  # one budget per member
    return Chart(
        "budgets",
        "Budget burn",
        "Which budgets are used up, or will be by the end of the month? (dashed line: 100%)",
        traces,
        layout,
    )


LIMIT_COLOURS = {"over": "#D55E00", "near": "#E69F00", "ok": "#009E73"}
LIMITED_SHOWN = 15  # members on the spend-limit chart, the closest to their limit first


def limit_label(limit: Any, is_unlimited: bool) -> str:
    """A member's limit in words: NULL is unlimited, 0 is included usage only."""
    if is_unlimited:
        return "unlimited"
    if limit is not None and Decimal(str(limit)) == 0:
        return "$0 (included usage only)"
    return dollars(limit)


def spend_limit_chart(data: ReportData) -> Chart:
    """Members with a finite limit, the closest to it first: spent so far vs the limit."""
    rows = [r for r in data["spend_limits"] if not r["is_unlimited"]][:LIMITED_SHOWN]
    rows.reverse()  # plotly draws the first category at the bottom
    names = [r["actor_name"] or r["user_id"] for r in rows]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Spent this period",
            "y": names,
            "x": [r["period_to_date_spend_usd"] for r in rows],
            "marker": {"color": [LIMIT_COLOURS.get(r["limit_status"], "#777") for r in rows]},
            "text": [
                f"{dollars(r['period_to_date_spend_usd'])} of "
                f"{limit_label(r['limit_usd'], r['is_unlimited'])}"
                for r in rows
            ],
            "textposition": "auto",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Spend limit",
            "y": names,
            "x": [r["limit_usd"] for r in rows],
            "marker": {"symbol": "line-ns-open", "size": 18, "color": "#000", "line": {"width": 3}},
        },
    ]
    layout = _base_layout("", hovermode="closest")
    layout["xaxis"]["title"] = {"text": "USD this period"}
    layout["yaxis"] = {"automargin": True}
    return Chart(
        "spend_limits",
        "Spend limits",
        "Who is near (>= 80 %) or over their spend limit? (bars: spent so far, orange near, "
        "red over; tick: the limit)",
        traces,
        layout,
    )


def anomaly_chart(data: ReportData) -> Chart:
    rows = data["anomalies"]
    traces = []
    for kind, symbol in (("member", "circle"), ("model", "square")):
        chosen = [r for r in rows if r["entity_type"] == kind]
        if not chosen:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{kind.title()} spend that day",
                "x": [r["spend_date"] for r in chosen],
                "y": [r["amount_usd"] for r in chosen],
                "text": [r["entity_label"] for r in chosen],
                "marker": {"size": 11, "symbol": symbol, "color": "#D55E00"},
                "hovertemplate": "%{text}: $%{y:,.2f}<extra></extra>",
            }
        )
    if rows:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Usual day (28-day median)",
                "x": [r["spend_date"] for r in rows],
                "y": [r["baseline_median_usd"] for r in rows],
                "text": [r["entity_label"] for r in rows],
                "marker": {
                    "size": 8,
                    "symbol": "line-ew-open",
                    "color": "#0072B2",
                    "line": {"width": 2},
                },
                "hovertemplate": "%{text} usually: $%{y:,.2f}<extra></extra>",
            }
        )
    amounts = [float(r["amount_usd"]) for r in rows if r["amount_usd"]]
    layout = _base_layout("USD that day", hovermode="closest")
    if amounts and max(amounts) > 1000 * max(min(amounts), 1):
        layout["yaxis"]["type"] = "log"
    return Chart(
        "anomalies",
        "Spend anomalies",
        "Which member or model spent far more than its own usual day?",
        traces,
        layout,
    )


CHARTS = (adoption_chart, utilization_chart, product_usage_chart, spend_by_model_chart,
          spend_by_product_chart, month_to_date_chart, top_spenders_chart, budget_chart,
          spend_limit_chart, anomaly_chart)  # fmt: skip


def build_report(data: ReportData) -> list[Chart]:
    """Every chart of the report."""
    return [make(data) for make in CHARTS]


# --- the page -----------------------------------------------------------------------


def _kpis(data: ReportData) -> list[tuple[str, str]]:
    out = []
    if data["adoption"]:
        last = data["adoption"][-1]
        out += [
            (f"Daily active ({last['activity_date']})", f"{last['daily_active_users']}"),
            (
                "Monthly active / seats",
                f"{last['monthly_active_users']} / {last['assigned_seats']}",
            ),
            ("Monthly utilization", f"{last['monthly_utilization_pct']}%"),
        ]
    if data["spend_org"]:
        last = data["spend_org"][-1]
        partial = partial_from(last)
        if partial:
            out += [
                (
                    f"Spend {last['month_covered_from']} to {last['spend_date']} ({partial})",
                    dollars(last["month_to_date_usd"]),
                ),
                ("Projected month end (none for a partial month)", NONE),
            ]
        else:
            out += [
                (f"Spend this month (to {last['spend_date']})", dollars(last["month_to_date_usd"])),
                ("Projected month end", dollars(last["projected_month_end_usd"])),
            ]
    if data["adoption"]:
        idle = data["adoption"][-1]["inactive_seats"]
        out.append(("Seats without a monthly active user", str(idle)))
    if data["spend_limits"]:
        flagged = [r for r in data["spend_limits"] if r["limit_status"] in ("near", "over")]
        out.append(("Members near or over their spend limit", str(len(flagged))))
        out.append(("Pending limit increase requests", str(len(data["limit_requests"]))))
    out.append(("Anomalies", str(len(data["anomalies"]))))
    return out


def _table(
    headers: list[str], rows: list[list[str]], *, table_id: str = "", empty: str = ""
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    if not rows and empty:
        body = f'<tr class="empty"><td colspan="{len(headers)}">{html.escape(empty)}</td></tr>'
    attribute = f' id="{table_id}"' if table_id else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(
    charts: list[Chart], data: ReportData, *, plotly_js: str, title: str, generated: str
) -> str:
    """The whole page; ``plotly_js`` is inlined, so the file needs nothing else."""
    cards = "\n".join(
        f'<section class="card"><h2>{html.escape(c.title)}</h2>'
        f'<p class="q">{html.escape(c.question)}</p>'
        f'<div class="chart" id="chart-{c.chart_id}" data-chart="{c.chart_id}" '
        f'data-points="{c.points}"></div></section>'
        for c in charts
    )
    figures = json.dumps(
        {c.chart_id: {"data": c.data, "layout": c.layout} for c in charts}, default=_plain
    )
    kpis = "".join(
        f'<div class="kpi"><div class="v">{html.escape(v)}</div>'
        f'<div class="k">{html.escape(k)}</div></div>'
        for k, v in _kpis(data)
    )
    budgets = _table(
        [
            "Budget",
            "Scope",
            "Month",
            "Budget",
            "Spent (exact)",
            "Used",
            "Projected",
            "Overrun day",
            "Status",
        ],
        [
            [
                r["label"],
                r["scope"],
                (f"{r['spend_month']:%Y-%m}" if r["spend_month"] else "")
                + (f" ({partial_from(r)})" if partial_from(r) else ""),
                dollars(r["monthly_budget_usd"]),
                dollars(r["spent_usd"], None),
                f"{r['pct_used']}%" if r["pct_used"] is not None else NONE,
                dollars(r["projected_month_end_usd"]),
                str(r["overrun_date"] or r["projected_overrun_date"] or NONE),
                r["status"].replace("_", " "),
            ]
            for r in data["budgets"]
        ],
    )
    anomalies = _table(
        ["Day", "Who / what", "Spent (exact)", "Usual day", "Threshold", "Robust z"],
        [
            [
                str(r["spend_date"]),
                f"{r['entity_label']} ({r['entity_type']})",
                dollars(r["amount_usd"], None),
                dollars(r["baseline_median_usd"]),
                dollars(r["threshold_usd"]),
                str(r["robust_z"]),
            ]
            for r in reversed(data["anomalies"])
        ],
    )
    limits = _table(
        ["Member", "Status", "Spent this period (exact)", "Limit", "Used", "Limit from", "Read"],
        [
            [
                r["actor_name"] or r["user_id"],
                r["limit_status"],
                dollars(r["period_to_date_spend_usd"], None),
                limit_label(r["limit_usd"], r["is_unlimited"]),
                f"{r['pct_used']}%" if r["pct_used"] is not None else NONE,
                " ".join(str(v) for v in (r["source_type"], r["source_id"]) if v),
                str(r["read_on"]),
            ]
            for r in data["spend_limits"]
            if r["limit_status"] in ("near", "over")
        ],
        table_id="spend-limits",
        empty="No member is near or over their spend limit.",
    )
    requests = _table(
        ["Requested", "Member", "Current limit", "Spent this period (exact)", "Used"],
        [
            [
                str(r["created_at"]),
                r["actor_name"] or r["user_id"],
                limit_label(r["current_limit_usd"], r["is_unlimited"]),
                dollars(r["period_to_date_spend_usd"], None),
                f"{r['pct_used']}%" if r["pct_used"] is not None else NONE,
            ]
            for r in data["limit_requests"]
        ],
        table_id="limit-requests",
        empty="No pending request for a higher spend limit.",
    )
    page = Template(TEMPLATE.read_text(encoding="utf-8"))
    return page.substitute(
        title=html.escape(title), generated=html.escape(generated), kpis=kpis, cards=cards,
        budgets=budgets, limits=limits, limit_requests=requests, anomalies=anomalies,
        figures=figures.replace("</", "<\\/"),
        plotly_js=plotly_js.replace("</script", "<\\/script"),
    )  # fmt: skip


def plotly_bundle() -> str:
    """plotly.js, minified, from the installed ``plotly`` package (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()

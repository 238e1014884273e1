"""A new endpoint of an existing family is a table entry, a schema file and sandbox data.

Nothing else is written for it here: no stream class, no route, no test list. The tap
builds its stream from the table, the sandbox serves it from the table and the rows
registry, and a sync lands every row once with a bookmark per day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import ENDPOINTS, Endpoint
from tap_claude_enterprise.sandbox import SandboxServer
from tap_claude_enterprise.sandbox.data import DAILY_ROWS, SyntheticOrg
from tests.helpers import run_tap, small_config

WIDGET_COUNT = 1500  # more than one page of 1000


def widget_rows(org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str) -> list[dict]:
    """Sandbox data: one row per widget, its count depending on the day."""
    del org, latest, shape
    return [{"widget_id": f"w{i:04d}", "uses": day.day * 10_000 + i} for i in range(WIDGET_COUNT)]


@pytest.fixture
def widgets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Endpoint:
    """The table entry and its schema file; the sandbox data joins the registry."""
    schema = {
        "type": "object",
        "properties": {
            "date": {"type": ["string"], "format": "date"},
            "widget_id": {"type": ["string"]},
            "uses": {"type": ["integer", "null"]},
        },
    }
    (tmp_path / "widgets.json").write_text(json.dumps(schema))
    entry = Endpoint(
        name="widgets",
        path="apps/widgets",
        family="daily",
        primary_keys=("date", "widget_id"),
        replication_key="date",
        window="day",
        page_size=1000,
        description="A made-up daily endpoint.",
        schema_path=str(tmp_path / "widgets.json"),
    )
    monkeypatch.setattr(endpoints, "ENDPOINTS", (*ENDPOINTS, entry))
    monkeypatch.setitem(DAILY_ROWS, entry.name, widget_rows)
    return entry


def test_a_made_up_endpoint_syncs_from_the_table_alone(
    widgets: Endpoint, make_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = make_sandbox()
    config = small_config(sandbox, days_back=2)
    run = run_tap(config, select={widgets.name})

    records = run.records[widgets.name]
    first = dt.date.fromisoformat(config["start_date"])
    days = [first + dt.timedelta(days=n) for n in range(3)]
    expected = {
        (day.isoformat(), f"w{i:04d}"): day.day * 10_000 + i
        for day in days
        for i in range(WIDGET_COUNT)
    }
    assert {(r["date"], r["widget_id"]): r["uses"] for r in records} == expected
    assert len(records) == len(expected)  # none twice
    assert run.bookmark(widgets.name) == days[-1].isoformat()
    # Two pages per day at the largest page size, nothing else.
    requests = sandbox.requests_for(widgets.path)
    assert len(requests) == 2 * len(days)
    assert {r["params"]["limit"][0] for r in requests} == {"1000"}

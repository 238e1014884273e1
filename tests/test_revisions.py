"""Revised and fixed data (issue 16, items 3-5).

- Usage and cost re-read from the 1st of the earliest month not yet closed, by the
  tap's clock and the sandbox's, both pinned to a 5th (the sandbox revises by the same
  rule, without the tap's margin);
- ``restate_from`` re-reads named streams from a day, once, leaving the others be;
- a page maximum a 400 names is learned once per run, for every window of ``usage``
  and ``cost``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_claude_enterprise.sandbox import SandboxServer
from tap_claude_enterprise.sandbox.data import SyntheticOrg, first_revisable_day
from tap_claude_enterprise.sandbox.usage_cost import SANDBOX_ADMIN_KEY, UsageCostSettings
from tap_claude_enterprise.streams import engagement as engagement_streams
from tap_claude_enterprise.streams import reports as report_streams
from tap_claude_enterprise.streams import usage_cost as usage_cost_streams
from tap_claude_enterprise.sync import windows
from tap_claude_enterprise.sync.windows import (
    engagement_first_day,
    first_open_day,
    report_bounds,
    revision_start,
)
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import TapRun, days, run_tap, tap_config

D = dt.date
UTC = dt.timezone.utc
REVISED = ("usage_report", "cost_report", "user_usage_report", "user_cost_report", "usage", "cost")
# One model per row keeps every window to one page, so request counts are window counts.
ONE_PAGE = {
    "usage_group_by": ["model"],
    "cost_group_by": ["model"],
    "usage_stream_group_by": ["model"],
    "cost_stream_group_by": ["model"],
}


def T(*args: int) -> dt.datetime:  # noqa: N802 - reads like the datetime it builds
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the rule, as pure date arithmetic ---------------------------------------------------


@pytest.mark.parametrize(
    ("today", "first"),
    [
        (D(2026, 11, 1), D(2026, 10, 1)),
        (D(2026, 11, 5), D(2026, 10, 1)),
        (D(2026, 11, 10), D(2026, 10, 1)),  # "about 7 days" plus the 3-day margin
        (D(2026, 11, 11), D(2026, 11, 1)),
        (D(2026, 11, 30), D(2026, 11, 1)),
        (D(2027, 1, 4), D(2026, 12, 1)),  # across a year
    ],
)
def test_the_earliest_open_month(today, first):
    assert first_open_day(today) == first


@pytest.mark.parametrize(
    ("today", "first"),
    [(D(2026, 11, 7), D(2026, 10, 1)), (D(2026, 11, 8), D(2026, 11, 1))],
)
def test_the_sandbox_revises_until_7_days_after_the_month(today, first):
    assert first_revisable_day(today) == first
    org = SyntheticOrg()
    org.revision = 1
    assert org.cost_bump(first, today) == 1
    assert org.cost_bump(first - dt.timedelta(days=1), today) == 0


def test_report_bounds_reread_from_the_earliest_open_month():
    now = T(2026, 11, 5, 12)

    def bounds(bookmark: dt.datetime, **kw: Any) -> windows.TimeWindow | None:
        kw.setdefault("lookback_days", None)
        return report_bounds(
            start_date=D(2026, 6, 1), end_date=None, bookmark=bookmark, width="1d", now=now, **kw
        )

    assert bounds(T(2026, 11, 5)) == windows.TimeWindow(T(2026, 10, 1), T(2026, 11, 5))
    # A bookmark from a run long ago: the month that run left open is read again.
    assert bounds(T(2026, 9, 20)).start == T(2026, 9, 1)  # type: ignore[union-attr]
    # cost_lookback_days set: that many days, nothing else.
    assert bounds(T(2026, 11, 5), lookback_days=30).start == T(2026, 10, 6)  # type: ignore[union-attr]
    # restate_from: no later than that day, never before start_date.
    restated = bounds(T(2026, 11, 5), restate_from=D(2026, 9, 17))
    assert restated.start == T(2026, 9, 17)  # type: ignore[union-attr]
    assert bounds(T(2026, 11, 5), restate_from=D(2026, 10, 20)).start == T(2026, 10, 1)  # type: ignore[union-attr]
    assert bounds(T(2026, 11, 5), restate_from=D(2026, 1, 2)).start == T(2026, 6, 1)  # type: ignore[union-attr]
    assert revision_start(T(2026, 11, 12), T(2026, 11, 12, 3)) == T(2026, 11, 1)


def test_engagement_first_day_with_restate_from():
    first = engagement_first_day(
        start_date=D(2026, 10, 1),
        bookmark=D(2026, 12, 3),
        lookback_days=3,
        restate_from=D(2026, 11, 17),
    )
    assert first == D(2026, 11, 17)
    later = engagement_first_day(
        start_date=None, bookmark=D(2026, 12, 3), lookback_days=3, restate_from=D(2026, 12, 3)
    )
    assert later == D(2026, 12, 1)  # the lookback already reaches further back


# --- at the 5th of a month, against the sandbox --------------------------------------------


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> Callable[[SandboxServer, dt.datetime], None]:
    """Pin the tap's clock and a sandbox's to one moment: they must agree on "today"."""

    def pin(sandbox: SandboxServer, moment: dt.datetime) -> None:
        def now() -> dt.datetime:
            return moment

        for module in (windows, report_streams, usage_cost_streams, engagement_streams):
            monkeypatch.setattr(module, "utc_now", now)
        monkeypatch.setattr(sandbox, "now", now)

    return pin


def upserted(runs: list[TapRun], stream: str, tap: TapClaudeEnterprise) -> dict[tuple, dict]:
    """What a target upserting on the primary key holds after ``runs``."""
    keys = tap.streams[stream].primary_keys
    table: dict[tuple, dict] = {}
    for run in runs:
        for record in run.records[stream]:
            table[tuple(record[k] for k in keys)] = record
    return table


def starts(sandbox: SandboxServer, stream: str) -> list[str]:
    return [e["params"]["starting_at"][0] for e in sandbox.requests_for(stream)]


@pytest.fixture
def at_the_5th(make_sandbox, pinned) -> tuple[SandboxServer, dict, TapRun]:
    sandbox = make_sandbox(members=4)
    pinned(sandbox, T(2026, 11, 5, 12))
    config = tap_config(sandbox, start_date="2026-09-20", **ONE_PAGE)
    first = run_tap(config, select=set(REVISED))
    sandbox.reset()
    sandbox.revise()
    return sandbox, config, first


def test_at_the_5th_a_revision_of_the_previous_months_1st_is_picked_up(at_the_5th):
    sandbox, config, first = at_the_5th
    second = run_tap(config, state=first.final_state, select=set(REVISED))
    requested = {stream: sorted(starts(sandbox, stream)) for stream in REVISED}
    sandbox.reset()
    fresh = run_tap(config, select=set(REVISED))  # the truth: everything, as served now
    tap = TapClaudeEnterprise(config=config)
    for stream in REVISED:
        # Every revised row arrives in its revised form, and nothing else changes.
        assert upserted([first, second], stream, tap) == upserted([fresh], stream, tap), stream
        assert min(r["starting_at"] for r in second.records[stream]) == "2026-10-01T00:00:00Z"
        # The fewest requests the rule allows: 2026-10-01..11-05 is two windows of a page.
        assert requested[stream] == ["2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"], stream
    for stream in ("cost", "cost_report", "user_cost_report"):
        before = {r["starting_at"]: r["amount"] for r in first.records[stream]}
        after = {r["starting_at"]: r["amount"] for r in second.records[stream]}
        assert after["2026-10-01T00:00:00Z"] != before["2026-10-01T00:00:00Z"], stream


def test_a_fixed_30_day_lookback_misses_the_previous_months_first_days(at_the_5th):
    """The override still works, and shows what the month-close rule is for."""
    sandbox, config, first = at_the_5th
    config = {**config, "cost_lookback_days": 30}
    second = run_tap(config, state=first.final_state, select={"cost"})
    assert sorted(starts(sandbox, "cost"))[0] == "2026-10-06T00:00:00Z"
    sandbox.reset()
    fresh = run_tap(config, select={"cost"})
    tap = TapClaudeEnterprise(config=config)
    held = upserted([first, second], "cost", tap)
    truth = upserted([fresh], "cost", tap)
    stale = {k for k in truth if held[k]["amount"] != truth[k]["amount"]}
    assert stale
    assert {k[0] for k in stale} <= {f"2026-10-0{d}T00:00:00Z" for d in range(1, 6)}


# --- restate_from ------------------------------------------------------------------------------


def test_restate_from_rereads_named_streams_once_and_leaves_the_others(sandbox):
    config = tap_config(sandbox)
    select = {"user_activity", "connectors", "skills"}
    first = run_tap(config, select=select)
    latest = sandbox.latest_day()
    users_from, connectors_from = latest - dt.timedelta(days=12), latest - dt.timedelta(days=10)
    restate = {"user_activity": users_from.isoformat(), "connectors": connectors_from.isoformat()}
    config = {**config, "restate_from": restate}
    sandbox.reset()

    second = run_tap(config, state=first.final_state, select=select)

    tap = TapClaudeEnterprise(config=config)
    for stream, endpoint, since in (
        ("user_activity", "users", users_from),
        ("connectors", "connectors", connectors_from),
        ("skills", "skills", latest - dt.timedelta(days=2)),  # its usual 3-day lookback
    ):
        dates = [e["params"]["date"][0] for e in sandbox.requests_for(endpoint)]
        expected = [d.isoformat() for d in days(since, latest)]
        assert sorted(dates) == expected, stream  # each day once
        key = tap.streams[stream].primary_keys
        keys = [tuple(r[k] for k in key) for r in second.records[stream]]
        assert len(keys) == len(set(keys)), stream  # exactly once per row
        assert min(r["date"] for r in second.records[stream]) == since.isoformat()
    final = second.final_state["bookmarks"]
    assert final["skills"] == first.final_state["bookmarks"]["skills"]
    assert final["user_activity"]["restated_from"] == users_from.isoformat()
    assert final["connectors"]["restated_from"] == connectors_from.isoformat()
    assert "restated_from" not in final["skills"]

    # Left in place, the setting does nothing more: back to the usual lookback.
    sandbox.reset()
    third = run_tap(config, state=second.final_state, select=select)
    for endpoint in ("users", "connectors"):
        dates = sorted(e["params"]["date"][0] for e in sandbox.requests_for(endpoint))
        assert dates[0] == (latest - dt.timedelta(days=2)).isoformat(), endpoint
    assert (
        third.final_state["bookmarks"]["user_activity"]["restated_from"] == users_from.isoformat()
    )


def test_restate_from_a_report_stream(make_sandbox, pinned):
    sandbox = make_sandbox(members=4)
    pinned(sandbox, T(2026, 11, 20, 12))
    config = tap_config(sandbox, start_date="2026-09-01", **ONE_PAGE)
    first = run_tap(config, select={"cost", "usage"})
    sandbox.reset()
    config = {**config, "restate_from": {"cost": "2026-10-20"}}
    run_tap(config, state=first.final_state, select={"cost", "usage"})
    assert sorted(starts(sandbox, "cost"))[0] == "2026-10-20T00:00:00Z"
    assert sorted(starts(sandbox, "usage"))[0] == "2026-11-01T00:00:00Z"  # month-close rule


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"no_such_stream": "2026-11-17"}, "names a stream the tap does not have"),
        ({"user_activity": "17 November"}, "restate_from.user_activity must be a day"),
    ],
)
def test_restate_from_is_validated(sandbox, value, named):
    with pytest.raises(ConfigValidationError) as raised:
        TapClaudeEnterprise(config=tap_config(sandbox, restate_from=value))
    assert named in str(raised.value)
    assert "no_such_stream" not in str(raised.value)


# --- a learned page maximum, once per run -----------------------------------------------------


@pytest.mark.parametrize("names_max", [True, False], ids=["names-max", "silent"])
def test_a_page_maximum_is_learned_once_for_every_window_and_both_streams(make_sandbox, names_max):
    settings = UsageCostSettings(max_limit=500, limit_error_names_max=names_max)
    # Slow answers: without the wait, every window in flight would meet the 400.
    sandbox = make_sandbox(members=10, usage_cost=settings, latency_seconds=0.2)
    start = sandbox.latest_day() - dt.timedelta(days=39)
    config = tap_config(sandbox, start_date=start.isoformat(), api_key=SANDBOX_ADMIN_KEY)
    run = run_tap(config)
    assert run.error is None
    log = sandbox.requests_for()
    refused = [e for e in log if e["status"] == 400]
    answered = [e for e in log if e["status"] == 200]
    assert len(refused) == 1
    assert len(answered) == 4  # the minimum: two windows of one page for each stream
    assert len(log) <= 1.5 * len(answered)
    assert {int(e["params"]["limit"][0]) for e in answered} == {500}

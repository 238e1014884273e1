"""Engagement streams: complete, exactly-once, incremental and resumable syncs."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tap_claude_enterprise.endpoints import ENDPOINTS
from tap_claude_enterprise.sandbox import Fault
from tap_claude_enterprise.sandbox.settings import SANDBOX_LIMITS_KEY
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import (
    ENGAGEMENT_ROWS,
    days,
    expected_engagement_keys,
    record_keys,
    run_tap,
    tap_config,
)

DAILY_ENDPOINTS = {e.name: e.path for e in ENDPOINTS if e.family == "daily"}


def primary_keys() -> dict[str, tuple[str, ...]]:
    """Primary keys as the tap declares them (default settings)."""
    tap = TapClaudeEnterprise(config={"api_key": "x" * 10}, validate_config=False)
    return {name: tuple(stream.primary_keys) for name, stream in tap.streams.items()}


def test_thirty_day_sync_emits_every_sandbox_row_exactly_once(make_sandbox):
    sandbox = make_sandbox(members=60)
    latest = sandbox.latest_day()
    first = latest - dt.timedelta(days=29)
    run = run_tap(tap_config(sandbox, start_date=first.isoformat()))
    keys = primary_keys()

    for stream in ENGAGEMENT_ROWS:
        expected = expected_engagement_keys(sandbox, stream, first, latest)
        emitted = record_keys(run.records[stream], keys[stream])
        assert len(emitted) == len(expected), stream
        assert Counter(emitted) == Counter(expected), stream

    summary_days = [r["date"] for r in run.records["summaries"]]
    assert summary_days == [d.isoformat() for d in days(first, latest)]
    # One /users row per member active that day, with user_id copied from user.id.
    for record in run.records["user_activity"]:
        assert record["user_id"] == record["user"]["id"]
    assert run.bookmark("user_activity") == latest.isoformat()
    assert run.bookmark("summaries") == latest.isoformat()


def test_primary_keys_are_unique_and_never_null(sandbox):
    # With the Admin key for the spend-limit streams too: every stream has records.
    config = tap_config(
        sandbox,
        cost_group_by=["product", "model", "token_type"],
        admin_api_key=SANDBOX_LIMITS_KEY,
    )
    run = run_tap(config)
    tap = TapClaudeEnterprise(config=config)
    assert set(run.records) == set(tap.streams)
    for name, stream in tap.streams.items():
        records = run.records[name]
        assert records, name
        values = [tuple(r[k] for k in stream.primary_keys) for r in records]
        assert all(v is not None for key in values for v in key), name
        duplicates = [k for k, n in Counter(values).items() if n > 1]
        assert not duplicates, (name, duplicates[:3])


def test_largest_page_size_and_one_request_per_short_day(make_sandbox):
    sandbox = make_sandbox(members=1500)
    latest = sandbox.latest_day()
    config = tap_config(sandbox, start_date=(latest - dt.timedelta(days=2)).isoformat())
    # The streams asserted on: the reports of 1,500 members would only add seconds.
    run_tap(config, select={"summaries", "user_activity"})
    for entry in sandbox.requests_for("users"):
        assert entry["params"]["limit"] == ["1000"]
    # >1000 active members on weekdays: 2 pages for those days, never a third.
    pages = Counter(e["params"]["date"][0] for e in sandbox.requests_for("users"))
    for day, count in pages.items():
        active = len(sandbox.org.active_members(dt.date.fromisoformat(day)))
        assert count == max(1, -(-active // 1000)), day
    assert len(sandbox.requests_for("summaries")) == 1


def test_incremental_rerun_requests_only_the_lookback_days(sandbox):
    config = tap_config(sandbox, engagement_lookback_days=3)
    first = run_tap(config)
    latest = sandbox.latest_day()
    sandbox.reset()

    second = run_tap(config, state=first.final_state)

    expected_days = [d.isoformat() for d in days(latest - dt.timedelta(days=2), latest)]
    for stream, endpoint in DAILY_ENDPOINTS.items():
        requested = sorted({e["params"]["date"][0] for e in sandbox.requests_for(endpoint)})
        assert requested == expected_days, stream
        assert len(sandbox.requests_for(endpoint)) == 3, stream
        assert {r["date"] for r in second.records[stream]} <= set(expected_days)
    summaries = sandbox.requests_for("summaries")
    assert len(summaries) == 1
    assert summaries[0]["params"]["starting_date"] == [expected_days[0]]
    assert second.bookmark("user_activity") == latest.isoformat()


def test_rerun_picks_up_revised_engagement_values(sandbox):
    config = tap_config(sandbox)
    first = run_tap(config)
    sandbox.revise()
    second = run_tap(config, state=first.final_state)
    latest = sandbox.latest_day().isoformat()
    before = {r["user_id"]: r for r in first.records["user_activity"] if r["date"] == latest}
    after = {r["user_id"]: r for r in second.records["user_activity"] if r["date"] == latest}
    assert before.keys() == after.keys()
    for user_id, record in after.items():
        assert (
            record["chat_metrics"]["message_count"]
            == before[user_id]["chat_metrics"]["message_count"] + 1
        )


def test_interrupted_sync_resumes_without_loss_or_duplicates(sandbox):
    config = tap_config(sandbox, engagement_lookback_days=0, max_concurrent_requests=1)
    full = run_tap(config)
    sandbox.reset()

    # /users fails for good on its 13th day: the run dies after 12 complete days.
    sandbox.add_faults(Fault("status", endpoint="users", status=400, after=12, times=-1))
    broken = run_tap(config, raise_errors=False)
    assert broken.error is not None
    assert "rejected the request (400)" in str(broken.error)
    bookmark = broken.bookmark("user_activity")
    assert (
        bookmark
        == (dt.date.fromisoformat(config["start_date"]) + dt.timedelta(days=11)).isoformat()
    )

    sandbox.reset()
    resumed = run_tap(config, state=broken.final_state)
    # Engagement streams synced before the failure resume with nothing left to fetch.
    assert resumed.records["summaries"] == []
    keys = ("date", "user_id")
    combined = record_keys(broken.records["user_activity"] + resumed.records["user_activity"], keys)
    expected = record_keys(full.records["user_activity"], keys)
    assert sorted(combined) == sorted(expected)
    assert len(combined) == len(set(combined))
    # The resumed run starts at the first day that was not complete.
    first_requested = min(e["params"]["date"][0] for e in sandbox.requests_for("users"))
    assert first_requested == (dt.date.fromisoformat(bookmark) + dt.timedelta(days=1)).isoformat()


def test_state_is_emitted_after_each_completed_day(sandbox):
    run = run_tap(tap_config(sandbox, max_concurrent_requests=3))
    bookmarks = [
        s["bookmarks"]["user_activity"]["replication_key_value"]
        for s in run.states
        if "user_activity" in s.get("bookmarks", {})
    ]
    distinct = sorted(set(bookmarks))
    assert len(distinct) == 30
    # STATE for a day follows that day's last record.
    last_record_index = {}
    for index, message in enumerate(run.messages):
        if message["type"] == "RECORD" and message["stream"] == "user_activity":
            last_record_index[message["record"]["date"]] = index
    for index, message in enumerate(run.messages):
        if message["type"] == "STATE":
            value = message["value"]["bookmarks"].get("user_activity", {})
            day = value.get("replication_key_value")
            if day in last_record_index:
                assert index > last_record_index[day]


@pytest.mark.parametrize("lag_days", [1, 3])
def test_reaching_a_day_not_served_yet_ends_cleanly(make_sandbox, lag_days):
    sandbox = make_sandbox(lag_days=lag_days)
    latest = sandbox.latest_day()
    catalog_run = run_tap(
        tap_config(
            sandbox,
            start_date=(latest - dt.timedelta(days=5)).isoformat(),
            max_concurrent_requests=1,
        )
    )
    assert catalog_run.error is None
    for stream in DAILY_ENDPOINTS:
        assert catalog_run.bookmark(stream) == latest.isoformat()
        assert max(r["date"] for r in catalog_run.records[stream]) <= latest.isoformat()
    # Availability is per endpoint: each daily endpoint asks once for the day after
    # the one /summaries named (one at a time past it), and stops there.
    refused = [e for e in sandbox.requests_for() if e["status"] == 400]
    assert len(refused) <= len(DAILY_ENDPOINTS)
    day_after = (latest + dt.timedelta(days=1)).isoformat()
    assert all(e["params"]["date"] == [day_after] for e in refused)


def test_without_summaries_a_not_available_day_stops_the_stream(make_sandbox):
    sandbox = make_sandbox(lag_days=3)
    latest = sandbox.latest_day()
    config = tap_config(
        sandbox,
        start_date=(latest - dt.timedelta(days=4)).isoformat(),
        max_concurrent_requests=1,
    )
    run = run_tap(config, select={"user_activity"})
    assert run.error is None
    assert run.bookmark("user_activity") == latest.isoformat()
    refused = [e for e in sandbox.requests_for("users") if e["status"] == 400]
    # One request learns the lag; with one worker, no later day is asked for.
    assert len(refused) == 1
    assert refused[0]["params"]["date"] == [(latest + dt.timedelta(days=1)).isoformat()]


def test_older_api_shapes_still_sync(make_sandbox):
    sandbox = make_sandbox(shape="baseline", summaries_max_days=31)
    latest = sandbox.latest_day()
    first = latest - dt.timedelta(days=59)
    run = run_tap(tap_config(sandbox, start_date=first.isoformat()))
    assert [r["date"] for r in run.records["summaries"]] == [
        d.isoformat() for d in days(first, latest)
    ]
    # The 60-day range was refused once, then fetched in 31-day windows.
    statuses = [e["status"] for e in sandbox.requests_for("summaries")]
    assert statuses == [400, 200, 200]
    users = run.records["user_cost_report"]
    assert users
    assert all(r["actor"]["email_address"] == r["actor"]["email"] for r in users)

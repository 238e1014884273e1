"""Faults the API or the network can throw at a sync, injected by the loopback sandbox.

Each test first runs the tap fault-free, then again against the same sandbox with a
fault armed, and checks that the faulted run emitted exactly the same records (nothing
lost, nothing twice), or that it failed the way the issue specifies: at once for fatal
answers, after ``max_retry_seconds`` for persistent ones, always with the last good
STATE already written.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import urllib3.util.connection
from singer_sdk.exceptions import RetriableAPIError

from tap_claude_enterprise.http.errors import (
    AuthenticationError,
    BadRequestError,
    EmptyPagesError,
    PaginationLoopError,
)
from tap_claude_enterprise.http.retrying import exponential_wait, parse_retry_after
from tap_claude_enterprise.sandbox import Fault, SandboxServer
from tap_claude_enterprise.sandbox.server import retry_after_http_date
from tests.helpers import (
    TapRun,
    assert_same_records,
    messages_of,
    pin_watermark,
    run_cli,
    run_tap,
    small_config,
)

# Every retry test uses this budget unless it tests the budget itself: long enough for
# two exponential waits (2-4 s), short enough that a wrong "retry forever" shows.
BUDGET_SECONDS = 20


pytestmark = pytest.mark.usefixtures("info_logs")


@pytest.fixture
def org(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """Ten members and a frozen report watermark: a fault-free run is repeatable."""
    sandbox = make_sandbox(members=10)
    pin_watermark(sandbox)
    return sandbox


def faulted_run(
    sandbox: SandboxServer,
    *faults: Fault,
    select: set[str] | None = None,
    **overrides: Any,
) -> tuple[TapRun, TapRun]:
    """The fault-free run, then the same sync with ``faults`` armed."""
    config = small_config(sandbox, max_retry_seconds=BUDGET_SECONDS, **overrides)
    baseline = run_tap(config, select=select)
    assert baseline.records, "the fault-free run emitted nothing"
    sandbox.reset()
    sandbox.add_faults(*faults)
    return baseline, run_tap(config, select=select, raise_errors=False)


def retries(sandbox: SandboxServer, endpoint: str) -> list[tuple[dict, dict]]:
    """(failed request, next request with the same query) pairs, from the sandbox log."""
    log = sandbox.requests_for(endpoint)
    pairs = []
    for i, entry in enumerate(log):
        if entry["status"] == 200:
            continue
        later = [e for e in log[i + 1 :] if e["params"] == entry["params"]]
        if later:
            pairs.append((entry, later[0]))
    return pairs


def hit(sandbox: SandboxServer, kind: str) -> int:
    """How many requests the armed faults of a kind hit (a stalled one is logged late)."""
    return sum(fault.hits for fault in sandbox.faults.list() if fault.kind == kind)


def key_properties(run: TapRun, stream: str) -> list[str]:
    schema = next(m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == stream)
    return schema["key_properties"]


def assert_prefix_without_duplicates(run: TapRun, baseline: TapRun, stream: str) -> None:
    """What a failed run emitted is a start of the fault-free records, none twice."""
    emitted, expected = run.records.get(stream, []), baseline.records[stream]
    assert emitted == expected[: len(emitted)]
    keys = [json.dumps([r[k] for k in key_properties(run, stream)]) for r in emitted]
    assert len(keys) == len(set(keys))


# --- 429 ------------------------------------------------------------------------------


def test_429_with_retry_after_in_seconds_waits_that_long(org):
    baseline, run = faulted_run(org, Fault("status", status=429, retry_after="3", endpoint="users"))

    assert_same_records(run, baseline)
    [(failed, retry)] = retries(org, "users")
    assert failed["status"] == 429
    assert retry["t"] - failed["t"] >= 3.0


def test_429_with_an_http_date_waits_until_that_moment(org):
    date = retry_after_http_date(4)
    moment = email.utils.parsedate_to_datetime(date).timestamp()
    baseline, run = faulted_run(
        org, Fault("status", status=429, retry_after=date, endpoint="users")
    )

    assert_same_records(run, baseline)
    [(failed, retry)] = retries(org, "users")
    assert failed["status"] == 429
    # An exponential wait would have retried after 1-2 s; the date is 3-4 s away.
    assert retry["t"] >= moment - 0.01


def test_429_without_retry_after_backs_off_exponentially_from_two_seconds(org):
    # One chain at a time, so both 429s hit the same query.
    baseline, run = faulted_run(
        org, Fault("status", status=429, endpoint="users", times=2), max_concurrent_requests=1
    )

    assert_same_records(run, baseline)
    log = org.requests_for("users")[:3]
    assert [e["status"] for e in log] == [429, 429, 200]
    assert log[0]["params"] == log[2]["params"]
    first_wait, second_wait = log[1]["t"] - log[0]["t"], log[2]["t"] - log[1]["t"]
    assert 1.0 <= first_wait < 3.0  # 2 s ceiling, half of it jittered
    assert 2.0 <= second_wait < 5.0  # 4 s ceiling
    assert "retrying in" in run.log


def test_429_storm_longer_than_the_budget_exits_non_zero_with_state_written(org, tmp_path):
    config = small_config(org, max_retry_seconds=3, max_concurrent_requests=1)
    baseline = run_tap(config)
    org.reset()
    # Two days of /users pass, then every request is refused until the budget is spent.
    org.add_faults(
        Fault("status", status=429, retry_after="1", endpoint="users", after=2, times=-1)
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))

    result = run_cli(["--config", str(path)])

    assert result.returncode != 0
    assert "giving up after" in result.stderr
    assert "max_requests_per_minute" in result.stderr  # the hint for a shared org
    messages = messages_of(result.stdout)
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    second_day = (org.latest_day() - dt.timedelta(days=1)).isoformat()
    bookmarks = states[-1]["bookmarks"]
    assert bookmarks["user_activity"]["replication_key_value"] == second_day
    assert bookmarks["summaries"] == baseline.final_state["bookmarks"]["summaries"]
    emitted = [
        m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "user_activity"
    ]
    assert emitted == [r for r in baseline.records["user_activity"] if r["date"] <= second_day]
    assert len([e for e in org.requests_for("users") if e["status"] == 429]) >= 2


def test_a_server_wait_beyond_the_budget_gives_up_at_once(org):
    config = small_config(org, max_retry_seconds=5)
    org.add_faults(Fault("status", status=429, retry_after="120", endpoint="users", times=-1))

    started = time.monotonic()
    run = run_tap(config, raise_errors=False)

    assert isinstance(run.error, RetriableAPIError)
    assert time.monotonic() - started < 4  # no pointless sleep until the budget ends
    assert "giving up after 1 attempts" in run.log
    queries = [json.dumps(e["params"], sort_keys=True) for e in org.requests_for("users")]
    assert len(queries) == len(set(queries))  # no query was retried early
    assert run.bookmark("summaries") is not None


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = time.time()
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    in_30_s = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(in_30_s, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # already past
    for unreadable in (None, "", "soon", "nan"):
        assert parse_retry_after(unreadable) is None


def test_backoff_doubles_from_two_seconds_up_to_sixty_with_jitter():
    low, high = random.Random(), random.Random()
    low.random = lambda: 0.0  # type: ignore[method-assign]
    high.random = lambda: 0.999999  # type: ignore[method-assign]
    for attempt, ceiling in enumerate([2, 4, 8, 16, 32, 60, 60, 60]):
        assert exponential_wait(attempt, low) == ceiling / 2
        assert exponential_wait(attempt, high) == pytest.approx(ceiling, rel=1e-5)


# --- 5xx ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 504])
def test_transient_5xx_is_retried(org, status):
    baseline, run = faulted_run(org, Fault("status", status=status, endpoint="users"))

    assert_same_records(run, baseline)
    [(failed, retry)] = retries(org, "users")
    assert (failed["status"], retry["status"]) == (status, 200)


def test_persistent_5xx_fails_after_the_budget_with_state_written(org):
    config = small_config(org, max_retry_seconds=3, max_concurrent_requests=1)
    baseline = run_tap(config)
    org.reset()
    org.add_faults(Fault("status", status=503, endpoint="users", after=1, times=-1))

    run = run_tap(config, raise_errors=False)

    assert isinstance(run.error, RetriableAPIError)
    assert "503" in str(run.error)
    assert "giving up after" in run.log
    first_day = (org.latest_day() - dt.timedelta(days=2)).isoformat()
    assert run.bookmark("user_activity") == first_day
    assert run.bookmark("summaries") == baseline.bookmark("summaries")
    assert run.records["user_activity"] == [
        r for r in baseline.records["user_activity"] if r["date"] == first_day
    ]
    failures = [e for e in org.requests_for("users") if e["status"] == 503]
    assert 2 <= len(failures) <= 4  # retried for ~3 s, not forever and not just once


# --- the network ----------------------------------------------------------------------


def test_connect_timeout_is_retried(org, monkeypatch):
    # Making a loopback connect time out for real needs a listener whose accept queue
    # is full, which Linux only sometimes honours; instead the socket layer below
    # urllib3 raises the timeout a real unreachable host would. urllib3 turns it into
    # ConnectTimeoutError and requests into ConnectTimeout, exactly as on the wire.
    config = small_config(org, connect_timeout_seconds=0.7, read_timeout_seconds=5)
    baseline = run_tap(config)
    org.reset()
    real = urllib3.util.connection.create_connection
    timeouts: list[object] = []
    lock = threading.Lock()

    def flaky_connect(address: tuple[str, int], timeout: object = None, *args: Any, **kwargs: Any):
        with lock:
            timeouts.append(timeout)
            fail = len(timeouts) <= 2
        if fail:
            raise TimeoutError("timed out")
        return real(address, timeout, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", flaky_connect)
    run = run_tap(config, raise_errors=False)

    assert_same_records(run, baseline)
    assert run.log.count("ConnectTimeout") >= 2
    assert set(timeouts) == {0.7}  # connect_timeout_seconds, not the SDK's 300 s


@pytest.mark.parametrize("kind", ["stall", "stall_body"])
def test_read_timeout_and_stalled_body_are_retried(org, kind):
    baseline, run = faulted_run(
        org, Fault(kind, endpoint="users", seconds=2.0), read_timeout_seconds=0.5
    )

    assert_same_records(run, baseline)
    assert hit(org, kind) == 1
    assert "timed out" in run.log.lower()


def test_connection_reset_is_retried(org):
    baseline, run = faulted_run(org, Fault("reset", endpoint="users", times=2))

    assert_same_records(run, baseline)
    assert hit(org, "reset") == 2


def test_body_cut_off_mid_stream_is_retried(org):
    baseline, run = faulted_run(org, Fault("truncate", endpoint="users"))

    assert_same_records(run, baseline)
    assert hit(org, "truncate") == 1
    assert "retrying in" in run.log


# --- a 200 that is not the documented JSON --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "logged"),
    [
        ("html", "not valid JSON (text/html)"),
        ("invalid_json", "not valid JSON"),
        ("missing_data", "has no 'data' list"),
        ("mistyped", "has no 'data' list"),
        ("mistyped_cursor", "'next_page' is not a string"),
    ],
)
def test_200_with_a_broken_body_is_retried(org, kind, logged):
    baseline, run = faulted_run(org, Fault(kind, endpoint="users", times=2))

    assert_same_records(run, baseline)
    assert hit(org, kind) == 2
    assert logged in run.log


# --- cursors --------------------------------------------------------------------------

# /usage_report with hour buckets over 16 days: one window of 384 buckets, three pages.
PAGED = {"usage_report"}


def paged_run(sandbox: SandboxServer, *faults: Fault) -> tuple[TapRun, TapRun]:
    baseline, run = faulted_run(
        sandbox, *faults, select=PAGED, days_back=15, report_bucket_width="1h"
    )
    pages = [e for e in sandbox.requests_for("usage_report") if e["status"] == 200]
    assert len(baseline.records["usage_report"]) > 0
    assert len(pages) >= 2, "the paged fixture no longer pages"
    return baseline, run


def test_report_with_has_more_but_no_cursor_is_retried(org):
    baseline, run = paged_run(org, Fault("missing_cursor", endpoint="usage_report"))

    assert_same_records(run, baseline)
    assert "'has_more' is true but there is no 'next_page'" in run.log


def test_repeated_cursor_stops_before_any_duplicate(org):
    baseline, run = paged_run(org, Fault("repeat_cursor", endpoint="usage_report", times=-1))

    assert isinstance(run.error, PaginationLoopError)
    assert "already returned for the same query" in str(run.error)
    assert "Re-run the sync" in str(run.error)
    assert_prefix_without_duplicates(run, baseline, "usage_report")
    queries = Counter(json.dumps(e["params"], sort_keys=True) for e in org.requests_for())
    assert max(queries.values()) == 1  # no page was ever asked for twice


def test_cycling_cursor_stops_before_any_duplicate(org):
    # Bounded, so that a tap that cannot see the cycle fails here instead of hanging.
    baseline, run = paged_run(org, Fault("cycle_cursor", endpoint="usage_report", times=20))

    assert isinstance(run.error, PaginationLoopError)
    assert_prefix_without_duplicates(run, baseline, "usage_report")
    assert len(org.requests_for("usage_report")) == 3  # pages 1, A, B; never A again
    queries = Counter(json.dumps(e["params"], sort_keys=True) for e in org.requests_for())
    assert max(queries.values()) == 1


def test_endless_empty_pages_with_a_cursor_end_the_sync_with_an_error(org):
    baseline, run = faulted_run(
        org, Fault("empty_pages", endpoint="users", times=-1), max_concurrent_requests=1
    )

    assert isinstance(run.error, EmptyPagesError)
    assert "empty pages in a row for /users" in str(run.error)
    assert "user_activity" not in run.records
    assert run.bookmark("user_activity") is None
    assert run.records["summaries"] == baseline.records["summaries"]
    assert len(org.requests_for("users")) == 5


def test_a_stray_empty_page_with_a_cursor_loses_nothing(org):
    baseline, run = faulted_run(org, Fault("empty_pages", endpoint="users"))

    assert_same_records(run, baseline)
    assert hit(org, "empty_pages") == 1


@pytest.mark.parametrize("kind", ["expire_cursor", "cursor_mismatch"])
def test_expired_or_mismatched_cursor_restarts_the_report_window(org, kind):
    baseline, run = paged_run(org, Fault(kind, endpoint="usage_report", with_cursor=True))

    assert_same_records(run, baseline)
    first_pages = [e for e in org.requests_for("usage_report") if "page" not in e["params"]]
    assert len(first_pages) == 2  # the window restarted from page 1, once
    assert "restarting starting_at=" in run.log


# --- fatal answers --------------------------------------------------------------------


def test_a_bad_key_fails_without_retrying_with_an_explanation(org):
    config = small_config(
        org, api_key="sk-ant-api01-not-the-right-key", max_retry_seconds=BUDGET_SECONDS
    )

    run = run_tap(config, raise_errors=False)

    assert isinstance(run.error, AuthenticationError)
    message = str(run.error)
    for hint in ("read:analytics", "Analytics API access", "Admin key"):
        assert hint in message
    # A 404 may only mean "this organization lacks the endpoint" (availability.py), so
    # the run fails once no endpoint accepted the key: here at the first 401.
    assert "(401)" in message or "(404)" in message
    assert {e["status"] for e in org.requests_for()} <= {401, 404}
    assert not run.records
    assert "retrying" not in run.log


def test_401_fails_at_once_after_the_streams_before_it(org):
    baseline, run = faulted_run(
        org, Fault("status", status=401, endpoint="user_usage_report", times=-1)
    )

    assert isinstance(run.error, AuthenticationError)
    assert "(401)" in str(run.error)
    assert len(org.requests_for("user_usage_report")) == 1
    for stream in ("summaries", "user_activity", "artifacts"):
        assert run.records[stream] == baseline.records[stream]
        assert run.bookmark(stream) == baseline.bookmark(stream)


def test_400_names_the_api_message_and_the_parameters(org):
    message = "limit must be at most 500 for alice@example.com's organization"
    # Days older than a week: a 400 for a recent day means "not available yet".
    latest = org.latest_day()
    config = small_config(org, end_date=(latest - dt.timedelta(days=10)).isoformat())
    config["start_date"] = (latest - dt.timedelta(days=12)).isoformat()
    org.add_faults(Fault("status", status=400, endpoint="users", message=message, times=-1))
    run = run_tap(config, raise_errors=False)

    assert isinstance(run.error, BadRequestError)
    text = str(run.error)
    assert "/users rejected the request (400): limit must be at most 500" in text
    assert "Parameters: date=" in text
    assert "limit=1000" in text
    assert "alice@example.com" not in text + run.log
    assert "[email]" in text
    assert len({json.dumps(e["params"]) for e in org.requests_for("users")}) == len(
        org.requests_for("users")
    )  # none retried


def test_a_day_not_available_yet_ends_cleanly_at_the_last_served_day(make_sandbox):
    sandbox = make_sandbox(members=10, lag_days=3)
    pin_watermark(sandbox)
    latest = sandbox.latest_day()
    fixed = small_config(sandbox)
    open_ended = {**fixed}
    del open_ended["end_date"]

    # Alone, /users itself runs into the days the API does not serve yet.
    expected = run_tap(fixed, select={"user_activity"})
    sandbox.reset()
    run = run_tap(open_ended, select={"user_activity"})

    refused = [e for e in sandbox.requests_for("users") if e["status"] == 400]
    assert refused, "the run never asked for a day the API does not serve"
    assert_same_records(run, expected)
    assert run.bookmark("user_activity") == latest.isoformat()
    assert "is not available yet" in run.log

    # With /summaries first, every engagement bookmark stops at the same day.
    everything = run_tap(open_ended)
    bookmarks = everything.final_state["bookmarks"]
    for stream in ("summaries", "user_activity", "chat_projects", "skills", "artifacts"):
        assert bookmarks[stream]["replication_key_value"] == latest.isoformat()


# --- the data changes shape -----------------------------------------------------------


def assert_valid_records(run: TapRun, baseline: TapRun) -> None:
    """As many records per stream as the fault-free run, each valid for its schema."""
    assert run.error is None, f"the run failed: {run.error!r}"
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    for stream, expected in baseline.records.items():
        assert len(run.records[stream]) == len(expected), stream
        validator = jsonschema.Draft202012Validator(schemas[stream])
        for record in run.written_records[stream]:
            validator.validate(record)


def test_new_unknown_fields_are_kept_with_a_warning(org):
    baseline, run = faulted_run(org, Fault("unknown_fields", times=-1))

    for stream in baseline.records:
        kept = [r.pop("_extra_fields") for r in run.records[stream]]
        assert all("sandbox_new_metric_count" in extra for extra in kept), stream
    assert_same_records(run, baseline)
    assert "sandbox_new_metric_count" in run.log  # one warning per stream names them


def test_missing_optional_fields_do_not_break_a_sync(org):
    baseline, run = faulted_run(org, Fault("missing_optional", times=-1))

    assert_valid_records(run, baseline)
    for stream, expected in baseline.records.items():
        # plugin_id is optional and part of the plugins key: left out, it becomes "".
        keys = [k for k in key_properties(run, stream) if k != "plugin_id"]
        assert [[r[k] for k in keys] for r in run.records[stream]] == [
            [r[k] for k in keys] for r in expected
        ], stream
    dates = [r.get("last_activity_date") for r in run.records["user_activity"]]
    assert dates
    assert all(value is None for value in dates)


def test_unexpected_nulls_do_not_break_a_sync(org):
    # Nulls in key columns (product, model) become "" by the record contract, so rows
    # are compared by count here, not by key.
    baseline, run = faulted_run(org, Fault("unexpected_null", times=-1))

    assert_valid_records(run, baseline)
    emails = [r["user"]["email_address"] for r in run.records["user_activity"]]
    assert emails
    assert all(value is None for value in emails)
    assert {r["product"] for r in run.records["user_usage_report"]} == {""}

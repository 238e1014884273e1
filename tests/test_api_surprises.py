"""The API answering where its documentation is silent: the tap is right either way.

Each test arms one of the sandbox's surprise switches (``sandbox/surprises.py``) and
compares the run with a run of the same sandbox without it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from tap_claude_enterprise.endpoints import names
from tap_claude_enterprise.http.errors import AuthenticationError, BadRequestError
from tap_claude_enterprise.records.conformance import EXTRA_FIELDS, RecordFitter
from tap_claude_enterprise.sandbox import Fault, SandboxServer
from tap_claude_enterprise.sandbox.surprises import NOT_AVAILABLE_WORDINGS, RENAMED_FROM
from tap_claude_enterprise.streams import reports as report_streams
from tap_claude_enterprise.sync import windows
from tap_claude_enterprise.sync.availability import latest_day_named, reaches_recent_days
from tests.helpers import TapRun, expected_engagement_keys, pin_watermark, run_tap, tap_config

UTC = dt.timezone.utc
ENGAGEMENT = tuple(names("daily"))


pytestmark = pytest.mark.usefixtures("info_logs")


@pytest.fixture
def org(make_sandbox: Any) -> SandboxServer:
    """A small organization with a fixed report watermark."""
    sandbox = make_sandbox(members=8)
    pin_watermark(sandbox)
    return sandbox


def today() -> dt.date:
    return dt.datetime.now(tz=UTC).date()


def open_config(sandbox: SandboxServer, days_back: int = 9, **overrides: Any) -> dict[str, Any]:
    """Up to whatever the API serves (no end_date), as a nightly run is configured."""
    latest = sandbox.latest_day()
    return tap_config(
        sandbox, start_date=(latest - dt.timedelta(days=days_back)).isoformat(), **overrides
    )


def schemas_of(run: TapRun) -> dict[str, dict]:
    return {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}


def assert_records_match_schema(run: TapRun) -> None:
    """Every record validates against the SCHEMA message its stream sent."""
    schemas = schemas_of(run)
    for stream, records in run.written_records.items():
        validator = jsonschema.Draft202012Validator(schemas[stream])
        for record in records:
            errors = list(validator.iter_errors(record))
            assert not errors, f"{stream}: {errors[0].message}"


def keys_of(run: TapRun, stream: str) -> list[tuple]:
    key_names = next(
        m["key_properties"] for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == stream
    )
    return [tuple(r[k] for k in key_names) for r in run.records[stream]]


def without_extras(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != EXTRA_FIELDS} for r in records]


def refused(sandbox: SandboxServer, endpoint: str) -> list[dict]:
    return [e for e in sandbox.requests_for(endpoint) if e["status"] != 200]


# --- 1. not available yet, whatever the wording, per endpoint -----------------------------


@pytest.mark.parametrize("wording", NOT_AVAILABLE_WORDINGS)
def test_not_available_in_any_wording_stops_only_that_stream(org, wording):
    lag = 3
    org.add_faults(Fault("lag", endpoint="skills", days=lag, message=wording, times=-1))
    config = open_config(org)

    run = run_tap(config, select={"summaries", "skills", "connectors"})

    assert run.error is None
    skills_last = (today() - dt.timedelta(days=lag)).isoformat()
    assert run.bookmark("skills") == skills_last
    assert max(r["date"] for r in run.records["skills"]) <= skills_last
    # Another endpoint is never capped by the one that lags.
    assert run.bookmark("connectors") == org.latest_day().isoformat()
    assert run.bookmark("summaries") == org.latest_day().isoformat()
    assert "skills: " in run.log
    assert "is not available yet" in run.log
    assert refused(org, "skills")
    assert not refused(org, "connectors")


def test_a_400_for_an_older_day_stays_an_error_with_the_api_message(org):
    org.add_faults(Fault("status", status=400, endpoint="skills", message="odd thing", times=-1))
    latest = org.latest_day()
    config = tap_config(
        org,
        start_date=(latest - dt.timedelta(days=20)).isoformat(),
        end_date=(latest - dt.timedelta(days=15)).isoformat(),
    )

    run = run_tap(config, select={"skills"}, raise_errors=False)

    assert isinstance(run.error, BadRequestError)
    assert "odd thing" in str(run.error)


def test_a_bad_request_for_recent_days_only_is_still_an_error(org):
    # A nightly run re-reads only recent days; a 400 about the request itself (not the
    # day) must not pass for "not available yet" night after night.
    message = "limit must be at most 500"
    org.add_faults(Fault("status", status=400, endpoint="users", message=message, times=-1))
    org.add_faults(Fault("status", status=400, endpoint="usage_report", message=message, times=-1))
    users = run_tap(open_config(org, days_back=2), select={"user_activity"}, raise_errors=False)
    report = run_tap(open_config(org, days_back=20), select={"usage_report"}, raise_errors=False)
    recent = run_tap(open_config(org, days_back=2), select={"usage_report"}, raise_errors=False)

    for run in (users, report, recent):
        assert isinstance(run.error, BadRequestError)
        assert message in str(run.error)
    assert "not its publication lag" in str(users.error)


def test_a_first_day_not_served_yet_costs_one_check_and_ends_cleanly(make_sandbox):
    org = make_sandbox(members=4, lag_days=3)
    latest = org.latest_day()
    state = {"bookmarks": {"skills": {"replication_key": "date",
                                      "replication_key_value": latest.isoformat()}}}  # fmt: skip
    config = open_config(org, engagement_lookback_days=0, max_concurrent_requests=1)

    run = run_tap(config, state=state, select={"skills"})

    assert run.error is None
    assert run.bookmark("skills") == latest.isoformat()
    asked = [(e["params"]["date"][0], e["status"]) for e in org.requests_for("skills")]
    older = (today() - dt.timedelta(days=8)).isoformat()
    assert asked == [((latest + dt.timedelta(days=1)).isoformat(), 400), (older, 200)]


def test_per_endpoint_lag_of_summaries_never_caps_the_daily_streams(org):
    org.add_faults(Fault("lag", endpoint="summaries", days=3, times=-1))

    run = run_tap(open_config(org), select={"summaries", "user_activity", "artifacts"})

    assert run.error is None
    assert run.bookmark("summaries") == (today() - dt.timedelta(days=3)).isoformat()
    for stream in ("user_activity", "artifacts"):
        assert run.bookmark(stream) == org.latest_day().isoformat(), stream
        assert not refused(org, "users")


def test_report_window_cut_at_the_start_of_today(org):
    now = dt.datetime.now(tz=UTC)
    if now.hour == 0:
        pytest.skip("at 00:xx UTC no hourly window starts today")
    start = (now.date() - dt.timedelta(days=31)).isoformat()
    config = tap_config(org, start_date=start, report_bucket_width="1h")
    streams = {"usage_report", "user_usage_report"}
    expected = run_tap({**config, "end_date": (now.date() - dt.timedelta(days=1)).isoformat()},
                       select=streams)  # fmt: skip
    org.reset()
    org.add_faults(Fault("cut_at_today", times=-1))

    run = run_tap(config, select=streams)

    assert run.error is None
    midnight = now.date().isoformat() + "T00:00:00Z"
    for stream in streams:
        answers = [e["status"] for e in org.requests_for(stream)]
        assert 400 in answers, stream  # the window starting today was refused...
        assert run.records[stream] == expected.records[stream], stream  # ...and lost nothing
        assert run.bookmark(stream) <= midnight, stream


# --- 2. an endpoint the organization does not have ----------------------------------------


@pytest.mark.parametrize("status", [404, 403])
def test_an_endpoint_missing_for_the_org_is_skipped(org, status):
    baseline = run_tap(open_config(org))
    org.reset()
    org.add_faults(Fault("missing_endpoint", endpoint="plugins", status=status, times=-1))

    run = run_tap(open_config(org))

    assert run.error is None
    assert not run.records["plugins"]
    for stream, records in baseline.records.items():
        if stream != "plugins":
            assert run.records[stream] == records, stream
    warnings = [line for line in run.log.splitlines() if line.startswith("plugins: skipped")]
    assert len(warnings) == 1
    assert f"answered {status}" in warnings[0]
    assert "Summary plugins: skipped" in run.log


def test_a_key_no_endpoint_accepts_is_fatal(org):
    org.add_faults(Fault("missing_endpoint", status=403, times=-1))

    run = run_tap(open_config(org), raise_errors=False)

    assert isinstance(run.error, AuthenticationError)
    assert "(403)" in str(run.error)
    assert "Admin key" in str(run.error)
    assert not run.records


# --- 3. new fields are never lost silently ------------------------------------------------


def test_unknown_fields_at_root_and_nested_land_in_extra_fields(org):
    config = open_config(org, days_back=2)
    baseline = run_tap(config)
    org.reset()
    org.add_faults(Fault("unknown_fields", times=-1))

    run = run_tap(config)

    assert run.error is None
    assert_records_match_schema(run)
    for stream, records in baseline.records.items():
        assert without_extras(run.records[stream]) == records, stream
        for record in run.records[stream]:
            assert record[EXTRA_FIELDS]["sandbox_new_metric_count"] == 7, stream
            assert record[EXTRA_FIELDS]["sandbox_new_block"] == {"nested_new_field": "x"}
    extras = run.records["user_activity"][0][EXTRA_FIELDS]
    assert extras["chat_metrics.sandbox_new_metric_count"] == 7
    assert extras["claude_code_metrics.core_metrics.sandbox_new_metric_count"] == 7
    # One warning per stream names the fields; the run summary lists them all.
    for stream in baseline.records:
        lines = [
            line for line in run.log.splitlines() if line.startswith(f"{stream}: the API sent")
        ]
        assert lines, stream
        assert "sandbox_new_metric_count" in lines[0]
        summary = f"Summary {stream}: fields kept in _extra_fields: "
        listed = next(line for line in run.log.splitlines() if line.startswith(summary))
        assert set(listed[len(summary) :].split(", ")) == {
            path for record in run.records[stream] for path in record[EXTRA_FIELDS]
        }, stream


# --- 4. records always match the SCHEMA sent ----------------------------------------------


def test_integral_floats_become_integers(org):
    config = open_config(org, days_back=2)
    baseline = run_tap(config)
    org.reset()
    org.add_faults(Fault("integral_floats", times=-1))

    run = run_tap(config)

    assert run.error is None
    assert_records_match_schema(run)
    for stream, records in baseline.records.items():
        assert run.records[stream] == records, stream
    counts = [r["chat_metrics"]["message_count"] for r in run.records["user_activity"]]
    assert all(type(c) is int for c in counts)


def test_explicit_null_metric_objects_are_valid_records(org):
    config = open_config(org, days_back=2)
    baseline = run_tap(config)
    org.reset()
    org.add_faults(Fault("null_metrics", times=-1))

    run = run_tap(config)

    assert run.error is None
    assert_records_match_schema(run)
    for stream, records in baseline.records.items():
        assert keys_of(run, stream) == keys_of(baseline, stream), stream
        assert len(run.records[stream]) == len(records)
    assert all(r["chat_metrics"] is None for r in run.records["user_activity"])


def test_values_that_do_not_fit_their_type_are_kept_and_named(caplog):
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": ["integer", "null"]},
            "m": {"type": ["object", "null"], "properties": {"k": {"type": ["integer", "null"]}}},
            "s": {"type": ["string", "null"]},
            EXTRA_FIELDS: {"type": ["object", "null"]},
        },
    }
    fitter = RecordFitter(schema, "demo", logging.getLogger("demo"))
    with caplog.at_level(logging.WARNING):
        fine = fitter.fit({"n": Decimal("12.0"), "m": {"k": 3.0}, "s": "x"})
        odd = fitter.fit({"n": Decimal("12.5"), "m": {"k": 2**64}, "s": 5, "new": 1})
        again = fitter.fit({"n": Decimal("1.5"), "m": None, "s": None})

    assert fine == {"n": 12, "m": {"k": 3}, "s": "x"}
    assert type(fine["n"]) is int
    assert odd == {
        "n": None,
        "m": {"k": None},
        "s": None,
        EXTRA_FIELDS: {"n": Decimal("12.5"), "m.k": 2**64, "s": 5, "new": 1},
    }
    assert again == {"n": None, "m": None, "s": None, EXTRA_FIELDS: {"n": Decimal("1.5")}}
    validator = jsonschema.Draft202012Validator(schema)
    for record in (fine, odd, again):
        validator.validate(record)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("do not fit their declared type: m.k, n, s" in m for m in messages) == 1
    assert sum("does not have: new" in m for m in messages) == 1
    assert len(messages) == 2  # each field is named once per stream


# --- 5. keys really unique and never null -------------------------------------------------


def test_per_user_rows_without_bucket_bounds_get_their_window_start(org):
    org.add_faults(Fault("no_bucket_bounds", endpoint="user_usage_report", times=-1))
    latest = org.latest_day()
    config = tap_config(org, start_date=(latest - dt.timedelta(days=40)).isoformat(),
                        end_date=latest.isoformat())  # fmt: skip

    run = run_tap(config, select={"user_usage_report"})

    assert run.error is None
    assert_records_match_schema(run)
    records = run.records["user_usage_report"]
    assert records
    starts = {r["starting_at"] for r in records}
    assert None not in starts
    assert len(starts) == 2  # two 31-day windows, one start each
    keys = keys_of(run, "user_usage_report")
    assert len(keys) == len(set(keys))


def test_every_primary_key_is_unique_and_never_null(org):
    run = run_tap(open_config(org, days_back=5))

    assert run.error is None
    for stream in run.records:
        keys = keys_of(run, stream)
        assert keys, stream
        assert all(None not in key for key in keys), stream
        assert [k for k, n in Counter(keys).items() if n > 1] == [], stream
    assert "plugin_id" in next(
        m["key_properties"] for m in run.messages if m.get("stream") == "plugins"
    )


# --- 6. renamed values ----------------------------------------------------------------


def test_a_renamed_product_is_emitted_under_its_current_name(org):
    config = open_config(org, days_back=10)
    streams = {"usage_report", "user_cost_report"}
    org.add_faults(Fault("renamed_product", message="claude-in-slack", times=-1))
    before = run_tap(config, select=streams)
    org.reset()
    org.add_faults(Fault("renamed_product", message="claude-tag", times=-1))
    after = run_tap(config, select=streams)

    for stream in streams:
        products = {r["product"] for r in before.records[stream]}
        assert "claude-tag" in products, stream
        assert "claude-in-slack" not in products
        assert RENAMED_FROM not in products
        # The same keys before and after the rename: the target replaces, never adds.
        assert sorted(keys_of(before, stream)) == sorted(keys_of(after, stream)), stream


# --- 7. the 365-day edge ----------------------------------------------------------------


def sixty_days_later(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the tap's and the sandbox's clocks, so 365 days back is inside the data."""
    real_now = windows.utc_now

    def later() -> dt.datetime:
        return real_now() + dt.timedelta(days=60)

    monkeypatch.setattr(windows, "utc_now", later)
    monkeypatch.setattr(report_streams, "utc_now", later)
    monkeypatch.setattr(sandbox, "now", later)
    pin_watermark(sandbox)
    return later


def test_a_start_too_far_back_moves_forward(make_sandbox, monkeypatch):
    org = make_sandbox(members=4)
    later = sixty_days_later(org, monkeypatch)
    org.add_faults(Fault("too_far_back", endpoint="usage_report", days=363, times=-1))

    run = run_tap(tap_config(org, start_date=None), select={"usage_report"})

    assert run.error is None
    refusals = refused(org, "usage_report")
    assert len(refusals) == 1
    first = min(r["starting_at"] for r in run.records["usage_report"])
    refused_start = refusals[0]["params"]["starting_at"][0]
    assert first > refused_start
    oldest = later() - dt.timedelta(days=363)
    assert dt.datetime.fromisoformat(first.replace("Z", "+00:00")) >= oldest
    assert "near its 365-day limit" in run.log


def test_the_first_report_window_keeps_a_margin_from_the_365_day_limit(
    make_sandbox, monkeypatch
):
    org = make_sandbox(members=4)
    later = sixty_days_later(org, monkeypatch)

    run = run_tap(tap_config(org, start_date=None), select={"cost_report"})

    assert run.error is None
    assert not refused(org, "cost_report")
    first = org.requests_for("cost_report")[0]["params"]["starting_at"][0]
    start = dt.datetime.fromisoformat(first.replace("Z", "+00:00"))
    assert start >= later() - dt.timedelta(days=364)


# --- the classification itself ----------------------------------------------------------


def test_not_available_is_decided_by_the_days_asked_for_not_the_words():
    day = dt.date(2026, 11, 30)
    base = "https://x/v1/organizations/analytics/"
    assert reaches_recent_days(f"{base}users?date=2026-11-29", day)
    assert not reaches_recent_days(f"{base}users?date=2026-11-20", day)
    assert reaches_recent_days(f"{base}summaries?starting_date=2026-01-01", day)  # open end
    assert not reaches_recent_days(
        f"{base}summaries?starting_date=2026-01-01&ending_date=2026-02-01", day
    )
    assert reaches_recent_days(
        f"{base}usage_report?starting_at=2026-11-30T00:00:00Z&ending_at=2026-11-30T05:00:00Z", day
    )
    url = f"{base}users?date=2026-11-29"
    named = "date 2026-11-29 is not yet available; the most recent available day is 2026-11-27"
    assert latest_day_named(named, url, day) == dt.date(2026, 11, 27)
    assert latest_day_named("2026-11-29 is too recent", url, day) is None
    assert latest_day_named("The requested date is too recent.", url, day) is None


# --- all at once: a backfill against an API full of surprises ---------------------------


def test_a_backfill_with_many_surprises_lands_every_available_row_once(org):
    latest = org.latest_day()
    first = latest - dt.timedelta(days=44)  # two report windows
    config = tap_config(org, start_date=first.isoformat())  # open-ended, as nightly runs
    baseline = run_tap(config)
    org.reset()
    lag = 3
    org.add_faults(
        Fault("lag", endpoint="skills", days=lag, message=NOT_AVAILABLE_WORDINGS[3], times=-1),
        Fault("missing_endpoint", endpoint="plugins", times=-1),
        Fault("unknown_fields", endpoint="apps/chat/projects", times=-1),
        Fault("unknown_fields", endpoint="user_usage_report", times=-1),
        Fault("integral_floats", endpoint="users", times=-1),
        Fault("integral_floats", endpoint="usage_report", times=-1),
        Fault("null_metrics", endpoint="connectors", times=-1),
        Fault("cut_at_today", times=-1),
    )

    run = run_tap(config)

    assert run.error is None
    assert_records_match_schema(run)
    # The skipped stream is named, once, and in the summary.
    assert not run.records["plugins"]
    assert sum(line.startswith("plugins: skipped") for line in run.log.splitlines()) == 1
    assert "Summary plugins: skipped: /plugins answered 404" in run.log
    assert "Summary chat_projects: fields kept in _extra_fields: " in run.log
    # New fields are named and kept.
    for stream in ("chat_projects", "user_usage_report"):
        assert any(
            line.startswith(f"{stream}: the API sent fields") and "sandbox_new_block" in line
            for line in run.log.splitlines()
        ), stream
        assert all("sandbox_new_block" in r[EXTRA_FIELDS] for r in run.records[stream])
        assert without_extras(run.records[stream]) == baseline.records[stream], stream
    # Every other stream is exactly what the sandbox serves.
    for stream in ("summaries", "user_activity", "artifacts", "usage_report", "cost_report",
                   "user_cost_report"):  # fmt: skip
        assert run.records[stream] == baseline.records[stream], stream
    for stream in ("user_activity", "artifacts"):
        want = expected_engagement_keys(org, stream, first, latest)
        assert Counter(keys_of(run, stream)) == Counter(want), stream
    assert keys_of(run, "connectors") == keys_of(baseline, "connectors")
    skills_last = (today() - dt.timedelta(days=lag)).isoformat()
    assert run.records["skills"] == [
        r for r in baseline.records["skills"] if r["date"] <= skills_last
    ]
    assert run.bookmark("skills") == skills_last
    assert run.bookmark("user_activity") == latest.isoformat()

    # The next run, from the final STATE, once the API caught up: nothing is lost.
    org.reset()
    second = run_tap(config, state=run.final_state)
    assert second.error is None
    for stream in baseline.records:
        landed = set(keys_of(run, stream)) | set(keys_of(second, stream))
        assert landed == set(keys_of(baseline, stream)), stream
    assert second.bookmark("skills") == latest.isoformat()

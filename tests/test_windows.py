"""Date-window arithmetic, without a server."""

from __future__ import annotations

import datetime as dt

from tap_claude_enterprise.sync.windows import (
    UTC,
    TimeWindow,
    engagement_first_day,
    engagement_last_day,
    report_bounds,
    split_days,
    split_window,
)

D = dt.date
T = dt.datetime


def test_first_day_without_state_is_start_date_or_the_api_floor():
    assert engagement_first_day(start_date=None, bookmark=None, lookback_days=3) == D(2026, 1, 1)
    assert engagement_first_day(start_date=D(2025, 6, 1), bookmark=None, lookback_days=3) == D(
        2026, 1, 1
    )
    assert engagement_first_day(start_date=D(2026, 5, 2), bookmark=None, lookback_days=3) == D(
        2026, 5, 2
    )


def test_first_day_with_state_rereads_the_lookback_days_including_the_bookmark():
    first = engagement_first_day(start_date=None, bookmark=D(2026, 5, 10), lookback_days=3)
    assert first == D(2026, 5, 8)  # 8, 9, 10 re-read, then 11 onward
    assert engagement_first_day(start_date=None, bookmark=D(2026, 5, 10), lookback_days=0) == D(
        2026, 5, 11
    )
    # Never before start_date, even with a long lookback.
    assert engagement_first_day(
        start_date=D(2026, 5, 9), bookmark=D(2026, 5, 10), lookback_days=30
    ) == D(2026, 5, 9)


def test_last_day_is_yesterday_the_known_latest_or_end_date():
    today = D(2026, 11, 22)
    assert engagement_last_day(end_date=None, today=today) == D(2026, 11, 21)
    assert engagement_last_day(end_date=D(2026, 10, 1), today=today) == D(2026, 10, 1)


def test_split_days_respects_the_span():
    ranges = split_days(D(2026, 1, 1), D(2026, 3, 1), 31)
    assert [(r.first, r.last) for r in ranges] == [
        (D(2026, 1, 1), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 3, 1)),
    ]
    assert sum(r.days for r in ranges) == 60


def test_report_bounds_first_run_and_rerun_with_lookback():
    now = T(2026, 11, 22, 9, 30, tzinfo=UTC)
    first = report_bounds(
        start_date=D(2026, 9, 1),
        end_date=None,
        bookmark=None,
        lookback_days=30,
        width="1d",
        now=now,
    )
    assert first == TimeWindow(T(2026, 9, 1, tzinfo=UTC), T(2026, 11, 22, tzinfo=UTC))
    rerun = report_bounds(
        start_date=D(2026, 9, 1),
        end_date=None,
        bookmark=T(2026, 11, 21, tzinfo=UTC),
        lookback_days=30,
        width="1d",
        now=now,
    )
    assert rerun == TimeWindow(T(2026, 10, 22, tzinfo=UTC), T(2026, 11, 22, tzinfo=UTC))


def test_report_bounds_never_older_than_365_days_nor_before_2026():
    now = T(2027, 3, 10, 12, 0, tzinfo=UTC)
    bounds = report_bounds(
        start_date=None, end_date=None, bookmark=None, lookback_days=30, width="1d", now=now
    )
    assert bounds is not None
    assert bounds.start == T(2026, 3, 12, tzinfo=UTC)  # 365 days back + 1, rounded up to a day
    early = report_bounds(
        start_date=None,
        end_date=None,
        bookmark=None,
        lookback_days=30,
        width="1h",
        now=T(2026, 2, 1, 5, 20, tzinfo=UTC),
    )
    assert early == TimeWindow(T(2026, 1, 1, tzinfo=UTC), T(2026, 2, 1, 5, tzinfo=UTC))


def test_report_bounds_end_date_is_inclusive_and_empty_spans_are_none():
    now = T(2026, 11, 22, 9, 0, tzinfo=UTC)
    bounds = report_bounds(
        start_date=D(2026, 10, 1),
        end_date=D(2026, 10, 31),
        bookmark=None,
        lookback_days=30,
        width="1d",
        now=now,
    )
    assert bounds == TimeWindow(T(2026, 10, 1, tzinfo=UTC), T(2026, 11, 1, tzinfo=UTC))
    assert (
        report_bounds(
            start_date=D(2026, 12, 1),
            end_date=None,
            bookmark=None,
            lookback_days=0,
            width="1d",
            now=now,
        )
        is None
    )


def test_split_window_uses_31_day_windows():
    bounds = TimeWindow(T(2026, 1, 1, tzinfo=UTC), T(2026, 4, 1, tzinfo=UTC))
    windows = split_window(bounds, dt.timedelta(days=31))
    assert [w.start.date() for w in windows] == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 4)]
    assert windows[-1].end == bounds.end
    assert all(w.end - w.start <= dt.timedelta(days=31) for w in windows)

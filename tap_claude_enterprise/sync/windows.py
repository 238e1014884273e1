"""Date-window logic: which days and time windows a run requests.

Everything here is pure date arithmetic so that it can be tested without a server.

Engagement endpoints describe one UTC day per request. The bookmark is the last day
that was fetched completely; a run re-reads the last ``lookback`` of those days (the API
revises them) and then walks forward until the API says a day is not available yet.

Report endpoints take ``[starting_at, ending_at)`` windows of at most 31 days. The
bookmark is the start of the first bucket that is not known to be complete; a run
re-reads from the first day of the earliest month that is not closed yet (``revision_start``),
because usage and spend are revised until about 7 days after their month ends; or, when
``cost_lookback_days`` is set, that many days before the bookmark.

``restate_from`` (a day per stream) makes one run start no later than that day: an
announced data fix re-read once, without touching other streams.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

UTC = dt.timezone.utc

# Nothing is served before this day, on any endpoint.
API_FLOOR = dt.date(2026, 1, 1)
# Report windows must start within this many days of now.
REPORT_MAX_AGE_DAYS = 365
# The first report window starts at least this far inside that limit (then rounded up
# to a day), so a clock minutes off the API's never makes it too old.
REPORT_AGE_MARGIN = dt.timedelta(days=1)
# The widest report window the API accepts.
REPORT_MAX_SPAN_DAYS = 31
# /summaries: newer API versions take 366 days per request, older ones 31.
SUMMARIES_MAX_SPAN_DAYS = 366
SUMMARIES_FALLBACK_SPAN_DAYS = 31

BUCKET_WIDTHS: dict[str, dt.timedelta] = {
    "1d": dt.timedelta(days=1),
    "1h": dt.timedelta(hours=1),
    "1m": dt.timedelta(minutes=1),
}
# Largest page size, in buckets, of the bucketed report endpoints.
MAX_BUCKETS_PER_PAGE = {"1d": 31, "1h": 168, "1m": 256}
# Usage and spend "can be revised ... until about 7 days after the end of the calendar
# month the usage falls in" (the newest API reference). "About": the tap keeps the
# previous month open 3 days longer (through the 10th), which covers a reconciliation
# that slips over a weekend and a clock a day off, for one more window per stream per
# run on those 3 days of a month (docs/incremental-sync.md).
MONTH_CLOSE_DAYS = 7
MONTH_CLOSE_MARGIN_DAYS = 3


def utc_now() -> dt.datetime:
    """Return the current time in UTC (a function so tests can move the clock)."""
    return dt.datetime.now(tz=UTC)


def parse_day(value: str | dt.date | None) -> dt.date | None:
    """Parse ``YYYY-MM-DD`` (or the date part of an ISO timestamp)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def parse_timestamp(value: str | None) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(value: dt.datetime) -> str:
    """Format a UTC datetime the way the API does (``2026-03-01T00:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start(day: dt.date) -> dt.datetime:
    """Return midnight UTC at the start of ``day``."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def first_open_day(
    today: dt.date, *, close_days: int = MONTH_CLOSE_DAYS + MONTH_CLOSE_MARGIN_DAYS
) -> dt.date:
    """The first day of the earliest month whose values may still change on ``today``.

    The previous month while ``today`` is within ``close_days`` of its end, otherwise
    the current month.
    """
    month = today.replace(day=1)
    if today.day <= close_days:
        return (month - dt.timedelta(days=1)).replace(day=1)
    return month


def revision_start(bookmark: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Where a run re-reads usage and cost from: the earliest month still open.

    Open now, or when the bookmark was written (a run after a long pause re-reads the
    month its last run left open; a daily run gets the same day either way).
    """
    return day_start(first_open_day(min(bookmark, now).astimezone(UTC).date()))


# --- engagement: one day per request ------------------------------------------------


def engagement_first_day(
    *,
    start_date: dt.date | None,
    bookmark: dt.date | None,
    lookback_days: int,
    restate_from: dt.date | None = None,
) -> dt.date:
    """Return the first day a run requests.

    Without a bookmark that is ``start_date`` (or the API's first day). With one, the
    run re-reads the last ``lookback_days`` complete days, ``bookmark`` included, or
    from ``restate_from`` if that is earlier, and never goes before ``start_date``.
    """
    floor = max(start_date or API_FLOOR, API_FLOOR)
    if bookmark is None:
        return floor
    first = bookmark + dt.timedelta(days=1) - dt.timedelta(days=max(lookback_days, 0))
    if restate_from is not None:
        first = min(first, restate_from)
    return max(first, floor)


def engagement_last_day(*, end_date: dt.date | None, today: dt.date) -> dt.date:
    """Return the last day worth requesting: no later than yesterday (UTC).

    The API serves a day after a lag (one day now, three in older versions); each
    endpoint simply stops at the first day it refuses (availability.py).
    """
    last = today - dt.timedelta(days=1)
    if end_date is not None:
        last = min(last, end_date)
    return last


def iter_days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """Yield each day from ``first`` to ``last`` inclusive."""
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


@dataclass(frozen=True)
class DayRange:
    """A ``[first, last]`` range of days; ``/summaries`` takes an exclusive end."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        """Number of days in the range."""
        return (self.last - self.first).days + 1


def split_days(first: dt.date, last: dt.date, span: int) -> list[DayRange]:
    """Split ``[first, last]`` into ranges of at most ``span`` days."""
    ranges = []
    start = first
    while start <= last:
        end = min(start + dt.timedelta(days=span - 1), last)
        ranges.append(DayRange(start, end))
        start = end + dt.timedelta(days=1)
    return ranges


# --- reports: time windows of up to 31 days -----------------------------------------


def floor_to_bucket(value: dt.datetime, width: str) -> dt.datetime:
    """Floor a UTC datetime to the start of its bucket."""
    value = value.astimezone(UTC)
    if width == "1d":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if width == "1h":
        return value.replace(minute=0, second=0, microsecond=0)
    return value.replace(second=0, microsecond=0)


def ceil_to_bucket(value: dt.datetime, width: str) -> dt.datetime:
    """Round a UTC datetime up to a bucket boundary."""
    floored = floor_to_bucket(value, width)
    return floored if floored == value else floored + BUCKET_WIDTHS[width]


def report_window_span(width: str) -> dt.timedelta:
    """Widest window per request for a bucket width.

    31 days for day and hour buckets; per-user reports accept at most 24 hours of
    minute buckets, so minute buckets use one-day windows on every report.
    """
    if width == "1m":
        return dt.timedelta(days=1)
    return dt.timedelta(days=REPORT_MAX_SPAN_DAYS)


@dataclass(frozen=True)
class TimeWindow:
    """A ``[start, end)`` report window."""

    start: dt.datetime
    end: dt.datetime


def configured_report_bounds(
    config: Mapping[str, Any],
    bookmark: str | None,
    width: str,
    restate_from: dt.date | None = None,
) -> TimeWindow | None:
    """``report_bounds`` from the tap's settings and a stream's stored bookmark.

    ``cost_lookback_days`` unset (the default): the month-close rule.
    """
    lookback = config.get("cost_lookback_days")
    return report_bounds(
        start_date=parse_day(config.get("start_date")),
        end_date=parse_day(config.get("end_date")),
        bookmark=parse_timestamp(bookmark),
        lookback_days=None if lookback is None else int(lookback),
        width=width,
        now=utc_now(),
        restate_from=restate_from,
    )


def report_bounds(
    *,
    start_date: dt.date | None,
    end_date: dt.date | None,
    bookmark: dt.datetime | None,
    lookback_days: int | None,
    width: str,
    now: dt.datetime,
    restate_from: dt.date | None = None,
) -> TimeWindow | None:
    """Return the ``[start, end)`` span a report run requests, or None if empty.

    The start is the bookmark minus the revision lookback (``lookback_days``; None: from
    ``revision_start``), or ``restate_from`` if that is earlier, never before
    ``start_date``, the API's first day, or the oldest moment the API serves (365 days
    back, plus ``REPORT_AGE_MARGIN``, rounded up to a day so the request is not
    refused). The end is the start of the current bucket, so only whole buckets are
    requested, or the day after ``end_date``.
    """
    floor = day_start(max(start_date or API_FLOOR, API_FLOOR))
    edge = now - dt.timedelta(days=REPORT_MAX_AGE_DAYS) + REPORT_AGE_MARGIN
    oldest = ceil_to_bucket(edge, "1d")
    start = floor
    if bookmark is not None:
        if lookback_days is None:
            reread = revision_start(bookmark, now)
        else:
            reread = bookmark - dt.timedelta(days=max(lookback_days, 0))
        if restate_from is not None:
            reread = min(reread, day_start(restate_from))
        start = max(start, reread)
    start = floor_to_bucket(max(start, oldest), width)
    if start < oldest:
        start += BUCKET_WIDTHS[width]
    end = floor_to_bucket(now, width)
    if end_date is not None:
        end = min(end, day_start(end_date + dt.timedelta(days=1)))
    if end <= start:
        return None
    return TimeWindow(start, end)


def split_window(bounds: TimeWindow, span: dt.timedelta) -> list[TimeWindow]:
    """Split a report span into consecutive windows of at most ``span``."""
    windows = []
    start = bounds.start
    while start < bounds.end:
        end = min(start + span, bounds.end)
        windows.append(TimeWindow(start, end))
        start = end
    return windows

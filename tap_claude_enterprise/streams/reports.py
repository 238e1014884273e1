"""Usage and cost report streams: tokens and spend, per user and over time.

Requests cover windows of up to 31 days (``windows.py``) with the largest page sizes.
Records are the API rows unchanged plus the context the issues name: the bucket's
``starting_at``/``ending_at`` on bucketed reports, ``user_id`` on per-user reports, and
``organization_id`` and ``data_refreshed_at`` from the envelope. ``amount`` and
``list_amount`` are exact decimals in cents, as the API means them, beside exact
``amount_usd``/``list_amount_usd``.

Key columns are never null: the API reports unattributed usage with null dimensions,
which a warehouse cannot upsert on, so a null in a *key* column is emitted as ``""``;
a row without bucket bounds gets its window's. A product the API renamed is emitted
under its current name (``claude-in-slack`` -> ``claude-tag``), so a rename inside the
lookback replaces rows instead of adding a second copy.

A 400 for a window reaching into the last week means "not available yet": the stream
stops there (``availability.py``). A 400 for the first window near the API's 365-day
limit moves the start forward a day instead of failing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Generator, Iterable, Iterator
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_claude_enterprise.http.client import AnalyticsStream
from tap_claude_enterprise.http.errors import BadRequestError, DateNotAvailableError
from tap_claude_enterprise.records.conformance import FitsRecords
from tap_claude_enterprise.records.organization import keyed, organization_label
from tap_claude_enterprise.sync.availability import (
    REPORT_EDGE_DAYS,
    first_recent_day,
    log_not_available,
    near_report_age_limit,
)
from tap_claude_enterprise.sync.windows import (
    MAX_BUCKETS_PER_PAGE,
    TimeWindow,
    configured_report_bounds,
    day_start,
    floor_to_bucket,
    format_timestamp,
    parse_timestamp,
    report_window_span,
    split_window,
    utc_now,
)

# Dimensions every report can group by, in the order key columns are listed.
USAGE_DIMENSIONS = (
    "product",
    "model",
    "context_window",
    "inference_geo",
    "speed",
    "rbac_group_id",
    "slack_channel_id",
    "claude_tag_category",
    "claude_tag_user_id",
)
COST_DIMENSIONS = (*USAGE_DIMENSIONS, "cost_type", "token_type")
DEFAULT_GROUP_BY = ("product", "model")
MAX_USER_ROWS_PER_PAGE = 1000
MISSING_KEY = ""
# /usage_report and /cost_report list at most this many groups per bucket.
TOP_GROUPS_PER_BUCKET = 100
# Dimension values the API renamed: old value -> the one emitted (reference R2).
RENAMED_VALUES = {"product": {"claude-in-slack": "claude-tag", "claude_in_slack": "claude-tag"}}
# Bucket fields every result row gets (others are passed on as unknown fields).
BUCKET_FIELDS = frozenset({"starting_at", "ending_at", "results"})


def validate_group_by(values: Iterable[str], *, cost: bool) -> list[str]:
    """Check a ``*_group_by`` setting; return it in canonical order.

    Raises ValueError naming the allowed values, before any request is made.
    """
    allowed = COST_DIMENSIONS if cost else USAGE_DIMENSIONS
    values = list(values)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        setting = "cost_group_by" if cost else "usage_group_by"
        msg = (
            f"{setting} has {', '.join(repr(v) for v in unknown)}, which the "
            f"{'cost' if cost else 'usage'} reports cannot group by. Allowed values: "
            f"{', '.join(allowed)}."
        )
        raise ValueError(msg)
    return [d for d in allowed if d in values]


def cents_to_usd(cents: Decimal) -> Decimal:
    """Exact conversion (a power-of-ten shift, no rounding)."""
    return cents.scaleb(-2)


class ReportStream(FitsRecords, AnalyticsStream):
    """Shared window walking, paging and record shaping of the four reports."""

    replication_key = "starting_at"
    cost: ClassVar[bool] = False
    per_user: ClassVar[bool] = False

    @property
    def bucket_width(self) -> str:
        """``report_bucket_width`` (1d, 1h or 1m)."""
        return str(self.config.get("report_bucket_width", "1d"))

    @property
    def group_by(self) -> list[str]:
        """The validated dimensions this report groups by."""
        setting = "cost_group_by" if self.cost else "usage_group_by"
        return validate_group_by(self.config.get(setting, DEFAULT_GROUP_BY), cost=self.cost)

    @property
    def key_dimensions(self) -> list[str]:
        """Dimension columns in the primary key.

        Grouping by ``token_type`` also fans out web-search and code-execution rows,
        which differ only in ``cost_type``, so ``cost_type`` is then a key too.
        """
        dims = list(self.group_by)
        if "token_type" in dims and "cost_type" not in dims:
            dims.insert(dims.index("token_type"), "cost_type")
        return dims

    @property
    def primary_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        """Bucket start, the user on per-user reports, and every grouped dimension."""
        user = ("user_id",) if self.per_user else ()
        return keyed(("starting_at", *user, *self.key_dimensions), organization_label(self.config))

    @primary_keys.setter
    def primary_keys(self, value: Any) -> None:
        """Keys follow the grouping settings; catalog overrides are ignored."""
        del value

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """The window, bucket width, groups and largest page size."""
        assert context is not None
        params: dict[str, Any] = {
            "starting_at": context["starting_at"],
            "ending_at": context["ending_at"],
            "bucket_width": self.bucket_width,
            "limit": MAX_USER_ROWS_PER_PAGE
            if self.per_user
            else MAX_BUCKETS_PER_PAGE[self.bucket_width],
        }
        if self.group_by:
            params["group_by[]"] = list(self.group_by)
        return params

    def window_bounds(self) -> TimeWindow | None:
        """The span this run requests: bookmark minus ``cost_lookback_days`` onward."""
        bookmark = self.stored_bookmark(self.stream_state)
        return configured_report_bounds(self.config, bookmark, self.bucket_width)

    # --- records ------------------------------------------------------------------

    def shape(
        self, row: dict[str, Any], envelope: dict[str, Any], window: TimeWindow
    ) -> dict[str, Any]:
        """Add the envelope context, exact money and non-null key columns."""
        if not row.get("starting_at"):
            # Rows without bucket bounds cover the whole window they were asked for.
            row["starting_at"] = format_timestamp(window.start)
            row["ending_at"] = row.get("ending_at") or format_timestamp(window.end)
        for name, renamed in RENAMED_VALUES.items():
            value = row.get(name)
            if value in renamed:
                row[name] = renamed[value]
        row["organization_id"] = envelope.get("organization_id")
        row["data_refreshed_at"] = envelope.get("data_refreshed_at")
        if self.cost:
            for name in ("amount", "list_amount"):
                value = row.get(name)
                cents = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
                row[name] = cents
                row[f"{name}_usd"] = None if cents is None else cents_to_usd(cents)
        for name in self._key_dimension_names:
            if row.get(name) is None:
                row[name] = MISSING_KEY
        return self.fitter.fit(row)

    @cached_property
    def _key_dimension_names(self) -> tuple[str, ...]:
        # Settings do not change during a run; ``key_dimensions`` validates them per call.
        return tuple(self.key_dimensions)

    def page_records(self, payload: dict[str, Any], window: TimeWindow) -> list[dict[str, Any]]:
        """Records of one parsed page of ``window``."""
        raise NotImplementedError

    # --- windows ------------------------------------------------------------------

    def _window_chain(
        self, window: TimeWindow, cancelled: threading.Event
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Records of one window, page by page, with the page's watermark."""
        context = {
            "starting_at": format_timestamp(window.start),
            "ending_at": format_timestamp(window.end),
        }

        def to_records(payload: dict[str, Any]) -> list[dict[str, Any]]:
            return self.page_records(payload, window)

        for records, payload in self.restartable_chain(context, cancelled, to_records):
            yield records, payload.get("data_refreshed_at")

    def stream_records(self) -> Iterable[dict[str, Any]]:
        """Walk the windows in order; STATE after each complete window.

        A 400 for the first window near the 365-day limit moves the start forward one
        day (at most ``REPORT_EDGE_DAYS`` times): the API no longer serves that day.
        """
        bounds = self.window_bounds()
        for _ in range(REPORT_EDGE_DAYS + 1):
            if bounds is None:
                self.logger.info("%s: nothing to fetch", self.name)
                return
            refused_start = yield from self._walk(bounds)
            if refused_start is None:
                return
            start = day_start(refused_start.date() + dt.timedelta(days=1))
            self.logger.warning(
                "%s: the API refused a window starting %s, near its 365-day limit; "
                "starting at %s instead (the API no longer serves the time before it).",
                self.name,
                format_timestamp(refused_start),
                format_timestamp(start),
            )
            bounds = TimeWindow(start, bounds.end) if start < bounds.end else None
        msg = f"{self.name}: the API kept refusing the oldest window; see the errors above"
        raise BadRequestError(msg)

    def _walk(self, bounds: TimeWindow) -> Generator[dict[str, Any], None, dt.datetime | None]:
        """Records of every window of ``bounds``; the start to move, if it was too old."""
        windows = split_window(bounds, report_window_span(self.bucket_width))
        bookmark = parse_timestamp(self.stored_bookmark(self.stream_state))
        with self.prefetched(windows, self._window_chain) as chains:
            for index, (window, pages) in enumerate(chains, start=1):
                try:
                    refreshed = yield from self._read(pages)
                except DateNotAvailableError as exc:
                    yield from self._shortened(window, exc, bookmark, first=index == 1)
                    return None
                except BadRequestError:
                    if index == 1 and near_report_age_limit(window.start, utc_now()):
                        return window.start
                    raise
                bookmark = self._commit(window, refreshed, bookmark)
                span = f"{window.start.date()}..{window.end.date()}"
                self.log_progress(f"window {span}", index, len(windows))
        return None

    def _read(
        self, pages: Iterable[tuple[list[dict[str, Any]], str | None]]
    ) -> Generator[dict[str, Any], None, str | None]:
        """Yield a window's records; return its latest watermark."""
        refreshed: str | None = None
        for records, page_refreshed in pages:
            refreshed = page_refreshed or refreshed
            self.stats["records"] += len(records)
            yield from records
        return refreshed

    def _commit(
        self, window: TimeWindow, refreshed: str | None, bookmark: dt.datetime | None
    ) -> dt.datetime | None:
        """Move the bookmark to the end of what is known complete, and emit STATE.

        Buckets at or after the watermark are incomplete, and the API has been seen
        to cut ``ending_at`` silently at the start of the current UTC day, so the
        bookmark never passes either.
        """
        watermark = parse_timestamp(refreshed)
        if watermark is not None:
            today = floor_to_bucket(utc_now(), "1d")
            complete = min(window.end, floor_to_bucket(watermark, self.bucket_width), today)
            if bookmark is None or complete > bookmark:
                bookmark = complete
        if bookmark is not None:
            self.commit_bookmark(format_timestamp(bookmark))
        return bookmark

    def _shortened(
        self,
        window: TimeWindow,
        exc: DateNotAvailableError,
        bookmark: dt.datetime | None,
        *,
        first: bool,
    ) -> Iterator[dict[str, Any]]:
        """After "not available yet": read the window up to the day the API named.

        Without a day named, the part of the window older than a week is read: the API
        serves that in any case, so a refusal there is about the request and stays an
        error (with the API's message) instead of silently ending the stream. A run
        whose only window is that recent checks the day before it once, likewise.
        """
        what = f"the window {format_timestamp(window.start)}..{format_timestamp(window.end)}"
        if exc.latest_day is not None:
            end = day_start(exc.latest_day + dt.timedelta(days=1))
        else:
            end = day_start(first_recent_day(utc_now().date()))
            if first and window.start >= end:
                self._check_not_a_lag(TimeWindow(end - dt.timedelta(days=1), end), exc)
        log_not_available(self.logger, self.name, what, exc.latest_day, str(exc))
        if not window.start < end < window.end:
            return
        shorter = TimeWindow(window.start, end)
        try:
            refreshed = yield from self._read(self._window_chain(shorter, threading.Event()))
        except DateNotAvailableError as again:
            log_not_available(self.logger, self.name, "a shorter window", None, str(again))
            return
        self._commit(shorter, refreshed, bookmark)


    def _check_not_a_lag(self, older: TimeWindow, refusal: DateNotAvailableError) -> None:
        """Ask for ``older`` once: if the API refuses it too, the 400 is about the request."""
        context = {
            "starting_at": format_timestamp(older.start),
            "ending_at": format_timestamp(older.end),
        }
        try:
            next(iter(self.fetch_pages(context)), None)
        except BadRequestError as exc:
            msg = f"{exc} (the API refused an older day too, so this is not its publication lag)"
            raise BadRequestError(msg) from refusal


class BucketedReportStream(ReportStream):
    """``/usage_report`` and ``/cost_report``: buckets, each with ``results[]``."""

    def page_records(self, payload: dict[str, Any], window: TimeWindow) -> list[dict[str, Any]]:
        """One record per bucket and result, with the bucket's bounds."""
        records = []
        for bucket in payload["data"]:
            results = bucket.get("results") or []
            # Fields the API may add to a bucket reach each of its rows (and, being
            # unknown, the rows' _extra_fields) instead of vanishing.
            extra = {k: v for k, v in bucket.items() if k not in BUCKET_FIELDS}
            if len(results) >= TOP_GROUPS_PER_BUCKET:
                self.logger.warning(
                    "%s: the bucket starting %s has %d groups, the most the API reports; "
                    "smaller groups may be missing. Group by fewer dimensions, or use "
                    "the per-user report for complete totals.",
                    self.name,
                    bucket.get("starting_at"),
                    len(results),
                )
            for result in results:
                for name, value in extra.items():
                    result.setdefault(name, value)
                result["starting_at"] = bucket.get("starting_at")
                result["ending_at"] = bucket.get("ending_at")
                records.append(self.shape(result, payload, window))
        return records


class PerUserReportStream(ReportStream):
    """``/user_usage_report`` and ``/user_cost_report``: one row per user and bucket."""

    per_user = True

    def page_records(self, payload: dict[str, Any], window: TimeWindow) -> list[dict[str, Any]]:
        """One record per row, with ``user_id`` copied from ``actor``."""
        records = []
        for row in payload["data"]:
            actor = row.get("actor") or {}
            if "email_address" not in actor and "email" in actor:
                # Older responses named the key ``email``; keep both, fill the new one.
                actor["email_address"] = actor["email"]
            row["user_id"] = actor.get("user_id") or MISSING_KEY
            records.append(self.shape(row, payload, window))
        return records


class UsageReportStream(BucketedReportStream):
    """Token usage over time (``/usage_report``)."""

    name = "usage_report"
    endpoint = "usage_report"


class CostReportStream(BucketedReportStream):
    """Spend over time (``/cost_report``)."""

    name = "cost_report"
    endpoint = "cost_report"
    cost = True


class UserUsageReportStream(PerUserReportStream):
    """Token usage per user (``/user_usage_report``)."""

    name = "user_usage_report"
    endpoint = "user_usage_report"


class UserCostReportStream(PerUserReportStream):
    """Spend per user (``/user_cost_report``)."""

    name = "user_cost_report"
    endpoint = "user_cost_report"
    cost = True

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
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

from singer_sdk.helpers.types import Context

from tap_claude_enterprise.http.errors import BadRequestError, DateNotAvailableError
from tap_claude_enterprise.records.organization import keyed, organization_label
from tap_claude_enterprise.records.shaping import (
    MISSING_KEY,
    add_envelope,
    add_money,
    fill_missing_keys,
)
from tap_claude_enterprise.streams.dimensions import check_group_by
from tap_claude_enterprise.sync.availability import (
    REPORT_EDGE_DAYS,
    first_recent_day,
    near_report_age_limit,
)
from tap_claude_enterprise.sync.engine import ChainStream
from tap_claude_enterprise.sync.windows import (
    MAX_BUCKETS_PER_PAGE,
    TimeWindow,
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
# /usage_report and /cost_report list at most this many groups per bucket.
TOP_GROUPS_PER_BUCKET = 100
# Dimension values the API renamed: old value -> the one emitted (reference R2).
RENAMED_VALUES = {"product": {"claude-in-slack": "claude-tag", "claude_in_slack": "claude-tag"}}
# Bucket fields every result row gets (others are passed on as unknown fields).
BUCKET_FIELDS = frozenset({"starting_at", "ending_at", "results"})


def validate_group_by(values: Iterable[str], *, cost: bool) -> list[str]:
    """Check a ``*_group_by`` setting; return it in canonical order."""
    return check_group_by(
        values,
        COST_DIMENSIONS if cost else USAGE_DIMENSIONS,
        setting="cost_group_by" if cost else "usage_group_by",
        what=f"the {'cost' if cost else 'usage'} reports",
    )


class ReportStream(ChainStream[TimeWindow]):
    """The ``report`` family: windows, paging and record shaping of the four reports.

    Per-user reports (trait ``per_user``) have one row per user and bucket; the others
    have buckets, each with ``results[]``. Trait ``measure``: usage or cost.
    """

    replication_key = "starting_at"

    @property
    def cost(self) -> bool:
        """Whether this report is about spend."""
        return self.spec.trait("measure") == "cost"

    @property
    def per_user(self) -> bool:
        """Whether rows are per user."""
        return bool(self.spec.trait("per_user", False))

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
    def primary_keys(self) -> Sequence[str]:
        """Bucket start, the user on per-user reports, and every grouped dimension."""
        fixed = self.spec.primary_keys
        return keyed((*fixed, *self.key_dimensions), organization_label(self.config))

    @primary_keys.setter
    def primary_keys(self, value: Sequence[str]) -> None:
        """Keys follow the grouping settings; catalog overrides are ignored."""
        del value

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """The window, bucket width, groups and largest page size."""
        assert context is not None
        params: dict[str, Any] = {
            "starting_at": context["starting_at"],
            "ending_at": context["ending_at"],
            "bucket_width": self.bucket_width,
            "limit": self.spec.page_size or MAX_BUCKETS_PER_PAGE[self.bucket_width],
        }
        if self.group_by:
            params["group_by[]"] = list(self.group_by)
        return params

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
        add_envelope(row, envelope)
        add_money(row, self.spec.money)
        fill_missing_keys(row, self._key_dimension_names)
        return self.fitter.fit(row)

    @cached_property
    def _key_dimension_names(self) -> tuple[str, ...]:
        # Settings do not change during a run; ``key_dimensions`` validates them per call.
        return tuple(self.key_dimensions)

    def page_records(self, payload: dict[str, Any], key: TimeWindow) -> list[dict[str, Any]]:
        """Records of one parsed page of window ``key``."""
        if self.per_user:
            return [self.shape(row, payload, key) for row in self._user_rows(payload)]
        return [self.shape(row, payload, key) for row in self._bucket_rows(payload)]

    def _user_rows(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """One row per user and bucket, with ``user_id`` copied from ``actor``."""
        for row in payload["data"]:
            actor = row.get("actor") or {}
            if "email_address" not in actor and "email" in actor:
                # Older responses named the key ``email``; keep both, fill the new one.
                actor["email_address"] = actor["email"]
            row["user_id"] = actor.get("user_id") or MISSING_KEY
        return payload["data"]

    def _bucket_rows(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """One row per bucket and result, with the bucket's bounds."""
        rows = []
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
                rows.append(result)
        return rows

    # --- windows ------------------------------------------------------------------

    def chain_keys(self) -> list[TimeWindow]:
        """Windows of up to 31 days (one for minute buckets) from the lookback onward."""
        self._bookmark = parse_timestamp(self.stored_bookmark(self.stream_state))
        self._moved_starts = 0
        bounds = self.time_window_bounds(self.bucket_width)
        return [] if bounds is None else split_window(bounds, report_window_span(self.bucket_width))

    def chain_context(self, key: TimeWindow) -> dict[str, Any]:
        """The window."""
        return {"starting_at": format_timestamp(key.start), "ending_at": format_timestamp(key.end)}

    def page_meta(self, payload: dict[str, Any], records: list[dict[str, Any]]) -> Any:
        """The page's watermark."""
        return payload.get("data_refreshed_at")

    def chain_bookmark(self, key: TimeWindow, metas: list[Any]) -> str | None:
        """The end of what is known complete.

        Buckets at or after the watermark are incomplete, and the API has been seen
        to cut ``ending_at`` silently at the start of the current UTC day, so the
        bookmark never passes either.
        """
        watermark = parse_timestamp(next((m for m in reversed(metas) if m), None))
        if watermark is not None:
            today = floor_to_bucket(utc_now(), "1d")
            complete = min(key.end, floor_to_bucket(watermark, self.bucket_width), today)
            if self._bookmark is None or complete > self._bookmark:
                self._bookmark = complete
        return None if self._bookmark is None else format_timestamp(self._bookmark)

    def progress_label(self, key: TimeWindow) -> str:
        """``window 2026-01-01..2026-02-01``."""
        return f"window {key.start.date()}..{key.end.date()}"

    def refusal_label(self, key: TimeWindow) -> str:
        """The window, to the second."""
        return f"the window {format_timestamp(key.start)}..{format_timestamp(key.end)}"

    def refused(
        self,
        key: TimeWindow,
        exc: BadRequestError | DateNotAvailableError,
        rest: list[TimeWindow],
        *,
        first: bool,
    ) -> list[TimeWindow]:
        """Read a window "not available yet" up to the day the API named, then stop.

        Without a day named, the part of the window older than a week is read: the API
        serves that in any case, so a refusal there is about the request and stays an
        error (with the API's message) instead of silently ending the stream. A run
        whose only window is that recent checks the day before it once, likewise.
        A 400 for the first window near the 365-day limit moves the start forward a day.
        """
        if not isinstance(exc, DateNotAvailableError):
            if first and near_report_age_limit(key.start, utc_now()):
                return self._moved_start(key, rest[-1].end if rest else key.end)
            raise exc
        if exc.latest_day is not None:
            end = day_start(exc.latest_day + dt.timedelta(days=1))
        else:
            end = day_start(first_recent_day(utc_now().date()))
            if first and key.start >= end:
                self.check_not_a_lag(
                    self.chain_context(TimeWindow(end - dt.timedelta(days=1), end)), exc
                )
        self.log_not_available(self.refusal_label(key), exc)
        return [TimeWindow(key.start, end)] if key.start < end < key.end else []

    def _moved_start(self, refused: TimeWindow, end: dt.datetime) -> list[TimeWindow]:
        """The windows from the day after a start the API no longer serves."""
        self._moved_starts += 1
        start = day_start(refused.start.date() + dt.timedelta(days=1))
        self.logger.warning(
            "%s: the API refused a window starting %s, near its 365-day limit; "
            "starting at %s instead (the API no longer serves the time before it).",
            self.name,
            format_timestamp(refused.start),
            format_timestamp(start),
        )
        if self._moved_starts > REPORT_EDGE_DAYS:
            msg = f"{self.name}: the API kept refusing the oldest window; see the errors above"
            raise BadRequestError(msg)
        if start >= end:
            self.logger.info("%s: %s", self.name, self.nothing_to_fetch)
            return []
        return split_window(TimeWindow(start, end), report_window_span(self.bucket_width))

"""Engagement families: one UTC day per request (``daily``), or a day range (``summaries``).

Each record is the API's row unchanged plus ``date`` (the day it describes), and the key
columns the endpoint table's traits name (``key_from``: ``user_activity`` copies
``user.id`` to ``user_id``; ``empty_when_null``: a null ``plugin_id`` becomes ""). The
bookmark is the last day fetched completely (see ``windows.py`` for the day logic).

Each endpoint learns on its own which day it serves (``availability.py``): the day
``/summaries`` names only decides how many days are fetched in parallel, never where a
stream stops.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from singer_sdk.helpers.types import Context

from tap_claude_enterprise.http.errors import BadRequestError, DateNotAvailableError
from tap_claude_enterprise.records.shaping import MISSING_KEY, exact_fields, nested
from tap_claude_enterprise.sync import restate
from tap_claude_enterprise.sync.availability import DayLimit, first_recent_day
from tap_claude_enterprise.sync.engine import ChainStream, Page
from tap_claude_enterprise.sync.windows import (
    API_FLOOR,
    SUMMARIES_FALLBACK_SPAN_DAYS,
    SUMMARIES_MAX_SPAN_DAYS,
    DayRange,
    engagement_first_day,
    engagement_last_day,
    iter_days,
    parse_day,
    split_days,
    utc_now,
)


class EngagementStream(ChainStream[Any]):
    """Shared day bounds and record shaping of the engagement endpoints."""

    replication_key = "date"
    nothing_to_fetch = "nothing to fetch (already at the latest day)"

    def day_bounds(self) -> tuple[dt.date, dt.date]:
        """First and last day this run requests."""
        first = engagement_first_day(
            start_date=parse_day(self.config.get("start_date")),
            bookmark=parse_day(self.stored_bookmark(self.stream_state)),
            lookback_days=int(self.config.get("engagement_lookback_days", 3)),
            restate_from=restate.pending_day(self.config, self.name, self.stream_state),
        )
        last = engagement_last_day(
            end_date=parse_day(self.config.get("end_date")), today=utc_now().date()
        )
        return first, last

    def to_record(self, row: dict[str, Any], day: dt.date) -> dict[str, Any]:
        """The API row plus its ``date`` and key columns; money strings become exact decimals."""
        for column, path in self.spec.trait("key_from", {}).items():
            # A key column is never null (a row without a user would be an aggregate).
            row[column] = nested(row, path) or MISSING_KEY
        for column in self.spec.trait("empty_when_null", ()):
            if row.get(column) is None:
                row[column] = MISSING_KEY
        row["date"] = day.isoformat()
        exact_fields(row, self.spec.money)
        return self.fitter.fit(row)


class DailyStream(EngagementStream):
    """The ``daily`` family: one ``date`` per request, paged with ``next_page``."""

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """``date`` and, where the table names one, the page size."""
        assert context is not None
        params: dict[str, Any] = {"date": context["date"]}
        if self.spec.page_size is not None:
            params["limit"] = self.spec.page_size
        return params

    @cached_property
    def day_limit(self) -> DayLimit:
        """The first day this endpoint refused in this run, shared by its chains."""
        return DayLimit()

    def chain_keys(self) -> list[dt.date]:
        """Every day from the lookback to yesterday (or ``end_date``)."""
        return list(iter_days(*self.day_bounds()))

    def parallel_count(self, keys: Sequence[dt.date]) -> int:
        """Days up to the one /summaries served run in parallel; later ones one at a time.

        So an endpoint that lags behind /summaries costs one refused request, while
        one that is ahead is still read.
        """
        hint = self.run.latest_available_day
        return len([d for d in keys if hint is None or d <= hint])

    def chain_context(self, key: dt.date) -> dict[str, Any]:
        """One day."""
        return {"date": key.isoformat()}

    def run_chain(self, key: dt.date, cancelled: threading.Event) -> Iterator[Page]:
        """A day's pages; a day after one this endpoint refused is not asked for."""
        if self.day_limit.refuses(key):
            raise DateNotAvailableError(f"/{self.endpoint}: a day before {key} was refused", None)
        try:
            yield from super().run_chain(key, cancelled)
        except DateNotAvailableError:
            self.day_limit.refuse(key)
            raise

    def page_records(self, payload: dict[str, Any], key: dt.date) -> list[dict[str, Any]]:
        """One record per row, with its day."""
        return [self.to_record(row, key) for row in payload["data"]]

    def chain_bookmark(self, key: dt.date, metas: list[Any]) -> str:
        """The day itself."""
        return key.isoformat()

    def progress_label(self, key: dt.date) -> str:
        """``day 2026-03-01``."""
        return f"day {key}"

    def refusal_label(self, key: dt.date) -> str:
        """The day."""
        return str(key)

    def lag_check_context(
        self, key: dt.date, refusal: DateNotAvailableError, *, first: bool
    ) -> Context | None:
        """The run's first day was refused: ask for a day older than a week once."""
        older = first_recent_day(utc_now().date()) - dt.timedelta(days=1)
        return {"date": older.isoformat()} if first and older >= API_FLOOR else None


@dataclass(frozen=True)
class SummaryWindow:
    """One /summaries request: a day range, open-ended (no ``ending_date``) or not."""

    days: DayRange
    open_end: bool = False


class SummariesStream(EngagementStream):
    """The ``summaries`` family: a day range per request, not paged.

    One request covers up to 366 days (31 in older API versions: a refused wide range
    falls back to 31-day windows). The last window leaves ``ending_date`` out, so the
    API answers up to its latest available day, which the other streams then reuse
    instead of probing for it.
    """

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """``starting_date`` and, unless open-ended, the exclusive ``ending_date``."""
        assert context is not None
        params = {"starting_date": context["starting_date"]}
        if context.get("ending_date"):
            params["ending_date"] = context["ending_date"]
        return params

    def normalize_envelope(self, body: dict[str, Any]) -> None:
        """Older API versions answer under ``summaries`` instead of ``data``."""
        if "data" not in body and isinstance(body.get("summaries"), list):
            body["data"] = body.pop("summaries")

    def chain_keys(self) -> list[SummaryWindow]:
        """The widest windows the API accepts; the last open-ended unless ``end_date``."""
        first, self._last = self.day_bounds()
        span = self.run.summaries_span or SUMMARIES_MAX_SPAN_DAYS
        return _windows(
            split_days(first, self._last, span), open_end=not self.config.get("end_date")
        )

    def parallel_count(self, keys: Sequence[SummaryWindow]) -> int:
        """One window at a time: each answer can change the windows after it."""
        return 0

    def chain_context(self, key: SummaryWindow) -> dict[str, Any]:
        """The range; the exclusive end unless open-ended."""
        context = {"starting_date": key.days.first.isoformat()}
        if not key.open_end:
            context["ending_date"] = (key.days.last + dt.timedelta(days=1)).isoformat()
        return context

    def page_records(self, payload: dict[str, Any], key: SummaryWindow) -> list[dict[str, Any]]:
        """The rows of the window's days (an open end may answer later ones)."""
        records = []
        for row in payload["data"]:
            # Rows name their day in starting_at (some shapes: date); a row naming
            # none cannot be keyed, and is reported instead of dropped silently.
            day = parse_day(row.get("starting_at") or row.get("date"))
            if day is None:
                self.logger.warning(
                    "%s: a row without starting_at or date was left out (fields: %s)",
                    self.name,
                    ", ".join(sorted(row)),
                )
                continue
            if key.days.first <= day <= self._last:
                records.append(self.to_record(row, day))
        return records

    def page_meta(self, payload: dict[str, Any], records: list[dict[str, Any]]) -> Any:
        """The newest day of the page."""
        return max((r["date"] for r in records), default=None)

    def chain_bookmark(self, key: SummaryWindow, metas: list[Any]) -> str | None:
        """The newest day served; an open end also tells the run its latest day."""
        newest = max((m for m in metas if m is not None), default=None)
        if newest is not None and key.open_end:
            self.run.learn_latest_available_day(parse_day(newest))
        return newest

    def progress_label(self, key: SummaryWindow) -> str:
        """``days 2026-01-01..2026-03-01``."""
        return f"days {key.days.first}..{key.days.last}"

    def refusal_label(self, key: SummaryWindow) -> str:
        """The window's first day."""
        return str(key.days.first)

    def refused(
        self,
        key: SummaryWindow,
        exc: BadRequestError | DateNotAvailableError,
        rest: list[SummaryWindow],
        *,
        first: bool,
    ) -> list[SummaryWindow]:
        """Fall back to 31-day windows, or read up to the latest day the API named."""
        latest = getattr(exc, "latest_day", None)
        if latest is None and key.days.days > SUMMARIES_FALLBACK_SPAN_DAYS:
            # Older API versions take at most 31 days per request; only a refused
            # 31-day window can mean "not available yet".
            self.logger.info(
                "%s: the API refused a %d-day range; using %d-day windows.",
                self.name,
                key.days.days,
                SUMMARIES_FALLBACK_SPAN_DAYS,
            )
            self.run.summaries_span = SUMMARIES_FALLBACK_SPAN_DAYS
            last = rest[-1] if rest else key
            ranges = split_days(key.days.first, last.days.last, SUMMARIES_FALLBACK_SPAN_DAYS)
            return _windows(ranges, open_end=last.open_end)
        if not isinstance(exc, DateNotAvailableError):
            raise exc
        if latest is None or latest < key.days.first or latest >= key.days.last:
            # No day named, or none that makes the window shorter: stop here.
            self.log_not_available(self.refusal_label(key), exc)
            return []
        self.run.learn_latest_available_day(latest)
        # Exactly the days named, no open end.
        shorter = [SummaryWindow(DayRange(key.days.first, latest))]
        return shorter + [SummaryWindow(w.days) for w in rest if w.days.first <= latest]


def _windows(ranges: list[DayRange], *, open_end: bool) -> list[SummaryWindow]:
    """Windows of ``ranges``; only the last may be open-ended."""
    return [SummaryWindow(r, open_end and i == len(ranges) - 1) for i, r in enumerate(ranges)]

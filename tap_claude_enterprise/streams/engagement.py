"""Engagement and adoption streams: one UTC day per request (``/summaries``: a range).

Each record is the API's row unchanged plus ``date`` (the day it describes); the
``user_activity`` stream also copies ``user.id`` to a top-level ``user_id`` key. The
bookmark is the last day fetched completely (see ``windows.py`` for the day logic).

Each endpoint learns on its own which day it serves (``availability.py``): the day
``/summaries`` names only decides how many days are fetched in parallel, never where a
stream stops.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context

from tap_claude_enterprise.http.client import AnalyticsStream
from tap_claude_enterprise.http.errors import BadRequestError, DateNotAvailableError
from tap_claude_enterprise.records.conformance import FitsRecords
from tap_claude_enterprise.sync.availability import DayLimit, first_recent_day, log_not_available
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

MAX_PAGE_SIZE = 1000


class EngagementStream(FitsRecords, AnalyticsStream):
    """Shared day-walking logic of the engagement endpoints."""

    replication_key = "date"
    money_fields: ClassVar[tuple[str, ...]] = ()

    def day_bounds(self) -> tuple[dt.date, dt.date]:
        """First and last day this run requests."""
        first = engagement_first_day(
            start_date=parse_day(self.config.get("start_date")),
            bookmark=parse_day(self.stored_bookmark(self.stream_state)),
            lookback_days=int(self.config.get("engagement_lookback_days", 3)),
        )
        last = engagement_last_day(
            end_date=parse_day(self.config.get("end_date")),
            latest_available=None,  # per endpoint: each stream finds its own last day
            today=utc_now().date(),
        )
        return first, last

    def to_record(self, row: dict[str, Any], day: dt.date) -> dict[str, Any]:
        """The API row plus its ``date``; money strings become exact decimals."""
        row["date"] = day.isoformat()
        for name in self.money_fields:
            value = row.get(name)
            if isinstance(value, str):
                row[name] = Decimal(value)
        return self.fitter.fit(row)


class DailyStream(EngagementStream):
    """An endpoint that takes one ``date`` per request and pages with ``next_page``."""

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """``date`` and the largest page size."""
        assert context is not None
        return {"date": context["date"], "limit": MAX_PAGE_SIZE}

    @cached_property
    def day_limit(self) -> DayLimit:
        """The first day this endpoint refused in this run, shared by its chains."""
        return DayLimit()

    def _day_chain(self, day: dt.date, cancelled: threading.Event) -> Iterator[list[dict]]:
        if self.day_limit.refuses(day):
            # Another chain of this endpoint already learned that this day is not served.
            raise DateNotAvailableError(f"/{self.endpoint}: a day before {day} was refused", None)
        context = {"date": day.isoformat()}

        def to_records(payload: dict[str, Any]) -> list[dict[str, Any]]:
            return [self.to_record(row, day) for row in payload["data"]]

        try:
            for records, _ in self.restartable_chain(context, cancelled, to_records):
                yield records
        except DateNotAvailableError:
            self.day_limit.refuse(day)
            raise

    def _chains(self, days: list[dt.date]) -> Iterator[tuple[dt.date, Iterable[list[dict]]]]:
        """Days in order with their pages: in parallel up to the day /summaries served.

        Days after it are asked one at a time, so an endpoint that lags behind
        /summaries costs one refused request, while one that is ahead is still read.
        """
        hint = self.tap.latest_available_day
        ahead = [d for d in days if hint is None or d <= hint]
        with self.prefetched(ahead, self._day_chain) as chains:
            yield from chains
        for day in days[len(ahead) :]:
            yield day, self._day_chain(day, threading.Event())

    def stream_records(self) -> Iterable[dict[str, Any]]:
        """Walk the days in order, emitting STATE after each complete day."""
        first, last = self.day_bounds()
        days = list(iter_days(first, last))
        if not days:
            self.logger.info("%s: nothing to fetch (already at the latest day)", self.name)
            return
        for index, (day, pages) in enumerate(self._chains(days), start=1):
            try:
                for records in pages:
                    self.stats["records"] += len(records)
                    yield from records
            except DateNotAvailableError as exc:
                if index == 1:
                    self._check_not_a_lag(exc)
                log_not_available(self.logger, self.name, str(day), exc.latest_day, str(exc))
                return
            self.commit_bookmark(day.isoformat())
            self.log_progress(f"day {day}", index, len(days))

    def _check_not_a_lag(self, refusal: DateNotAvailableError) -> None:
        """The run's first day was refused: tell the API's lag from a bad request.

        The same request for a day older than a week is asked once; if the API refuses
        that too, the 400 was about the request, not the day, and stays an error. A
        run whose first day is served (the usual lookback) never spends this request.
        """
        older = first_recent_day(utc_now().date()) - dt.timedelta(days=1)
        if older < API_FLOOR:
            return
        try:
            next(iter(self.fetch_pages({"date": older.isoformat()})), None)
        except BadRequestError as exc:
            msg = f"{exc} (the API refused an older day too, so this is not its publication lag)"
            raise BadRequestError(msg) from refusal


class UserActivityStream(DailyStream):
    """Per-member engagement for each day (``/users``)."""

    name = "user_activity"
    endpoint = "users"
    primary_keys = ("date", "user_id")

    def to_record(self, row: dict[str, Any], day: dt.date) -> dict[str, Any]:
        """Also copy ``user.id`` to a top-level ``user_id``."""
        user = row.get("user") or {}
        # A key column is never null (a row without a user would be an aggregate).
        row["user_id"] = user.get("id") or ""
        return super().to_record(row, day)


class ChatProjectsStream(DailyStream):
    """Per-project claude.ai chat usage for each day (``/apps/chat/projects``)."""

    name = "chat_projects"
    endpoint = "apps/chat/projects"
    primary_keys = ("date", "project_id")


class SkillsStream(DailyStream):
    """Per-skill usage for each day (``/skills``)."""

    name = "skills"
    endpoint = "skills"
    primary_keys = ("date", "skill_name")
    money_fields = ("estimated_overage_spend", "attributed_list_price")


class ConnectorsStream(DailyStream):
    """Per-connector (MCP) usage for each day (``/connectors``)."""

    name = "connectors"
    endpoint = "connectors"
    primary_keys = ("date", "connector_name")


class PluginsStream(DailyStream):
    """Per-plugin installs and invocations for each day (``/plugins``)."""

    name = "plugins"
    endpoint = "plugins"
    # Plugin names are not unique: the same name can come from two marketplaces
    # (``name@marketplace`` ids), so the id is part of the key; null ids become "".
    primary_keys = ("date", "plugin_name", "plugin_id")

    def to_record(self, row: dict[str, Any], day: dt.date) -> dict[str, Any]:
        """A missing ``plugin_id`` (third-party, hashed ids) becomes "" in the key."""
        if row.get("plugin_id") is None:
            row["plugin_id"] = ""
        return super().to_record(row, day)


class ArtifactsStream(DailyStream):
    """The (artifact_type, is_shared) cube for each day (``/artifacts``).

    The ungrouped cube is never paginated and the API refuses ``limit``-driven paging
    without ``group_by[]``, so only ``date`` is sent.
    """

    name = "artifacts"
    endpoint = "artifacts"
    primary_keys = ("date", "artifact_type", "is_shared")

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """Only ``date``."""
        assert context is not None
        return {"date": context["date"]}


class SummariesStream(EngagementStream):
    """Organization-wide daily summary: DAU/WAU/MAU, adoption, seats (``/summaries``).

    One request covers up to 366 days (31 in older API versions: a refused wide range
    falls back to 31-day windows). The last window leaves ``ending_date`` out, so the
    API answers up to its latest available day, which the other streams then reuse
    instead of probing for it.
    """

    name = "summaries"
    endpoint = "summaries"
    primary_keys = ("date",)

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

    def _window_context(self, window: DayRange, *, open_end: bool) -> dict[str, str]:
        context = {"starting_date": window.first.isoformat()}
        if not open_end:
            context["ending_date"] = (window.last + dt.timedelta(days=1)).isoformat()
        return context

    def _fetch_window(self, window: DayRange, *, open_end: bool) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for payload in self.fetch_pages(self._window_context(window, open_end=open_end)):
            rows.extend(payload["data"])
        return rows

    def stream_records(self) -> Iterable[dict[str, Any]]:
        """Fetch the widest windows the API accepts; STATE after each window."""
        first, last = self.day_bounds()
        if first > last:
            self.logger.info("%s: nothing to fetch (already at the latest day)", self.name)
            return
        open_ended = not self.config.get("end_date")
        span = self.tap.summaries_span or SUMMARIES_MAX_SPAN_DAYS
        pending = split_days(first, last, span)
        done = 0
        while pending:
            window = pending.pop(0)
            is_last = not pending
            try:
                rows = self._fetch_window(window, open_end=open_ended and is_last)
            except (DateNotAvailableError, BadRequestError) as exc:
                latest = getattr(exc, "latest_day", None)
                if latest is None and window.days > SUMMARIES_FALLBACK_SPAN_DAYS:
                    # Older API versions take at most 31 days per request; only a
                    # refused 31-day window can mean "not available yet".
                    self.logger.info(
                        "%s: the API refused a %d-day range; using %d-day windows.",
                        self.name,
                        window.days,
                        SUMMARIES_FALLBACK_SPAN_DAYS,
                    )
                    self.tap.summaries_span = SUMMARIES_FALLBACK_SPAN_DAYS
                    rest = [window, *pending]
                    pending = split_days(rest[0].first, rest[-1].last, SUMMARIES_FALLBACK_SPAN_DAYS)
                    continue
                if not isinstance(exc, DateNotAvailableError):
                    raise
                if latest is None or latest < window.first or latest >= window.last:
                    # No day named, or none that makes the window shorter: stop here.
                    log_not_available(
                        self.logger, self.name, str(window.first), latest, str(exc)
                    )
                    return
                self.tap.learn_latest_available_day(latest)
                open_ended = False  # ask for exactly the days named, no open end
                pending.insert(0, DayRange(window.first, latest))
                pending = [w for w in pending if w.first <= latest]
                continue
            newest = None
            for row in rows:
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
                if day < window.first or day > last:
                    continue
                newest = day if newest is None or day > newest else newest
                self.stats["records"] += 1
                yield self.to_record(row, day)
            if newest is not None:
                if open_ended and is_last:
                    self.tap.learn_latest_available_day(newest)
                self.commit_bookmark(newest.isoformat())
            done += 1
            self.log_progress(f"days {window.first}..{window.last}", done, done + len(pending))

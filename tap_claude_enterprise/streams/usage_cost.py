"""The ``usage`` and ``cost`` streams: the beta Usage and Cost Analytics API.

``GET /v1/organizations/analytics/usage`` and ``/cost`` return flat rows, one per time
bucket and combination of the grouped dimensions, ``{starting_at, ending_at, group{...},
usage{...} | cost{...}}``, across pages (no top-100 cut), for Claude Enterprise *and*
Claude Console organizations, with an Analytics key or an Admin key. Every request
carries ``anthropic-beta: analytics-usage-cost-2026-08-24``.

Records are the API rows unchanged, plus every grouped dimension copied to a top-level
column so it can be a key (``actor`` as ``actor_id`` and ``actor_type``), exact cents in
``amount``/``list_amount`` with exact ``*_usd`` (cost), and the envelope's
``organization_id``/``data_refreshed_at`` when it has them. Key columns are never null.

The docs do not say the largest page size, the longest range per bucket width, whether
the envelope has ``has_more`` or a freshness watermark, or the actor's shape. The stream
starts from the largest plausible values and adapts when the API answers (see
``RequestLimits``); whatever it learns is logged once.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers.types import Context

from tap_claude_enterprise.http.redaction import redact
from tap_claude_enterprise.records.organization import keyed, organization_label
from tap_claude_enterprise.records.shaping import add_envelope, add_money, fill_missing_keys
from tap_claude_enterprise.streams.dimensions import check_group_by
from tap_claude_enterprise.sync.engine import ChainStream, Page
from tap_claude_enterprise.sync.key_access import is_admin_key
from tap_claude_enterprise.sync.windows import (
    BUCKET_WIDTHS,
    TimeWindow,
    floor_to_bucket,
    format_timestamp,
    parse_timestamp,
    split_window,
    utc_now,
)

BETA_HEADER = "analytics-usage-cost-2026-08-24"
TIME_BUCKET_WIDTHS = ("1d", "1h", "1m")
# ``group_by[]`` values the reference lists (BetaAnalyticsUsageGroupBy), alphabetical.
USAGE_DIMENSIONS = (
    "actor",
    "actor_type",
    "agent_id",
    "api_key_id",
    "claude_tag_category",
    "claude_tag_user_id",
    "context_window",
    "deployment_id",
    "environment_id",
    "inference_geo",
    "model",
    "product",
    "rbac_group_id",
    "service_tier",
    "session_id",
    "slack_channel_id",
    "speed",
    "user_profile_id",
    "workspace_id",
)
COST_DIMENSIONS = tuple(sorted((*USAGE_DIMENSIONS, "cost_type", "token_type")))
# Who spent what, on which model and product (Enterprise, Analytics key) ...
ENTERPRISE_GROUP_BY = ("actor", "model", "product")
# ... and which workspace and API key (Console, Admin key).
CONSOLE_GROUP_BY = ("api_key_id", "model", "workspace_id")
# Scoping filters: setting -> query parameter (lists go out as ``name[]=value``).
FILTERS = {
    "usage_cost_workspace_ids": "workspace_ids[]",
    "usage_cost_api_key_ids": "api_key_ids[]",
    "usage_cost_actor_ids": "actor_ids[]",
    "usage_cost_products": "products[]",
    "usage_cost_models": "models[]",
}
MAX_FILTER_VALUES = 100  # the reference's maxItems for actor_ids[]
# The first page size tried; the API's maximum is undocumented, a 400 naming it shrinks it.
FIRST_PAGE_SIZE = 1000
# The first window tried per bucket width (the legacy reports' limits).
FIRST_SPAN = {
    "1d": dt.timedelta(days=31),
    "1h": dt.timedelta(days=31),
    "1m": dt.timedelta(days=1),
}
# Without a ``data_refreshed_at`` watermark, buckets younger than this count as
# incomplete (per-user data settles 1-3 hours after the hour, per public reports).
ASSUMED_SETTLE = dt.timedelta(hours=6)
ACTOR_ID_KEYS = ("id", "user_id", "service_account_id", "api_key_id", "actor_id")
_NUMBER_UNIT = re.compile(r"(\d+)\s*(day|hour|minute)s?", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_EMPTY_RANGE = ("ending date must be after starting date", "ending_at must be after starting_at")


# --- settings ---------------------------------------------------------------------


def default_group_by(config: dict[str, Any]) -> tuple[str, ...]:
    """Console grouping for Admin keys, Enterprise grouping for Analytics keys."""
    return CONSOLE_GROUP_BY if is_admin_key(config.get("api_key")) else ENTERPRISE_GROUP_BY


def group_by_setting(cost: bool) -> str:
    """The setting that holds a stream's grouping."""
    return "cost_stream_group_by" if cost else "usage_stream_group_by"


def resolve_group_by(config: dict[str, Any], *, cost: bool) -> list[str]:
    """The validated grouping, in documented order.

    ``actor`` brings ``actor_type`` and ``token_type`` brings ``cost_type``.
    Without ``cost_type``, web-search and code-execution rows of one group would differ
    in nothing but their (null) token type, so they could not be told apart.
    """
    values = config.get(group_by_setting(cost))
    values = list(default_group_by(config) if values is None else values)
    allowed = COST_DIMENSIONS if cost else USAGE_DIMENSIONS
    values = check_group_by(
        values, allowed, setting=group_by_setting(cost), what=f"/{'cost' if cost else 'usage'}"
    )
    if "token_type" in values and "cost_type" not in values:
        values.append("cost_type")
    if "actor" in values and "actor_type" not in values:
        # One actor has one type: no extra rows, and the type comes from the API's enum.
        values.append("actor_type")
    return [d for d in allowed if d in values]


def validate_usage_cost_settings(config: dict[str, Any]) -> list[str]:
    """Errors in the usage/cost settings, found before any request."""
    errors = []
    width = config.get("usage_cost_bucket_width", "1d")
    if width not in TIME_BUCKET_WIDTHS:
        errors.append(
            f"usage_cost_bucket_width must be one of {', '.join(TIME_BUCKET_WIDTHS)} "
            "(day, hour, minute)."
        )
    for cost in (False, True):
        try:
            resolve_group_by(config, cost=cost)
        except ValueError as exc:
            errors.append(str(exc))
    for setting in FILTERS:
        values = config.get(setting) or []
        if len(values) > MAX_FILTER_VALUES:
            errors.append(f"{setting} may list at most {MAX_FILTER_VALUES} values.")
    return errors


def key_columns(group_by: Iterable[str]) -> list[str]:
    """Top-level key columns for a grouping: ``actor`` becomes ``actor_id``, ``actor_type``."""
    columns: list[str] = []
    for dim in group_by:
        for column in ("actor_id", "actor_type") if dim == "actor" else (dim,):
            if column not in columns:
                columns.append(column)
    return columns


def actor_identity(actor: Any) -> tuple[str | None, str | None]:
    """(id, type) of a ``group.actor``, whatever its shape.

    The shape is undocumented: a tagged object (``{"type": "user_actor", "user_id":
    ...}``, ``service_account_id``, ``api_key_id``), a flat ``{"id", "type"}``, or a bare
    id string are all read. An actor with no id (a federated identity) is keyed by its
    e-mail address, if any.
    """
    if actor is None:
        return None, None
    if isinstance(actor, str):
        return actor, None
    if not isinstance(actor, dict):
        return str(actor), None
    kind = actor.get("type")
    kind = str(kind) if kind is not None else None
    for name in ACTOR_ID_KEYS:
        if actor.get(name):
            return str(actor[name]), kind
    for name, value in sorted(actor.items()):
        if name.endswith("_id") and isinstance(value, str) and value:
            return value, kind
    email = actor.get("email_address") or actor.get("email")
    return (str(email) if email else None), kind


# --- what the API taught this run -----------------------------------------------------


class LimitLearnedError(FatalAPIError):
    """A 400 named a smaller page size or range: the chain retries with it."""


@dataclass
class RequestLimits:
    """Page size and window span, shrunk when a 400 names (or implies) a maximum.

    One per run, shared by ``usage`` and ``cost`` and all their windows (``RunContext``):
    the run's first request goes alone and the others wait until it is answered
    (``turn``), so a maximum is learned from one 400, not one per window in flight.
    """

    page_size: int
    span: dt.timedelta
    bucket: dt.timedelta
    stream: str
    logger: Any
    learned: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set once the run's first request got an answer that taught nothing more.
    answered: threading.Event = field(default_factory=threading.Event)
    _asking: bool = False

    @contextmanager
    def turn(self, cancelled: threading.Event) -> Iterator[Callable[[], None]]:
        """Wait until the first request was answered, unless this is it.

        Yields ``done``, to call once a request of this turn was answered with rows;
        leaving the turn (an error, another 400) also lets the others go.
        """
        with self.lock:
            first = not self._asking and not self.answered.is_set()
            self._asking = True
        if not first:
            while not self.answered.wait(0.05):
                if cancelled.is_set():
                    break
        try:
            yield self.answered.set
        finally:
            if first:
                self.answered.set()

    def learn(self, message: str, sent_limit: int | None, sent_span: dt.timedelta | None) -> bool:
        """Shrink whatever a 400 ``message`` complains about; True if something shrank."""
        lowered = message.lower()
        with self.lock:
            if _is_span_message(lowered) and sent_span is not None:
                new_span = _span_in(message) or sent_span / 2
                # Whole buckets only: a window must not split a bucket between requests.
                new_span = max(min(new_span, sent_span) // self.bucket * self.bucket, self.bucket)
                if new_span < sent_span and new_span < self.span:
                    self.span = new_span
                    self._log_once("span", f"the longest range per request is {new_span}")
                return self.span < sent_span
            if "limit" in lowered and sent_limit is not None and sent_limit > 1:
                numbers = [int(n) for n in _NUMBER.findall(message)]
                smaller = [n for n in numbers if 1 <= n < sent_limit]
                new = max(smaller) if smaller else sent_limit // 2
                if new < self.page_size:
                    self.page_size = new
                    self._log_once("limit", f"the largest page size it accepts is {new}")
                return self.page_size < sent_limit
        return False

    def _log_once(self, what: str, text: str) -> None:
        if what not in self.learned:
            self.learned.add(what)
            self.logger.info("%s: the API says %s; using that from now on", self.stream, text)


def _is_span_message(lowered: str) -> bool:
    """A 400 about the length of the requested range (not an empty one)."""
    about_time = any(w in lowered for w in ("range", "span", "day", "hour", "minute", "window"))
    return about_time and not any(m in lowered for m in _EMPTY_RANGE)


def _span_in(message: str) -> dt.timedelta | None:
    match = _NUMBER_UNIT.search(message)
    if match is None:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    return dt.timedelta(**{f"{unit}s": number})


def _api_message(response: requests.Response) -> tuple[str, str]:
    """The error body's (type, message); empty strings when it has none."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("type") or ""), str(error.get("message") or "")


def _sent(response: requests.Response) -> tuple[int | None, dt.timedelta | None]:
    """The ``limit`` and range of the request that got ``response``."""
    url = response.request.url if response.request is not None else None
    query = parse_qs(urlsplit(url or "").query)
    limit = query.get("limit", [None])[-1]
    start = parse_timestamp(query.get("starting_at", [None])[-1])
    end = parse_timestamp(query.get("ending_at", [None])[-1])
    span = end - start if start is not None and end is not None else None
    return (int(limit) if limit and limit.isdigit() else None), span


# --- the streams ----------------------------------------------------------------------


class UsageCostStream(ChainStream[TimeWindow]):
    """The ``usage_cost`` family: request building, adaptation and record shaping.

    Trait ``measure``: usage or cost (the row's metrics object, and whether it has money).
    """

    replication_key = "starting_at"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen_shapes: set[str] = set()
        self._noted: set[str] = set()

    @property
    def limits(self) -> RequestLimits:
        """The run's limits of these endpoints, shared with the other stream."""
        return self.run.limits_for(f"usage_cost:{self.bucket_width}", self._first_limits)

    def _first_limits(self) -> RequestLimits:
        return RequestLimits(
            page_size=self.spec.page_size or FIRST_PAGE_SIZE,
            span=FIRST_SPAN.get(self.bucket_width, FIRST_SPAN["1d"]),
            bucket=BUCKET_WIDTHS.get(self.bucket_width, BUCKET_WIDTHS["1d"]),
            stream=self.name,
            logger=self.logger,
        )

    @property
    def cost(self) -> bool:
        """Whether this stream is about spend."""
        return self.spec.trait("measure") == "cost"

    @property
    def bucket_width(self) -> str:
        """``usage_cost_bucket_width`` (1d, 1h or 1m)."""
        return str(self.config.get("usage_cost_bucket_width", "1d"))

    @property
    def group_by(self) -> list[str]:
        """The validated ``group_by[]`` this stream sends."""
        return resolve_group_by(dict(self.config), cost=self.cost)

    @property
    def primary_keys(self) -> Sequence[str]:
        """Bucket start and every grouped dimension's column (asked for per record)."""
        fixed = self.spec.primary_keys
        return keyed((*fixed, *self._key_column_names), organization_label(self.config))

    @primary_keys.setter
    def primary_keys(self, value: Sequence[str]) -> None:
        """Keys follow the grouping settings; catalog overrides are ignored."""
        del value

    @property
    def http_headers(self) -> dict[str, str]:
        """The beta header, on these two endpoints only."""
        return {**super().http_headers, "anthropic-beta": BETA_HEADER}

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """Window, bucket width, grouping, filters and the page size learned so far."""
        assert context is not None
        params: dict[str, Any] = {
            "starting_at": context["starting_at"],
            "ending_at": context["ending_at"],
            "time_bucket_width": self.bucket_width,
            "limit": self.limits.page_size,
        }
        if self.group_by:
            params["group_by[]"] = list(self.group_by)
        for setting, name in FILTERS.items():
            values = self.config.get(setting)
            if values:
                params[name] = list(values)
        return params

    def validate_response(self, response: requests.Response) -> None:
        """Learn from a 400 naming a limit; every other answer as on every endpoint.

        A 400 that is not about the page size or range length goes to the shared rules
        (availability.py): "not available yet" for a window reaching into the last week,
        whatever its wording, and a 403/404 skips the stream when the key works elsewhere.
        """
        if response.status_code == 400:
            _, message = _api_message(response)
            if self.limits.learn(message, *_sent(response)):
                raise LimitLearnedError(f"/{self.endpoint}: {redact(message)}")
        super().validate_response(response)

    # --- records ------------------------------------------------------------------

    def page_records(self, payload: dict[str, Any], key: TimeWindow) -> list[dict[str, Any]]:
        """One record per row: the row, its key columns, exact money, envelope context."""
        del key
        columns = self._key_column_names
        by_actor = "actor_id" in columns
        measure = str(self.spec.trait("measure"))
        records = []
        for row in payload["data"]:
            group = row.get("group")
            if not isinstance(group, dict):
                group = row["group"] = {}
            if by_actor:
                self._copy_actor(row, group)
            for column in columns:
                if not by_actor or column not in ("actor_id", "actor_type"):
                    row[column] = group.get(column)
            fill_missing_keys(row, columns)
            values = row.get(measure)
            if self.spec.money and isinstance(values, dict):
                add_money(row, self.spec.money, source=values)
            add_envelope(row, payload)
            records.append(self.fitter.fit(row))
        return records

    def _copy_actor(self, row: dict[str, Any], group: dict[str, Any]) -> None:
        """``group.actor`` as ``actor_id`` and ``actor_type`` columns."""
        actor = group.get("actor")
        if isinstance(actor, str):  # a bare id: keep it, as an object
            group["actor"] = actor = {"id": actor}
        self._note_actor_shape(actor)
        actor_id, actor_kind = actor_identity(actor)
        row["actor_id"] = actor_id
        row["actor_type"] = group.get("actor_type") or actor_kind

    def _note_actor_shape(self, actor: Any) -> None:
        """Log once per shape which keys actors have (key names only, never values)."""
        if not isinstance(actor, dict):
            return
        shape = ", ".join(sorted(actor))
        if shape in self._seen_shapes or len(self._seen_shapes) > 10:
            return
        self._seen_shapes.add(shape)
        self.logger.info(
            "%s: actors of type %r have the fields %s", self.name, actor.get("type"), shape
        )

    @cached_property
    def _key_column_names(self) -> tuple[str, ...]:
        # Settings do not change during a run; ``group_by`` validates them per call.
        return tuple(key_columns(self.group_by))

    # --- windows ------------------------------------------------------------------

    def chain_keys(self) -> list[TimeWindow]:
        """Windows of the span the API accepts (as learned so far) from the lookback on."""
        self._bookmark = parse_timestamp(self.stored_bookmark(self.stream_state))
        bounds = self.time_window_bounds(self.bucket_width)
        return [] if bounds is None else split_window(bounds, self.limits.span)

    def run_chain(self, key: TimeWindow, cancelled: threading.Event) -> Iterator[Page]:
        """Records of one window, in requests no longer than the API accepts.

        A 400 naming a smaller page size or range retries the same part with it, as
        long as nothing of that part was handed on yet (it always comes first).
        """
        start = key.start
        while start < key.end and not cancelled.is_set():
            with self.limits.turn(cancelled) as answered:
                end, pages, first = self._first_page(start, key.end, cancelled)
                answered()
            handed_on = False
            try:
                for page in chain(first, pages):
                    handed_on = True
                    yield page
            except LimitLearnedError:
                if handed_on:
                    raise
                continue
            start = end

    def _first_page(
        self, start: dt.datetime, end: dt.datetime, cancelled: threading.Event
    ) -> tuple[dt.datetime, Iterator[Page], list[Page]]:
        """The part of a window the API accepts from ``start``, and its first page.

        Asked again with what a 400 naming a smaller maximum taught (each 400 shrinks a
        limit that has a floor, so this ends).
        """
        while True:
            part_end = min(start + self.limits.span, end)
            pages = super().run_chain(TimeWindow(start, part_end), cancelled)
            try:
                first = next(pages, None)
            except LimitLearnedError:
                continue
            return part_end, pages, [] if first is None else [first]

    def chain_context(self, key: TimeWindow) -> dict[str, Any]:
        """The window (or part of it)."""
        return {"starting_at": format_timestamp(key.start), "ending_at": format_timestamp(key.end)}

    def page_meta(self, payload: dict[str, Any], records: list[dict[str, Any]]) -> Any:
        """The page's watermark, and whether the envelope has that field at all."""
        return payload.get("data_refreshed_at"), "data_refreshed_at" in payload

    def chain_bookmark(self, key: TimeWindow, metas: list[Any]) -> str:
        """The start of the first bucket that may still change (never moving back)."""
        refreshed = next((m[0] for m in reversed(metas) if m[0]), None)
        has_watermark = any(m[1] for m in metas)
        complete = min(key.end, self._complete_until(refreshed, has_watermark))
        if self._bookmark is None or complete > self._bookmark:
            self._bookmark = complete
        return format_timestamp(self._bookmark)

    def progress_label(self, key: TimeWindow) -> str:
        """``window 2026-01-01..2026-02-01``."""
        return f"window {key.start.date()}..{key.end.date()}"

    def refusal_label(self, key: TimeWindow) -> str:
        """The API cuts ``ending_at`` at the start of today and refuses a window left
        empty by that: the stream ends at its last complete window."""
        return "the next window"

    def _complete_until(self, refreshed: str | None, has_watermark: bool) -> dt.datetime:
        """Start of the first bucket that may still change."""
        watermark = parse_timestamp(refreshed)
        if watermark is None:
            if not has_watermark and "watermark" not in self._noted:
                self._noted.add("watermark")
                self.logger.info(
                    "%s: the response has no data_refreshed_at; buckets younger than %s "
                    "are treated as incomplete",
                    self.name,
                    ASSUMED_SETTLE,
                )
            watermark = utc_now() - ASSUMED_SETTLE
        return floor_to_bucket(watermark, self.bucket_width)

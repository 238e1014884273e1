"""The sandbox HTTP server: the Analytics API's rules, limits and errors, on loopback.

Endpoints live under ``/v1/organizations/analytics/``. A few unauthenticated admin
routes under ``/_sandbox/`` let tests and scripts in other processes read the request
log, arm faults and revise data:

``GET /_sandbox/info``        organization id, latest available day, watermark, settings
``GET /_sandbox/requests``    the request log (one entry per API request)
``POST /_sandbox/faults``     arm faults (a JSON list of ``Fault`` fields)
``DELETE /_sandbox/faults``   disarm every fault
``POST /_sandbox/revise``     revise recent values (as the real API does for 30 days)
``POST /_sandbox/reset``      clear the request log and disarm faults
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import gc
import hashlib
import json
import math
import socket
import struct
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from tap_claude_enterprise.sandbox import surprises, usage_cost
from tap_claude_enterprise.sandbox.data import (
    FIRST_DAY,
    TOKEN_TYPES,
    OrgConfig,
    SyntheticOrg,
    format_micro,
)
from tap_claude_enterprise.sandbox.faults import Fault, FaultPlan
from tap_claude_enterprise.sandbox.replay import Replay

SANDBOX_API_KEY = "sk-ant-api01-sandbox"
PREFIX = "/v1/organizations/analytics/"

ENGAGEMENT_ENDPOINTS = {
    "users": "user_rows",
    "apps/chat/projects": "project_rows",
    "skills": "skill_rows",
    "connectors": "connector_rows",
    "plugins": "plugin_rows",
    "artifacts": "artifact_rows",
}
REPORT_ENDPOINTS = {
    "usage_report": ("usage", False),
    "cost_report": ("cost", False),
    "user_usage_report": ("usage", True),
    "user_cost_report": ("cost", True),
}
BASE_DIMENSIONS = ("product", "model", "context_window", "inference_geo", "speed")
LATEST_DIMENSIONS = (
    "claude_tag_category",
    "claude_tag_user_id",
    "rbac_group_id",
    "slack_channel_id",
)
USAGE_GROUP_BY = frozenset(BASE_DIMENSIONS + LATEST_DIMENSIONS)
COST_GROUP_BY = USAGE_GROUP_BY | {"cost_type", "token_type"}
MAX_BUCKETS = {"1d": 31, "1h": 168, "1m": 256}
DEFAULT_BUCKETS = {"1d": 7, "1h": 24, "1m": 60}
BUCKET_MINUTES = {"1d": 1440, "1h": 60, "1m": 1}


class ApiError(Exception):
    """An error answer: status, error type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass
class SandboxSettings:
    """How the sandbox behaves (everything a test may want to vary)."""

    api_key: str = SANDBOX_API_KEY
    lag_days: int = 1
    rate_limit_per_minute: int = 60
    rate_window_seconds: float = 60.0
    summaries_max_days: int = 366
    shape: str = "latest"  # or "baseline": the May-June 2026 response shapes
    refresh_lag_hours: float = 4.0
    latency_seconds: float = 0.0
    latency_per_100_rows: float = 0.0
    # Another tool polling the same organization: this many requests per rate window,
    # evenly spaced, already going when the sandbox starts (refused when it is full).
    other_consumer_per_minute: int = 0
    # Send ``retry-after`` with a rate-limit 429 (public captures show 429s without it).
    retry_after_on_429: bool = True
    # A ``request-id`` header and body ``request_id`` on every answer, as the API does.
    request_ids: bool = True
    # ``x-should-retry`` on error answers: true for 408/409/429/5xx, false otherwise;
    # ``should_retry_overrides`` sets it per status ("true", "false", or "" for none).
    should_retry_header: bool = True
    should_retry_overrides: dict[int, str] = field(default_factory=dict)
    # Serve a directory the tap wrote with ``capture_dir`` instead of the synthetic org.
    replay_dir: str | None = None
    org: OrgConfig = field(default_factory=OrgConfig)
    usage_cost: usage_cost.UsageCostSettings = field(default_factory=usage_cost.UsageCostSettings)


def _encode_cursor(payload: dict) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise _bad_request("page cursor is malformed") from exc
    if not isinstance(value, dict):
        raise _bad_request("page cursor is malformed")
    return value


def _query_hash(endpoint: str, params: dict[str, list[str]]) -> str:
    items = sorted((k, tuple(v)) for k, v in params.items() if k not in {"page", "beta"})
    return hashlib.sha256(repr((endpoint, items)).encode()).hexdigest()[:16]


def _parse_day(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _bad_request(f"{name} must be a date in YYYY-MM-DD format") from exc


def _parse_rfc3339(name: str, value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad_request(f"{name} must be an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise _bad_request(f"{name} must include a timezone")
    return parsed.astimezone(dt.timezone.utc)


def _floor(moment: dt.datetime, width: str) -> dt.datetime:
    minutes = BUCKET_MINUTES[width]
    epoch = int(moment.timestamp() // 60)
    return dt.datetime.fromtimestamp((epoch - epoch % minutes) * 60, tz=dt.timezone.utc)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_T = TypeVar("_T")
# Results at least this long are exempted from the garbage collector once cached.
_FREEZE_ROWS = 5000


class _QueryCache:
    """A small LRU of whole query results, so each page of a query is only a slice.

    Building a report window's rows costs about a second for a 2,000-member org; doing
    that once per window instead of once per 1000-row page keeps the sandbox far below
    the tap's own cost. Keys hold every input of the result (query, clock-derived bounds,
    revision, shape), so a cached answer is the one a fresh computation would give.
    Cached rows are shared between answers and must not be mutated (nothing does:
    fault mutations copy).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], _T]) -> _T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()  # outside the lock: other queries need not wait
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        if isinstance(value, list) and len(value) >= _FREEZE_ROWS:
            # A full garbage collection walks every cached row: about a second with a
            # large org's windows cached, and the server answers nothing meanwhile,
            # which clients see as delay and the rate window as a burst. Cached rows
            # hold no cycles (refcounting frees them on eviction), so exempt them.
            gc.freeze()
        return value


class SandboxServer:
    """Serve a ``SyntheticOrg`` like the Analytics API. Use as a context manager."""

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.org = SyntheticOrg(self.settings.org)
        self.faults = FaultPlan()
        self.request_log: list[dict] = []
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self.other_consumer = {"accepted": 0, "refused": 0}
        self._other_next = self._other_start()
        self.replay = Replay(self.settings.replay_dir) if self.settings.replay_dir else None
        # Separate caches, so a run of per-day pages never evicts report windows: a few
        # windows per stream are in flight at once (the tap's concurrency), and a
        # benchmark may build every window of a backfill before timing it.
        self._day_rows = _QueryCache(size=8)
        self._report_rows = _QueryCache(size=24)
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the tap as ``api_url``."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clocks -------------------------------------------------------------------

    @staticmethod
    def now() -> dt.datetime:
        """The sandbox's wall clock (UTC)."""
        return dt.datetime.now(tz=dt.timezone.utc)

    def latest_day(self) -> dt.date:
        """The most recent day the engagement endpoints serve."""
        return self.now().date() - dt.timedelta(days=self.settings.lag_days)

    def data_refreshed_at(self) -> dt.datetime:
        """The report watermark: usage before it is complete."""
        moment = self.now() - dt.timedelta(hours=self.settings.refresh_lag_hours)
        return moment.replace(second=0, microsecond=0)

    # --- test helpers -------------------------------------------------------------

    def add_faults(self, *faults: Fault) -> None:
        """Arm faults."""
        self.faults.add(*faults)

    def revise(self) -> None:
        """Revise recent values, as the API does within its revision windows."""
        with self._lock:
            self.org.revision += 1

    def reset(self) -> None:
        """Clear the request log and disarm every fault."""
        with self._lock:
            self.request_log.clear()
            self._recent.clear()
            self.other_consumer = {"accepted": 0, "refused": 0}
            self._other_next = self._other_start()
        self.faults.clear()

    def requests_for(self, endpoint: str | None = None) -> list[dict]:
        """Logged API requests, optionally for one endpoint."""
        with self._lock:
            return [r for r in self.request_log if endpoint in (None, r["endpoint"])]

    def info(self) -> dict:
        """What a client needs to know to check its results."""
        return {
            "organization_id": self.org.organization_id,
            "latest_day": self.latest_day().isoformat(),
            "data_refreshed_at": _iso(self.data_refreshed_at()),
            "revision": self.org.revision,
            "settings": {
                "lag_days": self.settings.lag_days,
                "rate_limit_per_minute": self.settings.rate_limit_per_minute,
                "summaries_max_days": self.settings.summaries_max_days,
                "shape": self.settings.shape,
                "members": self.settings.org.members,
                "seed": self.settings.org.seed,
                "other_consumer_per_minute": self.settings.other_consumer_per_minute,
                "retry_after_on_429": self.settings.retry_after_on_429,
            },
            "other_consumer": dict(self.other_consumer),
        }

    # --- the API ------------------------------------------------------------------

    def admit(self) -> float | None:
        """Count a request against the rate limit; return seconds to wait if over it."""
        now = time.monotonic()
        window = self.settings.rate_window_seconds
        with self._lock:
            self._other_requests(now)
            while self._recent and now - self._recent[0] >= window:
                self._recent.popleft()
            if len(self._recent) >= self.settings.rate_limit_per_minute:
                return window - (now - self._recent[0])
            self._recent.append(now)
            return None

    def _other_start(self) -> float:
        """The other consumer's first request: it has been running for a whole window."""
        per_window = self.settings.other_consumer_per_minute
        window = self.settings.rate_window_seconds
        return time.monotonic() - window + window / per_window if per_window > 0 else math.inf

    def _other_requests(self, now: float) -> None:
        """Count the other consumer's requests up to ``now`` (called under the lock)."""
        per_window = self.settings.other_consumer_per_minute
        window = self.settings.rate_window_seconds
        while self._other_next <= now:
            moment = self._other_next
            while self._recent and moment - self._recent[0] >= window:
                self._recent.popleft()
            if len(self._recent) < self.settings.rate_limit_per_minute:
                self._recent.append(moment)
                self.other_consumer["accepted"] += 1
            else:
                self.other_consumer["refused"] += 1
            self._other_next = moment + window / per_window if per_window > 0 else math.inf

    def log(self, entry: dict) -> None:
        """Append to the request log."""
        with self._lock:
            self.request_log.append(entry)

    def handle_api(
        self,
        endpoint: str,
        params: dict[str, list[str]],
        key: str | None,
        headers: Any = None,
    ) -> dict:
        """Answer one API request with a JSON-ready body, or raise ``ApiError``."""
        if endpoint in usage_cost.ENDPOINTS:
            return usage_cost.answer(self, endpoint, params, key, headers or {})
        usage_cost.refuse_admin_key(self, endpoint, key)
        is_report = endpoint in REPORT_ENDPOINTS
        if key != self.settings.api_key:
            if is_report:
                raise ApiError(401, "authentication_error", "invalid x-api-key")
            raise ApiError(
                404,
                "not_found_error",
                "API key is missing, invalid, or lacks the read:analytics scope",
            )
        if endpoint == "summaries":
            return self._summaries(params)
        if endpoint in ENGAGEMENT_ENDPOINTS:
            return self._engagement(endpoint, params)
        if is_report:
            return self._report(endpoint, params)
        raise ApiError(404, "not_found_error", "no such endpoint")

    def _first(self, params: dict[str, list[str]], name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    def _check_available(self, name: str, day: dt.date) -> None:
        if day < FIRST_DAY:
            raise _bad_request(f"{name} must be on or after {FIRST_DAY.isoformat()}")
        latest = self.latest_day()
        if day > latest:
            raise _bad_request(
                f"{name} {day.isoformat()} is not yet available; "
                f"the most recent available day is {latest.isoformat()}"
            )

    def _limit(self, params: dict[str, list[str]], default: int, maximum: int) -> int:
        raw = self._first(params, "limit")
        if raw is None:
            return default
        try:
            limit = int(raw)
        except ValueError as exc:
            raise _bad_request("limit must be an integer") from exc
        if not 1 <= limit <= maximum:
            raise _bad_request(f"limit must be between 1 and {maximum}")
        return limit

    def _offset(self, endpoint: str, params: dict[str, list[str]], *, report: bool) -> int:
        cursor = self._first(params, "page")
        if cursor is None:
            return 0
        payload = _decode_cursor(cursor)
        if payload.get("q") != _query_hash(endpoint, params):
            raise _bad_request("page cursor does not match the current query parameters")
        if report and payload.get("r") != self.org.revision:
            raise ApiError(
                410,
                "invalid_request_error",
                "page cursor has expired; restart pagination from the first page",
            )
        offset = payload.get("o")
        if not isinstance(offset, int) or offset < 0:
            raise _bad_request("page cursor is malformed")
        return offset

    def _cursor(self, endpoint: str, params: dict[str, list[str]], offset: int) -> str:
        return _encode_cursor(
            {"o": offset, "q": _query_hash(endpoint, params), "r": self.org.revision}
        )

    def _summaries(self, params: dict[str, list[str]]) -> dict:
        raw_start = self._first(params, "starting_date")
        if raw_start is None:
            raise _bad_request("starting_date is required")
        start = _parse_day("starting_date", raw_start)
        self._check_available("starting_date", start)
        latest = self.latest_day()
        raw_end = self._first(params, "ending_date")
        end = (
            latest + dt.timedelta(days=1) if raw_end is None else _parse_day("ending_date", raw_end)
        )
        if end <= start:
            raise _bad_request("ending_date must be after starting_date")
        if end > latest + dt.timedelta(days=1):
            raise _bad_request(
                f"ending_date {end.isoformat()} is not yet available; "
                f"the most recent available day is {latest.isoformat()}"
            )
        span = self.settings.summaries_max_days
        if (end - start).days > span:
            raise _bad_request(f"the date range may span at most {span} days")
        rows = []
        day = start
        while day < end:
            rows.append(self.org.summary_row(day, latest, shape=self.settings.shape))
            day += dt.timedelta(days=1)
        if self.settings.shape == "baseline":
            return {"summaries": rows}
        return {"data": rows, "next_page": None}

    def _engagement(self, endpoint: str, params: dict[str, list[str]]) -> dict:
        raw_day = self._first(params, "date")
        if raw_day is None:
            raise _bad_request("date is required (the sandbox does not serve range mode)")
        day = _parse_day("date", raw_day)
        self._check_available("date", day)
        limit = self._limit(params, 100, 1000)
        if endpoint == "artifacts" and "page" in params and "group_by[]" not in params:
            raise _bad_request("page is only valid with group_by[]")
        method = getattr(self.org, ENGAGEMENT_ENDPOINTS[endpoint])
        latest, shape = self.latest_day(), self.settings.shape
        rows = self._day_rows.get(
            (endpoint, day, latest, shape, self.org.revision),
            lambda: method(day, latest, shape=shape),
        )
        if endpoint == "artifacts":
            return {"data": rows, "next_page": None}
        offset = self._offset(endpoint, params, report=False)
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return {
            "data": page,
            "next_page": self._cursor(endpoint, params, offset + limit) if more else None,
        }

    def _report(self, endpoint: str, params: dict[str, list[str]]) -> dict:
        kind, per_user = REPORT_ENDPOINTS[endpoint]
        now = self.now()
        raw_start = self._first(params, "starting_at")
        if raw_start is None:
            raise _bad_request("starting_at is required")
        start = _parse_rfc3339("starting_at", raw_start)
        floor = dt.datetime(FIRST_DAY.year, 1, 1, tzinfo=dt.timezone.utc)
        if start < floor:
            raise _bad_request("starting_at must be on or after 2026-01-01T00:00:00Z")
        if start < now - dt.timedelta(days=365):
            raise _bad_request("starting_at must be within the last 365 days")
        raw_end = self._first(params, "ending_at")
        width = self._first(params, "bucket_width")
        if width is not None and width not in MAX_BUCKETS:
            raise _bad_request("bucket_width must be one of 1d, 1h, 1m")
        if per_user and width is not None and raw_end is None:
            raise _bad_request("ending_at is required when bucket_width is set")
        if raw_end is None:
            end = min(now, start + dt.timedelta(days=31))
        else:
            end = _parse_rfc3339("ending_at", raw_end)
        if end <= start:
            raise _bad_request("ending_at must be after starting_at")
        if end - start > dt.timedelta(days=31):
            raise _bad_request("the range from starting_at to ending_at may span at most 31 days")
        if per_user and width == "1m" and end - start > dt.timedelta(hours=24):
            raise _bad_request("with bucket_width=1m the range may span at most 24 hours")
        group_by = tuple(params.get("group_by[]", []))
        allowed = COST_GROUP_BY if kind == "cost" else USAGE_GROUP_BY
        for dim in group_by:
            if dim not in allowed:
                raise _bad_request(
                    f"group_by[] value {dim!r} is not supported on this endpoint; "
                    f"allowed: {', '.join(sorted(allowed))}"
                )
        if not per_user:
            width = width or "1d"
            start, end = _floor(start, width), _floor(end, width)
            if end <= start:
                raise _bad_request("the range covers no whole bucket")
            limit = self._limit(params, DEFAULT_BUCKETS[width], MAX_BUCKETS[width])
        else:
            start = _floor(start, "1h")
            limit = self._limit(params, 20, 1000)
        offset = self._offset(endpoint, params, report=True)
        refreshed = self.data_refreshed_at()
        data_end = min(end, refreshed)
        bucketed = width is not None

        def build() -> list:
            totals = (
                self.org.report_rows(
                    kind=kind,
                    per_user=per_user,
                    start=start,
                    end=data_end,
                    width=width or "1d",
                    group_by=group_by,
                    refreshed_day=refreshed.date(),
                    bucketed=bucketed,
                )
                if data_end > start
                else {}
            )
            if per_user:
                return self._per_user_groups(
                    totals,
                    kind=kind,
                    group_by=group_by,
                    start=start,
                    end=end,
                    width=width,
                    params=params,
                )
            return self._buckets(
                totals, kind=kind, group_by=group_by, start=start, end=end, width=width or "1d"
            )

        # The query hash covers every parameter but the cursor (order_by, order, groups).
        key = (
            _query_hash(endpoint, params), start, end, data_end, refreshed.date(),
            self.org.revision, self.settings.shape,
        )  # fmt: skip
        results = self._report_rows.get(key, build)
        if per_user:
            page_groups = results[offset : offset + limit]
            data = [row for group in page_groups for row in group]
        else:
            data = results[offset : offset + limit]
        more = offset + limit < len(results)
        return {
            "data": data,
            "has_more": more,
            "next_page": self._cursor(endpoint, params, offset + limit) if more else None,
            "data_refreshed_at": _iso(refreshed),
            "organization_id": self.org.organization_id,
        }

    def _dimension_fields(self, kind: str, group_by: tuple[str, ...], values: tuple) -> dict:
        fields: dict[str, Any] = dict.fromkeys(BASE_DIMENSIONS)
        if self.settings.shape == "latest":
            fields |= dict.fromkeys(LATEST_DIMENSIONS)
        grouped = [d for d in BASE_DIMENSIONS if d in group_by]
        for name, value in zip(grouped, values, strict=False):
            fields[name] = value
        if kind == "cost":
            fields["cost_type"] = None
            fields["token_type"] = None
            rest = values[len(grouped) :]
            if rest:
                fields["cost_type"], fields["token_type"] = rest
        return fields

    def _metrics(self, kind: str, acc: dict, group_by: tuple[str, ...], *, per_user: bool) -> dict:
        if kind == "cost":
            fan_out = "cost_type" in group_by or "token_type" in group_by
            return {
                "currency": "USD",
                "amount": format_micro(acc.get("amount", 0)),
                "list_amount": format_micro(acc.get("list_amount", 0)),
                "requests": None if fan_out else acc.get("requests", 0),
            }
        tokens = {t: acc.get(t, 0) for t in TOKEN_TYPES}
        metrics: dict[str, Any] = {
            "uncached_input_tokens": tokens["uncached_input_tokens"],
            "cache_creation": {
                "ephemeral_1h_input_tokens": tokens["cache_creation.ephemeral_1h_input_tokens"],
                "ephemeral_5m_input_tokens": tokens["cache_creation.ephemeral_5m_input_tokens"],
            },
            "cache_read_input_tokens": tokens["cache_read_input_tokens"],
            "output_tokens": tokens["output_tokens"],
            "server_tool_use": {"web_search_requests": acc.get("web_search_requests", 0)},
            "requests": acc.get("requests", 0),
        }
        if per_user:
            metrics["total_tokens"] = sum(tokens.values())
        return metrics

    def _per_user_groups(
        self,
        totals: dict[tuple, dict],
        *,
        kind: str,
        group_by: tuple[str, ...],
        start: dt.datetime,
        end: dt.datetime,
        width: str | None,
        params: dict[str, list[str]],
    ) -> list[list[dict]]:
        """Rows grouped so that fan-out rows (cost_type/token_type) share a page slot."""
        old_shape = self.settings.shape == "baseline"
        grouped = [d for d in BASE_DIMENSIONS if d in group_by]
        step = dt.timedelta(minutes=BUCKET_MINUTES[width]) if width else None
        groups: dict[tuple, list[dict]] = {}
        sort_value: dict[tuple, int] = {}
        metric = "amount" if kind == "cost" else "total_tokens"
        order_by = self._first(params, "order_by")
        if order_by is not None:
            allowed = (
                {"amount", "list_amount"}
                if kind == "cost"
                else {"total_tokens", "output_tokens", "uncached_input_tokens", "requests"}
            )
            if order_by not in allowed:
                raise _bad_request(f"order_by must be one of {', '.join(sorted(allowed))}")
            metric = order_by
        ascending = self._first(params, "order") == "asc"
        # A window has ~30 rows per user and per dimension combination: build the
        # repeated parts once (rows may share them; answers are only ever serialized).
        actors: dict[tuple, dict] = {}
        dimensions: dict[tuple, dict] = {}
        bounds: dict[dt.datetime, tuple[str | None, str | None]] = {}
        for (bucket, user, values), acc in totals.items():
            base_key = (bucket, user, values[: len(grouped)])
            actor = actors.get((user, bucket.date()))
            if actor is None:
                member = self.org.members[user]
                actor = self.org.actor(member, bucket.date(), old_shape=old_shape)
                actors[user, bucket.date()] = actor
            row = {"actor": actor}
            fields = dimensions.get(values)
            if fields is None:
                fields = dimensions[values] = self._dimension_fields(kind, group_by, values)
            row |= fields
            span = bounds.get(bucket)
            if span is None:
                span = bounds[bucket] = (
                    (_iso(bucket), _iso(min(bucket + step, end))) if step else (None, None)
                )
            row["starting_at"], row["ending_at"] = span
            row |= self._metrics(kind, acc, group_by, per_user=True)
            groups.setdefault(base_key, []).append(row)
            if metric == "total_tokens":
                value = sum(acc.get(t, 0) for t in TOKEN_TYPES)
            else:
                value = acc.get(metric, 0)
            sort_value[base_key] = sort_value.get(base_key, 0) + value
        del start

        def order(key: tuple) -> tuple:
            value = sort_value[key] if ascending else -sort_value[key]
            return (key[0], value, self.org.members[key[1]].user_id, str(key[2]))

        ordered = []
        for key in sorted(groups, key=order):
            rows = groups[key]
            if len(rows) > 1:  # fan-out rows; without cost_type/token_type groups hold one
                rows.sort(key=lambda r: (str(r.get("cost_type")), str(r.get("token_type"))))
            ordered.append(rows)
        return ordered

    def _buckets(
        self,
        totals: dict[tuple, dict],
        *,
        kind: str,
        group_by: tuple[str, ...],
        start: dt.datetime,
        end: dt.datetime,
        width: str,
    ) -> list[dict]:
        step = dt.timedelta(minutes=BUCKET_MINUTES[width])
        results: dict[dt.datetime, list[tuple[int, dict]]] = {}
        for (bucket, _user, values), acc in totals.items():
            row = self._dimension_fields(kind, group_by, values)
            row |= self._metrics(kind, acc, group_by, per_user=False)
            weight = acc.get("amount", 0) if kind == "cost" else acc.get("output_tokens", 0)
            results.setdefault(bucket, []).append((weight, row))
        buckets = []
        moment = start
        while moment < end:
            ranked = sorted(
                results.get(moment, []),
                key=lambda item: (-item[0], json.dumps(item[1], sort_keys=True)),
            )
            buckets.append(
                {
                    "starting_at": _iso(moment),
                    "ending_at": _iso(moment + step),
                    # The API reports at most the top 100 groups of a bucket.
                    "results": [row for _, row in ranked[:100]],
                }
            )
            moment += step
        return buckets


class _Handler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY the client's
    # delayed ACK adds ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "ClaudeAnalyticsSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the sandbox quiet; the request log has everything."""

    # --- admin --------------------------------------------------------------------

    def _admin(self, method: str, path: str) -> None:
        sandbox = self.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if method == "GET" and path == "/_sandbox/info":
            self._send_json(200, sandbox.info())
        elif method == "GET" and path == "/_sandbox/requests":
            self._send_json(200, sandbox.requests_for())
        elif method == "POST" and path == "/_sandbox/faults":
            specs = json.loads(body or b"[]")
            sandbox.add_faults(*(Fault(**spec) for spec in specs))
            self._send_json(200, [f.to_dict() for f in sandbox.faults.list()])
        elif method == "DELETE" and path == "/_sandbox/faults":
            sandbox.faults.clear()
            self._send_json(200, [])
        elif method == "POST" and path == "/_sandbox/revise":
            sandbox.revise()
            self._send_json(200, sandbox.info())
        elif method == "POST" and path == "/_sandbox/reset":
            sandbox.reset()
            self._send_json(200, sandbox.info())
        else:
            self._send_json(404, {"error": "unknown admin route"})

    def do_POST(self) -> None:
        self._admin("POST", urlsplit(self.path).path)

    def do_DELETE(self) -> None:
        self._admin("DELETE", urlsplit(self.path).path)

    # --- API ----------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/_sandbox/"):
            self._admin("GET", parts.path)
            return
        if not parts.path.startswith(PREFIX):
            self._send_error(404, "not_found_error", "no such endpoint")
            return
        endpoint = parts.path[len(PREFIX) :].strip("/")
        params = parse_qs(parts.query, keep_blank_values=True)
        sandbox = self.sandbox
        entry: dict[str, Any] = {
            "t": time.time(),
            "endpoint": endpoint,
            "params": params,
            "status": None,
            "rows": 0,
            "faults": [],
            "beta": self.headers.get("anthropic-beta"),
        }
        has_cursor = "page" in params
        faults = sandbox.faults.match(endpoint, has_cursor=has_cursor)
        entry["faults"] = [f.kind for f in faults]
        # Logged on arrival and completed before the answer goes out: a client that has
        # its answer always finds its request, with its status, in the log.
        sandbox.log(entry)
        self._entry = entry
        try:
            self._answer(entry, endpoint, params, faults)
        finally:
            self._entry = None

    def _answer(
        self, entry: dict, endpoint: str, params: dict[str, list[str]], faults: list[Fault]
    ) -> None:
        sandbox = self.sandbox
        wait = sandbox.admit()
        if wait is not None:
            entry["status"] = 429
            retry_after = str(max(1, math.ceil(wait)))
            self._send_error(
                429, "rate_limit_error", "Rate limit exceeded. Too many requests.",
                headers={"retry-after": retry_after} if sandbox.settings.retry_after_on_429 else {},
            )  # fmt: skip
            return
        if sandbox.replay is not None:
            self._replay(entry, endpoint, params)
            return
        for fault in faults:
            if self._pre_fault(fault, endpoint, entry):
                return
        if surprises.answer_early(self, endpoint, params, faults, entry):
            return
        try:
            body = sandbox.handle_api(
                endpoint, params, self.headers.get("x-api-key"), self.headers
            )
        except ApiError as err:
            entry["status"] = err.status
            self._send_error(err.status, err.error_type, err.message)
            return
        body = self._body_faults(faults, endpoint, params, body)
        body = surprises.mutate_body(faults, endpoint, body)
        rows = body.get("data") if isinstance(body.get("data"), list) else []
        entry["rows"] = len(rows or [])
        entry["status"] = 200
        self._latency(entry["rows"])
        payload = json.dumps(body, separators=(",", ":")).encode()
        self._send_payload(200, payload, faults)

    def _replay(self, entry: dict, endpoint: str, params: dict[str, list[str]]) -> None:
        """Answer from the capture being replayed, exactly as captured."""
        assert self.sandbox.replay is not None
        answer = self.sandbox.replay.answer(endpoint, params)
        if answer is None:
            entry["status"] = 404
            self._send_error(
                404, "not_found_error", "sandbox replay: the capture has no answer for this request"
            )
            return
        entry["status"] = answer.status
        headers = dict(answer.headers)
        content_type = headers.pop("content-type", "application/json")
        self._answer_id = headers.pop("request-id", "")
        self._send_payload(
            answer.status, answer.body, [], content_type=content_type, headers=headers
        )

    def _latency(self, rows: int) -> None:
        s = self.sandbox.settings
        delay = s.latency_seconds + s.latency_per_100_rows * rows / 100
        if delay > 0:
            time.sleep(delay)

    def _pre_fault(self, fault: Fault, endpoint: str, entry: dict) -> bool:
        """Apply a fault that replaces the answer; return True if it did."""
        del endpoint
        kind = fault.kind
        if kind == "stall":
            time.sleep(fault.seconds)
            return False
        if kind == "reset":
            entry["status"] = "reset"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif kind == "status":
            entry["status"] = fault.status
            headers = {"retry-after": fault.retry_after} if fault.retry_after else None
            error_type = _ERROR_TYPES.get(fault.status, "invalid_request_error")
            message = fault.message or f"injected {fault.status}"
            self._send_error(fault.status, error_type, message, headers=headers)
        elif kind == "redirect":
            entry["status"] = 302
            self._send_payload(302, b"", [], headers={"Location": fault.location or "/"})
        elif kind in _CURSOR_ERRORS:
            status, message = _CURSOR_ERRORS[kind]
            entry["status"] = status
            self._send_error(status, "invalid_request_error", message)
        elif kind in _BROKEN_200:
            body, content_type = _BROKEN_200[kind]
            entry["status"] = 200
            self._send_payload(200, body, [], content_type=content_type)
        else:
            return False
        return True

    def _body_faults(
        self, faults: list[Fault], endpoint: str, params: dict[str, list[str]], body: dict
    ) -> dict:
        for fault in faults:
            kind = fault.kind
            if kind in {"repeat_cursor", "cycle_cursor", "empty_pages"}:
                self._cursor_fault(kind, endpoint, params, body)
            elif kind == "mistyped_cursor":
                body["next_page"] = 12345
            elif kind == "missing_cursor":
                body.pop("next_page", None)
            elif kind in {"unknown_fields", "missing_optional", "unexpected_null"}:
                key = "data" if "data" in body else "summaries"
                body[key] = [_mutate(row, kind) for row in body.get(key) or []]
        return body

    def _cursor_fault(
        self, kind: str, endpoint: str, params: dict[str, list[str]], body: dict
    ) -> None:
        """Point ``next_page`` somewhere wrong, with cursors the server itself accepts."""
        cursor = params.get("page", [None])[-1]
        offset = _decode_cursor(cursor).get("o", 0) if cursor else 0
        size = int(params.get("limit", ["0"])[-1] or 0) or max(len(body.get("data") or []), 1)
        if kind == "repeat_cursor":
            if cursor is None:
                return  # a first page has no cursor to repeat
            body["next_page"] = cursor
        elif kind == "cycle_cursor":
            # Pages 1, 2, 3, 2, 3 ...: page 3 names page 2's cursor again.
            body["next_page"] = self._valid_cursor(
                endpoint, params, size if offset >= 2 * size else offset + size
            )
        else:  # empty_pages: nothing here, and a new cursor to these same rows
            body["data"] = []
            body["next_page"] = self._valid_cursor(endpoint, params, offset, nonce=time.time_ns())
        if "has_more" in body:
            body["has_more"] = True

    def _valid_cursor(
        self, endpoint: str, params: dict[str, list[str]], offset: int, nonce: int | None = None
    ) -> str:
        payload = {
            "o": offset,
            "q": _query_hash(endpoint, params),
            "r": self.sandbox.org.revision,
        }
        if nonce is not None:
            payload["n"] = nonce
        return _encode_cursor(payload)

    # --- sending ------------------------------------------------------------------

    def _send_error(
        self, status: int, error_type: str, message: str, headers: dict | None = None
    ) -> None:
        settings = self.sandbox.settings
        body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
        request_id = self._request_id()
        if request_id:
            body["request_id"] = request_id
        headers = dict(headers or {})
        should_retry = settings.should_retry_overrides.get(status)
        if should_retry is None and settings.should_retry_header:
            should_retry = "true" if status in _SHOULD_RETRY else "false"
        if should_retry:
            headers.setdefault("x-should-retry", should_retry)
        payload = json.dumps(body).encode()
        self._send_payload(status, payload, [], headers=headers)

    def _request_id(self) -> str:
        """This answer's request id (the same in the header and the body), or ""."""
        if not self.sandbox.settings.request_ids:
            return ""
        if not getattr(self, "_answer_id", ""):
            self._answer_id = "req_sandbox_" + _request_id()
        return self._answer_id

    def _send_json(self, status: int, body: Any) -> None:
        self._send_payload(status, json.dumps(body, default=str).encode(), [])

    def _send_payload(
        self,
        status: int,
        payload: bytes,
        faults: list[Fault],
        *,
        content_type: str = "application/json",
        headers: dict | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        request_id = self._request_id()
        if request_id:
            self.send_header("request-id", request_id)
            entry = getattr(self, "_entry", None)
            if entry is not None:
                entry["request_id"] = request_id
        self._answer_id = ""
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        kinds = {f.kind: f for f in faults}
        if "truncate" in kinds:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        if "stall_body" in kinds:
            half = len(payload) // 2
            self.wfile.write(payload[:half])
            self.wfile.flush()
            time.sleep(kinds["stall_body"].seconds)
            self.wfile.write(payload[half:])
            return
        self.wfile.write(payload)


# Statuses the API marks ``x-should-retry: true`` (the official SDK's own retry rule).
_SHOULD_RETRY = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_ERROR_TYPES = {
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    401: "authentication_error",
    404: "not_found_error",
}
# Faults that answer 200 with a body the endpoint never documents.
_BROKEN_200 = {
    "html": (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    "invalid_json": (b'{"data": [{"oops": ', "application/json"),
    "missing_data": (b'{"next_page": null}', "application/json"),
    "mistyped": (b'{"data": {"rows": 1}, "next_page": 12345}', "application/json"),
}
_CURSOR_ERRORS = {
    "expire_cursor": (410, "page cursor has expired"),
    "cursor_mismatch": (400, "page cursor does not match the query parameters"),
}


def _request_id() -> str:
    return hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:20]


def _mutate(row: Any, kind: str) -> Any:
    """Add unknown fields, drop optional ones, or null nullable ones (recursively)."""
    if not isinstance(row, dict):
        return row
    out = {}
    for key, value in row.items():
        if kind == "missing_optional" and key in _OPTIONAL_FIELDS:
            continue
        if kind == "unexpected_null" and key in _NULLABLE_FIELDS:
            out[key] = None
            continue
        out[key] = _mutate(value, kind)
    if kind == "unknown_fields":
        out["sandbox_new_metric_count"] = 7
        out["sandbox_new_block"] = {"nested_new_field": "x"}
    return out


_OPTIONAL_FIELDS = frozenset(
    {
        "last_activity_date", "chat_cowork_unified_metrics", "science_metrics", "plugin_id",
        "connector_display_name", "skill_display_name", "created_by", "created_at",
        "install_count", "share_status",
    }
)  # fmt: skip
_NULLABLE_FIELDS = frozenset(
    {
        "distinct_conversation_count", "distinct_session_count", "created_at", "created_by",
        "install_count", "plugin_id", "list_amount", "requests", "assigned_seat_count",
        "daily_adoption_rate", "pending_invite_count", "email_address", "name", "model",
        "product",
    }
)  # fmt: skip


def retry_after_http_date(seconds: float) -> str:
    """A ``retry-after`` value in HTTP-date form, ``seconds`` from now."""
    return email.utils.formatdate(time.time() + seconds, usegmt=True)

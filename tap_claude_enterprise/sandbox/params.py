"""The sandbox's public request layer, part one: what every family handler shares.

Request parameters (dates, RFC 3339 timestamps, ``limit``, repeated list parameters),
``ApiError`` (the API's error answer), page cursors (encode, decode, query hash), time
helpers (floor to a bucket, ISO strings), the query cache, and ``SandboxState``: what a
handler may use of the server. Part two, ``routes.py``, is the route table. Family
handlers (``engagement.py``, ``reports.py``, ``usage_cost.py``) import these names only.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

from tap_claude_enterprise.sandbox.data import FIRST_DAY, SyntheticOrg
from tap_claude_enterprise.sandbox.settings import SandboxSettings

Params = dict[str, list[str]]
UTC = dt.timezone.utc
BUCKET_MINUTES = {"1d": 1440, "1h": 60, "1m": 1}
# What the API answers an Admin key on an endpoint that needs ``read:analytics``.
MISSING_SCOPE = "Missing required scopes. Got: ['api:admin'] Needed: ['read:analytics']"


class ApiError(Exception):
    """An error answer: status, error type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def bad_request(message: str) -> ApiError:
    """A 400 ``invalid_request_error``."""
    return ApiError(400, "invalid_request_error", message)


def error_body(error_type: str, message: str, request_id: str = "") -> dict[str, Any]:
    """The API's JSON error body."""
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


# --- parameters -----------------------------------------------------------------------


def first(params: Params, name: str) -> str | None:
    """The parameter's value (the last one, if repeated), or None."""
    values = params.get(name)
    return values[-1] if values else None


def listed(params: Params, name: str) -> tuple[str, ...]:
    """Every value of a repeated parameter (``group_by[]``), in order."""
    return tuple(params.get(name, []))


def parse_day(name: str, value: str) -> dt.date:
    """A ``YYYY-MM-DD`` date parameter."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise bad_request(f"{name} must be a date in YYYY-MM-DD format") from exc


def parse_rfc3339(name: str, value: str) -> dt.datetime:
    """An RFC 3339 timestamp parameter, in UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_request(f"{name} must be an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise bad_request(f"{name} must include a timezone")
    return parsed.astimezone(UTC)


def parse_limit(params: Params, default: int, maximum: int) -> int:
    """The ``limit`` parameter, within ``1..maximum``."""
    raw = first(params, "limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError as exc:
        raise bad_request("limit must be an integer") from exc
    if not 1 <= limit <= maximum:
        raise bad_request(f"limit must be between 1 and {maximum}")
    return limit


def check_available(name: str, day: dt.date, latest: dt.date) -> None:
    """Refuse a day before the first one or after the latest available one."""
    if day < FIRST_DAY:
        raise bad_request(f"{name} must be on or after {FIRST_DAY.isoformat()}")
    if day > latest:
        raise bad_request(
            f"{name} {day.isoformat()} is not yet available; "
            f"the most recent available day is {latest.isoformat()}"
        )


def check_report_start(start: dt.datetime, now: dt.datetime) -> None:
    """The reports' and ``/usage``'s earliest ``starting_at``."""
    if start < dt.datetime(FIRST_DAY.year, 1, 1, tzinfo=UTC):
        raise bad_request("starting_at must be on or after 2026-01-01T00:00:00Z")
    if start < now - dt.timedelta(days=365):
        raise bad_request("starting_at must be within the last 365 days")


# --- time -----------------------------------------------------------------------------


def floor_bucket(moment: dt.datetime, width: str) -> dt.datetime:
    """The start of the ``width`` bucket (1d, 1h, 1m) that holds ``moment``."""
    minutes = BUCKET_MINUTES[width]
    epoch = int(moment.timestamp() // 60)
    return dt.datetime.fromtimestamp((epoch - epoch % minutes) * 60, tz=UTC)


def iso(moment: dt.datetime) -> str:
    """A timestamp in the API's format (``...Z``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def start_of_day(moment: dt.datetime) -> dt.datetime:
    """Midnight (UTC) of the moment's day."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# --- cursors --------------------------------------------------------------------------


def encode_cursor(payload: dict) -> str:
    """An opaque ``next_page`` cursor."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict:
    """A cursor's payload, or a 400 for a malformed one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise bad_request("page cursor is malformed") from exc
    if not isinstance(value, dict):
        raise bad_request("page cursor is malformed")
    return value


def query_hash(endpoint: str, params: Params) -> str:
    """A digest of every parameter but the cursor: a cursor belongs to one query."""
    items = sorted((k, tuple(v)) for k, v in params.items() if k not in {"page", "beta"})
    return hashlib.sha256(repr((endpoint, items)).encode()).hexdigest()[:16]


def page_cursor(endpoint: str, params: Params, offset: int, revision: int) -> str:
    """The cursor of the page that starts at ``offset``."""
    return encode_cursor({"o": offset, "q": query_hash(endpoint, params), "r": revision})


def page_offset(endpoint: str, params: Params, revision: int, *, expires: bool) -> int:
    """Where the request's page starts; ``expires``: a revision expires the cursor (410)."""
    cursor = first(params, "page")
    if cursor is None:
        return 0
    payload = decode_cursor(cursor)
    if payload.get("q") != query_hash(endpoint, params):
        raise bad_request("page cursor does not match the current query parameters")
    if expires and payload.get("r") != revision:
        raise ApiError(
            410,
            "invalid_request_error",
            "page cursor has expired; restart pagination from the first page",
        )
    offset = payload.get("o")
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("page cursor is malformed")
    return offset


# --- the server, as handlers see it ---------------------------------------------------

_T = TypeVar("_T")
# Results at least this long are exempted from the garbage collector once cached.
_FREEZE_ROWS = 5000


class QueryCache:
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
        """The cached result for ``key``, built on a miss."""
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


class SandboxState(Protocol):
    """What a family handler may use of the server (``SandboxServer`` is one)."""

    settings: SandboxSettings
    org: SyntheticOrg
    day_rows: QueryCache
    report_rows: QueryCache

    def now(self) -> dt.datetime:
        """The sandbox's wall clock (UTC)."""
        ...

    def latest_day(self) -> dt.date:
        """The most recent day the engagement endpoints serve."""
        ...

    def data_refreshed_at(self) -> dt.datetime:
        """The report watermark."""
        ...

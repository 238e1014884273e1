"""The sandbox HTTP server: the Analytics API's rules, limits and errors, on loopback.

Endpoints live under ``/v1/organizations/analytics/``. A few unauthenticated admin
routes under ``/_sandbox/`` let tests and scripts in other processes read the request
log, arm faults and revise data:

``GET /_sandbox/info``        organization id, latest available day, watermark, settings
``GET /_sandbox/requests``    the request log (one entry per API request)
``POST /_sandbox/faults``     arm faults (a JSON list of ``Fault`` fields)
``DELETE /_sandbox/faults``   disarm every fault
``POST /_sandbox/revise``     revise recent values (spend: from the earliest open month on)
``POST /_sandbox/reset``      clear the request log and disarm faults
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import math
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tap_claude_enterprise.sandbox import routes, surprises
from tap_claude_enterprise.sandbox.data import SyntheticOrg
from tap_claude_enterprise.sandbox.faults import Fault, FaultPlan
from tap_claude_enterprise.sandbox.mutations import apply_body_faults
from tap_claude_enterprise.sandbox.params import ApiError, QueryCache, error_body, iso
from tap_claude_enterprise.sandbox.replay import Replay
from tap_claude_enterprise.sandbox.routes import PREFIX
from tap_claude_enterprise.sandbox.settings import SANDBOX_API_KEY, SandboxSettings

# Kept importable from here, where callers have always found them.
__all__ = ["PREFIX", "SANDBOX_API_KEY", "ApiError", "SandboxServer", "SandboxSettings"]


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
        self.day_rows = QueryCache(size=8)
        self.report_rows = QueryCache(size=24)
        # Read from the endpoint table now, so a test can extend the table first.
        self.routes = routes.build_routes()
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the tap as ``api_url``."""
        host, port = self.httpd.server_address[:2]
        if isinstance(host, (bytes, bytearray)):  # typeshed allows it; AF_INET gives str
            host = host.decode()
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
        """Revise recent values, as the API does within its revision windows.

        Engagement: the last few days. Usage and spend: every day from the 1st of the
        earliest month not yet closed at the watermark (the previous month until 7 days
        after its end), as the newest reference describes.
        """
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
            "data_refreshed_at": iso(self.data_refreshed_at()),
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
        return routes.answer(self, self.routes, endpoint, params, key, headers=headers or {})


def admin_answer(sandbox: SandboxServer, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """The ``/_sandbox/*`` routes: tests and scripts in other processes read and steer it."""
    if (method, path) == ("POST", "/_sandbox/faults"):
        sandbox.add_faults(*(Fault(**spec) for spec in json.loads(body or b"[]")))
        return 200, [f.to_dict() for f in sandbox.faults.list()]
    actions: dict[tuple[str, str], Callable[[], Any]] = {
        ("GET", "/_sandbox/info"): lambda: None,
        ("GET", "/_sandbox/requests"): sandbox.requests_for,
        ("DELETE", "/_sandbox/faults"): sandbox.faults.clear,
        ("POST", "/_sandbox/revise"): sandbox.revise,
        ("POST", "/_sandbox/reset"): sandbox.reset,
    }
    action = actions.get((method, path))
    if action is None:
        return 404, {"error": "unknown admin route"}
    result = action()
    if path == "/_sandbox/requests":
        return 200, result
    return 200, [] if method == "DELETE" else sandbox.info()


class _Handler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    # The request-log entry of the request being answered (its request id goes in).
    _entry: dict[str, Any] | None = None
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY the client's
    # delayed ACK adds ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "ClaudeAnalyticsSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the sandbox quiet; the request log has everything."""

    # --- admin --------------------------------------------------------------------

    def _admin(self, method: str, path: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, answer = admin_answer(self.sandbox, method, path, body)
        self._send_json(status, answer)

    def do_POST(self) -> None:
        if not self._write_refused("POST"):
            self._admin("POST", urlsplit(self.path).path)

    def do_DELETE(self) -> None:
        if not self._write_refused("DELETE"):
            self._admin("DELETE", urlsplit(self.path).path)

    def _write_refused(self, method: str) -> bool:
        """A write to the API (not /_sandbox/): logged with its method, answered 405.

        The tap only reads; tests assert the log holds no write.
        """
        path = urlsplit(self.path).path
        if path.startswith("/_sandbox/"):
            return False
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        endpoint = routes.route_path(self.sandbox.routes, path) or path
        self.sandbox.log({"t": time.time(), "endpoint": endpoint, "method": method,
                          "params": {}, "status": 405, "rows": 0, "faults": []})  # fmt: skip
        self._send_error(405, "invalid_request_error", f"{method} is not served by the sandbox")
        return True

    # --- API ----------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/_sandbox/"):
            self._admin("GET", parts.path)
            return
        sandbox = self.sandbox
        endpoint = routes.route_path(sandbox.routes, parts.path)
        if endpoint is None:
            self._send_error(404, "not_found_error", "no such endpoint")
            return
        params = parse_qs(parts.query, keep_blank_values=True)
        entry: dict[str, Any] = {
            "t": time.time(),
            "endpoint": endpoint,
            "method": "GET",
            "key_kind": routes.key_kind(sandbox, self.headers.get("x-api-key")),
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
        route = sandbox.routes.get(endpoint)
        refusal = surprises.early_refusal(
            faults, route.endpoint if route else None, params, sandbox.now()
        )
        if refusal is not None:
            status, error_type, message, headers = refusal
            entry["status"] = status
            self._send_error(status, error_type, message, headers=headers)
            return
        try:
            body = sandbox.handle_api(endpoint, params, self.headers.get("x-api-key"), self.headers)
        except ApiError as err:
            entry["status"] = err.status
            self._send_error(err.status, err.error_type, err.message)
            return
        body = apply_body_faults(faults, endpoint, params, body, sandbox.org.revision)
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

    # --- sending ------------------------------------------------------------------

    def _send_error(
        self, status: int, error_type: str, message: str, headers: dict | None = None
    ) -> None:
        settings = self.sandbox.settings
        body = error_body(error_type, message, self._request_id())
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


def retry_after_http_date(seconds: float) -> str:
    """A ``retry-after`` value in HTTP-date form, ``seconds`` from now."""
    return email.utils.formatdate(time.time() + seconds, usegmt=True)

"""The REST client every stream shares: auth, rate limit, retries, errors, paging.

Request flow for one page: ``get_http_request`` builds it, the process-wide limiter
(``rate_limit.py``) spaces it, ``request_decorator`` retries transient failures for up
to ``max_retry_seconds``, and ``validate_response`` classifies the answer and parses the
body *inside* the retry loop, so a 200 with a broken body is retried like a 503.
"""

from __future__ import annotations

import decimal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

import backoff
import msgspec
import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.types import Context
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_claude_enterprise import schemas
from tap_claude_enterprise.errors import (
    AUTH_HELP,
    AuthenticationError,
    BadRequestError,
    CursorExpiredError,
    DateNotAvailableError,
    InvalidResponseError,
    is_cursor_message,
    is_not_available_message,
    latest_day_from_message,
    redact,
)
from tap_claude_enterprise.pagination import CursorPaginator
from tap_claude_enterprise.prefetch import ChainCancelledError, OrderedPrefetcher
from tap_claude_enterprise.rate_limit import shared_limiter
from tap_claude_enterprise.retry import retry_after_of, wait_generator

if TYPE_CHECKING:
    from tap_claude_enterprise.tap import TapClaudeEnterprise

API_PATH = "/v1/organizations/analytics"
API_VERSION = "2023-06-01"
SCHEMAS_DIR = SchemaDirectory(schemas)

# Parsing straight to Python objects with msgspec is several times faster than the
# SDK's json + jsonpath path; floats become Decimal so no value is rounded.
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)

RETRIABLE_EXCEPTIONS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("tap-claude-enterprise")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "0"


USER_AGENT = f"tap-claude-enterprise/{_version()}"


class AnalyticsStream(RESTStream[str]):
    """Base stream for every Claude Enterprise Analytics endpoint."""

    schema: ClassVar[StreamSchema] = StreamSchema(SCHEMAS_DIR)  # type: ignore[assignment]
    # Requests are spaced by the shared limiter and chains fetched in parallel, so
    # records always arrive in bookmark order and STATE can follow each finished day.
    is_sorted = True
    # A run starts with the lookback, *before* the saved bookmark.
    check_sorted = False
    # STATE is written after every complete day or window, never by record count.
    STATE_MSG_FREQUENCY = 10**12
    # Values in the response whose field is in cents and must stay exact.
    endpoint: ClassVar[str] = ""

    def __init__(self, tap: TapClaudeEnterprise, **kwargs: Any) -> None:
        super().__init__(tap, **kwargs)
        self.tap: TapClaudeEnterprise = tap
        self.limiter = shared_limiter(
            self.config.get("api_url", "https://api.anthropic.com"),
            int(self.config.get("max_requests_per_minute", 60)),
        )
        self._stats_lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "records": 0, "started": 0.0}

    # --- request building ---------------------------------------------------------

    @property
    def url_base(self) -> str:
        """``api_url`` plus the analytics path."""
        return self.config.get("api_url", "https://api.anthropic.com").rstrip("/") + API_PATH

    @property
    def path(self) -> str:  # type: ignore[override]
        """The endpoint path under the analytics base."""
        return "/" + self.endpoint

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        """The key goes in the ``x-api-key`` header, never in the URL."""
        return APIKeyAuthenticator(
            key="x-api-key", value=self.config["api_key"], location="header"
        )

    @property
    def http_headers(self) -> dict[str, str]:
        """Headers the official SDK also sends."""
        return {
            "anthropic-version": API_VERSION,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    @property
    def timeout(self) -> tuple[float, float]:  # type: ignore[override]
        """Explicit (connect, read) timeouts instead of the SDK's single 300 s."""
        return (
            float(self.config.get("connect_timeout_seconds", 10)),
            float(self.config.get("read_timeout_seconds", 60)),
        )

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """The query of one chain (a day or a window); list values repeat with ``[]``."""
        raise NotImplementedError

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build one page's request: the chain's query plus the cursor, if any."""
        params = dict(self.request_params(page.stream_context))
        if page.next_page_token:
            params["page"] = page.next_page_token
        return HTTPRequest(
            url=self.get_url(page.stream_context),
            method="GET",
            headers=self.http_headers,
            params=params,
            safe_query_chars="[]",
        )

    def get_new_paginator(self) -> CursorPaginator:
        """A fresh paginator per chain: cursors are bound to their query."""
        return CursorPaginator(self.endpoint)

    # --- sending, retrying, validating --------------------------------------------

    def request_decorator(self, func: Callable) -> Callable:
        """Retry transient failures for up to ``max_retry_seconds`` in total.

        The limiter sits *inside* the retry loop, so every attempt, retries included,
        waits for a slot in the organization's budget.
        """

        def limited(*args: Any, **kwargs: Any) -> requests.Response:
            self.limiter.acquire()
            with self._stats_lock:
                self.stats["requests"] += 1
            return func(*args, **kwargs)

        return backoff.on_exception(
            wait_generator,
            RETRIABLE_EXCEPTIONS,
            max_time=lambda: float(self.config.get("max_retry_seconds", 600)),
            on_backoff=self.backoff_handler,
            on_giveup=self._log_giveup,
            jitter=None,
        )(limited)

    def backoff_handler(self, details: Any) -> None:  # type: ignore[override]
        """Log one line per retry, without the response body."""
        exc = details.get("exception")
        with self._stats_lock:
            self.stats["retries"] += 1
        self.logger.warning(
            "%s: retrying in %.1f s after attempt %d (%s)",
            self.name,
            details.get("wait", 0.0),
            details.get("tries", 0),
            _describe(exc),
        )

    def _log_giveup(self, details: Any) -> None:
        self.logger.error(
            "%s: giving up after %d attempts over %.0f s (max_retry_seconds): %s",
            self.name,
            details.get("tries", 0),
            details.get("elapsed", 0.0),
            _describe(details.get("exception")),
        )

    def validate_response(self, response: requests.Response) -> None:
        """Sort answers into retriable, fatal with a clear message, or good (parsed).

        Parsing happens here, inside the retry loop, so a 200 whose body is HTML,
        truncated, or missing ``data`` is retried instead of crashing the sync.
        """
        status = response.status_code
        if status in RETRIABLE_STATUSES:
            if status == 429:
                wait = retry_after_of(RetriableAPIError("", response))
                self.limiter.penalize(wait if wait is not None else 2.0)
            raise RetriableAPIError(self.response_error_message(response), response)
        if status in {401, 403, 404}:
            raise AuthenticationError(AUTH_HELP.format(status=status))
        if 400 <= status < 500:
            message = _api_message(response)
            if status == 410 or (status == 400 and is_cursor_message(message)):
                raise CursorExpiredError(
                    f"/{self.endpoint}: the page cursor expired or no longer matches ({status})"
                )
            if status == 400 and is_not_available_message(message):
                raise DateNotAvailableError(
                    f"/{self.endpoint}: {redact(message)}", latest_day_from_message(message)
                )
            raise BadRequestError(
                f"/{self.endpoint} rejected the request ({status}): {redact(message)}. "
                f"Parameters: {_public_params(response)}"
            )
        if status >= 500:
            raise RetriableAPIError(self.response_error_message(response), response)
        response.parsed_payload = self.parse_payload(response)  # type: ignore[attr-defined]

    def parse_payload(self, response: requests.Response) -> dict[str, Any]:
        """Decode the body and check the envelope; a bad body raises a retriable error."""
        try:
            body = _DECODER.decode(response.content)
        except msgspec.DecodeError as exc:
            kind = response.headers.get("Content-Type", "unknown content type")
            msg = f"/{self.endpoint}: the body of a 200 is not valid JSON ({kind})"
            raise InvalidResponseError(msg, response) from exc
        if not isinstance(body, dict):
            msg = f"/{self.endpoint}: the body of a 200 is not a JSON object"
            raise InvalidResponseError(msg, response)
        self.normalize_envelope(body)
        if not isinstance(body.get("data"), list):
            msg = f"/{self.endpoint}: the response has no 'data' list"
            raise InvalidResponseError(msg, response)
        cursor = body.get("next_page")
        if cursor is not None and not isinstance(cursor, str):
            msg = f"/{self.endpoint}: 'next_page' is not a string"
            raise InvalidResponseError(msg, response)
        return body

    def normalize_envelope(self, body: dict[str, Any]) -> None:
        """Adapt older envelopes in place (overridden where the API changed)."""

    def response_error_message(self, response: requests.Response) -> str:
        """Status, endpoint and the API's own message; never the body's rows."""
        return (
            f"{response.status_code} {response.reason} from /{self.endpoint}: "
            f"{redact(_api_message(response)) or 'no message'}"
        )

    # --- chains -------------------------------------------------------------------

    def fetch_pages(
        self, context: Context | None, cancelled: threading.Event | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the parsed pages of one chain (one day, range or window)."""
        paginator = self.get_new_paginator()
        send = self.request_decorator(self._request)
        while not paginator.finished:
            if cancelled is not None and cancelled.is_set():
                raise ChainCancelledError
            http_request = self.get_http_request(
                page=PageContext(stream_context=context, next_page_token=paginator.current_value)
            )
            prepared = self.build_prepared_request(
                method=http_request.method,
                url=http_request.url,
                params=http_request.encode_params(),
                headers=http_request.headers,
            )
            response = send(prepared, context)
            payload = CursorPaginator.payload(response)
            paginator.advance(response)
            yield payload

    def prefetched(
        self,
        keys: Iterable[Any],
        run_chain: Callable[[Any, threading.Event], Iterable[Any]],
    ) -> OrderedPrefetcher:
        """Run chains for ``keys`` in parallel; results come back in key order."""
        return OrderedPrefetcher(
            keys,
            run_chain,
            workers=int(self.config.get("max_concurrent_requests", 4)),
        )

    def commit_bookmark(self, value: str) -> None:
        """Record that everything up to ``value`` is fetched, and emit STATE.

        Called only between complete days or windows, after their records were
        written, so an interrupted sync resumes where it stopped and never skips.
        """
        state = self.stream_state
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value
        state.pop("starting_replication_value", None)
        self.finalize_state_progress_markers(state)

    def _increment_stream_state(self, latest_record: dict, *, context: Context | None = None) -> None:
        """Do nothing per record; bookmarks move in ``commit_bookmark``.

        Advancing on each record would mark a half-fetched day as done.
        """
        del latest_record, context

    def log_progress(self, what: str, index: int, total: int) -> None:
        """One progress line per chain: where a long backfill is."""
        now = time.monotonic()
        if not self.stats["started"]:
            self.stats["started"] = now
        self.logger.info(
            "%s: %s (%d of %d) done; %d records, %d requests so far",
            self.name,
            what,
            index,
            total,
            self.stats["records"],
            self.stats["requests"],
        )

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Overridden by each stream family."""
        raise NotImplementedError

    @staticmethod
    def stored_bookmark(state: dict[str, Any]) -> str | None:
        """The bookmark from STATE, ignoring a bookmark of another replication key."""
        return state.get("replication_key_value")


def _api_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or "")
    return ""


def _public_params(response: requests.Response) -> str:
    request = response.request
    url = request.url if request is not None and request.url else ""
    query = url.split("?", 1)[1] if "?" in url else ""
    return redact(requests.utils.unquote(query), limit=400) or "none"


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, (RetriableAPIError, FatalAPIError)):
        return redact(str(exc))
    return f"{type(exc).__name__}: {redact(str(exc))}"


def schema_text(name: str) -> str:
    """A stream's JSON schema file, for docs and tests."""
    return resources.files(schemas).joinpath(f"{name}.json").read_text()

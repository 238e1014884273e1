"""The REST client every stream shares: auth, rate limit, retries, errors, paging.

Request flow for one page: ``get_http_request`` builds it, the process-wide limiter
(``rate_limit.py``) spaces it, ``request_decorator`` retries transient failures for up
to ``max_retry_seconds``, and ``validate_response`` classifies the answer and parses the
body *inside* the retry loop, so a 200 with a broken body is retried like a 503.

The key travels only in the ``x-api-key`` header and only to ``api_url``: redirects are
never followed, and TLS certificates are always verified.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import msgspec
import requests
from singer_sdk import RESTStream, Tap, metrics
from singer_sdk import singerlib as singer
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.types import Context
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_claude_enterprise import schemas
from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.http import capture, transport
from tap_claude_enterprise.http.errors import (
    AUTH_HELP,
    INSECURE_URL_HELP,
    NOT_RETRIED_HELP,
    REDIRECT_HELP,
    TLS_HELP,
    AuthenticationError,
    BadRequestError,
    CursorExpiredError,
    InsecureURLError,
    InvalidResponseError,
    NotRetriedError,
    RedirectError,
    TLSVerificationError,
    is_cursor_message,
)
from tap_claude_enterprise.http.first_contact import FirstContact, first_contact_of
from tap_claude_enterprise.http.pagination import CursorPaginator
from tap_claude_enterprise.http.rate_limit import Slot, shared_limiter
from tap_claude_enterprise.http.redaction import redact
from tap_claude_enterprise.http.retrying import BASE_WAIT_SECONDS, retry_after_of, retrying
from tap_claude_enterprise.records.conformance import RecordPlan
from tap_claude_enterprise.records.organization import (
    OrganizationStreamSchema,
    keyed,
    organization_label,
)
from tap_claude_enterprise.records.privacy import EmailPolicy
from tap_claude_enterprise.sync.availability import not_available_error, refusal_error
from tap_claude_enterprise.sync.prefetch import ChainCancelledError

API_PATH = "/v1/organizations/analytics"
API_VERSION = "2023-06-01"
SCHEMAS_DIR = SchemaDirectory(schemas)

# Parsing straight to Python objects with msgspec is several times faster than the
# SDK's json + jsonpath path; floats become Decimal so no value is rounded.
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
# The connection test's own budget: it answers within seconds, not after ten minutes.
QUICK_RETRY_SECONDS = 10.0
QUICK_CONNECT_SECONDS = 5.0
QUICK_READ_SECONDS = 20.0
# Before any endpoint of this run has answered, a host that cannot be resolved or refuses
# the connection is retried this long, not for max_retry_seconds: it is a wrong api_url
# or a sandbox that is not running far more often than an outage (`meltano config test`
# would otherwise hang for ten minutes). Once the API has answered, the full budget holds.
FIRST_CONTACT_RETRY_SECONDS = 20.0
_HOOKS_LOCK = threading.Lock()
# Environment variables ``requests`` reads for a custom CA bundle (``Session.send``,
# which the SDK calls, skips that lookup).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tap-claude-enterprise")
    except PackageNotFoundError:  # running from a source tree
        return "0"


USER_AGENT = f"tap-claude-enterprise/{_version()}"


class AnalyticsStream(RESTStream[str]):
    """Base stream for every Claude Enterprise Analytics endpoint."""

    # The schema files, plus the organization_label column when that setting is on.
    schema: ClassVar[StreamSchema] = OrganizationStreamSchema(SCHEMAS_DIR)
    # Requests are spaced by the shared limiter and chains fetched in parallel, so
    # records always arrive in bookmark order and STATE can follow each finished day.
    is_sorted = True
    # A redirect would carry the x-api-key header to another host (requests only
    # strips ``Authorization``); a 3xx is reported instead (``validate_response``).
    allow_redirects = False
    # A run starts with the lookback, *before* the saved bookmark.
    check_sorted = False
    # STATE is written after every complete day or window, never by record count.
    STATE_MSG_FREQUENCY = 10**12
    # Values in the response whose field is in cents and must stay exact.
    endpoint: ClassVar[str] = ""
    # The API path ``endpoint`` is relative to (the endpoint table's ``base``).
    api_base: ClassVar[str] = API_PATH
    # Set by the connection test: a short budget of its own, and no retrying a host
    # that cannot be resolved, refuses connections, or fails TLS.
    quick_check = False

    def __init__(self, tap: Tap, **kwargs: Any) -> None:
        super().__init__(tap, **kwargs)
        # The tap's ``endpoint_access`` (its run context's) is read while sending.
        self.tap: Any = tap
        self.limiter = shared_limiter(
            self.config.get("api_url", "https://api.anthropic.com"),
            int(self.config.get("max_requests_per_minute", 60)),
        )
        self._stats_lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "records": 0, "started": 0.0, "seconds": 0.0}
        self._record_plan: RecordPlan | None = None
        self._record_plan_for: tuple[object, object] | None = None
        # Record post-processing: e-mail privacy, then the organization column.
        self.email_policy = EmailPolicy.from_config(self.config)
        self.organization = organization_label(self.config)
        if self.organization is not None:
            self.primary_keys = keyed(self.primary_keys, self.organization)

    # --- request building ---------------------------------------------------------

    @property
    def url_base(self) -> str:
        """``api_url`` plus the endpoint's base path (analytics, or the organization's)."""
        return self.config.get("api_url", "https://api.anthropic.com").rstrip("/") + self.api_base

    @property
    def path(self) -> str:  # type: ignore[override]
        """The endpoint path under the analytics base."""
        return "/" + self.endpoint

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        """The key goes in the ``x-api-key`` header, never in the URL."""
        return APIKeyAuthenticator(key="x-api-key", value=self.request_key, location="header")

    @property
    def request_key(self) -> str:
        """The key this stream sends (a family whose endpoints need another key overrides it)."""
        return str(self.config["api_key"])

    @property
    def requests_session(self) -> requests.Session:
        """The SDK's session, with certificate verification always on.

        A CA bundle named by ``REQUESTS_CA_BUNDLE`` is honoured (as ``requests`` does
        for ``Session.request``) so a re-signing proxy can work; ``False`` never is.
        """
        session = super().requests_session
        session.verify = _ca_bundle() or True
        with _HOOKS_LOCK:  # chains share the session: every request must see both hooks
            hooks = session.hooks["response"]
            if transport.remember_response not in hooks:
                if self.config.get("capture_dir"):
                    hooks.append(capture.shared_writer(self.config["capture_dir"]).hook)
                hooks.append(transport.remember_response)
        return session

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
        connect = float(self.config.get("connect_timeout_seconds", 10))
        read = float(self.config.get("read_timeout_seconds", 60))
        if self.quick_check:
            return (min(connect, QUICK_CONNECT_SECONDS), min(read, QUICK_READ_SECONDS))
        return (connect, read)

    @property
    def retry_budget_seconds(self) -> float:
        """``max_retry_seconds``, or the connection test's own short budget."""
        budget = float(self.config.get("max_retry_seconds", 600))
        return min(budget, QUICK_RETRY_SECONDS) if self.quick_check else budget

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """The query of one chain (a day or a window); list values repeat with ``[]``."""
        raise NotImplementedError

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build one page's request: the chain's query plus the cursor, if any."""
        url = self.get_url(page.stream_context)
        require_tls(url)
        # The official SDK's path carries ``?beta=true`` first; the API ignores it elsewhere.
        params = {"beta": "true", **self.request_params(page.stream_context)}
        if page.next_page_token:
            params["page"] = page.next_page_token
        return HTTPRequest(
            url=url,
            method="GET",
            headers=self.http_headers,
            params=params,
            safe_query_chars="[]",
        )

    def get_new_paginator(self) -> CursorPaginator:
        """A fresh paginator per chain: cursors are bound to their query."""
        return CursorPaginator(self.endpoint)

    # --- sending, retrying, validating --------------------------------------------

    def request_decorator(
        self, func: Callable[..., requests.Response], cancelled: threading.Event | None = None
    ) -> Callable[..., requests.Response]:
        """Retry transient failures of ``func`` for up to ``max_retry_seconds`` in total.

        The limiter sits *inside* the retry loop, so every attempt, retries included,
        waits for a slot in the organization's budget. The budget's clock starts at the
        first attempt: queueing for a slot beforehand is not a failure. A chain whose
        ``cancelled`` event is set stops at its next slot instead of spending it.
        """

        def send(*args: Any, **kwargs: Any) -> requests.Response:
            # The run's first request goes alone (first_contact.py): a wrong key must not
            # fan out into parallel chains before it is recognised.
            first = self.first_contact.enter(cancelled)
            try:
                return retried(*args, **kwargs)
            finally:
                if first:
                    self.first_contact.settle()

        def retried(*args: Any, **kwargs: Any) -> requests.Response:
            budget = self.retry_budget_seconds
            slot: list[Slot | None] = [self._take_slot(cancelled)]

            def attempt() -> requests.Response:
                taken = slot[0] or self._take_slot(cancelled)
                slot[0] = None
                refused = False
                transport.forget_response()
                try:
                    return _verified(func, *args, **kwargs)
                except (RetriableAPIError, FatalAPIError) as exc:
                    refused = _status_of(exc) == 429
                    # Support asks for the API's request id: every line of this error has it.
                    transport.with_request_id(exc, _response_of(exc) or transport.last_response())
                    raise
                finally:
                    # The answer's arrival closes the slot (rate_limit.py).
                    self.limiter.release(taken, refused=refused)

            started = time.monotonic()
            return retrying(
                attempt,
                budget=budget,
                giveup=lambda exc: (
                    _server_wait_exceeds(exc, started + budget) or self._never_reached(exc, started)
                ),
                on_backoff=self.backoff_handler,
                on_giveup=self._log_giveup,
            )

        return send

    def send_request(
        self, prepared: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """Send one request and validate the answer (one attempt; retries wrap it).

        What the SDK's ``RESTStream._request`` does, through public names only: the
        authenticator, the session, and the SDK's request-duration metric.
        """
        authenticated = self.authenticator(prepared)
        response = self.requests_session.send(
            authenticated, timeout=self.timeout, allow_redirects=self.allow_redirects
        )
        self.log_request_duration(response, context)
        self.validate_response(response)
        return response

    def log_request_duration(self, response: requests.Response, context: Context | None) -> None:
        """The SDK's ``http_request_duration`` metric point, as its ``_request`` writes it."""
        tags: dict[str, Any] = {
            metrics.Tag.STREAM: self.name,
            metrics.Tag.ENDPOINT: self.path,
            metrics.Tag.HTTP_STATUS_CODE: response.status_code,
            metrics.Tag.STATUS: (
                metrics.Status.SUCCEEDED if response.status_code < 400 else metrics.Status.FAILED
            ),
        }
        if context:
            tags[metrics.Tag.CONTEXT] = context
        point = metrics.Point(
            "timer",
            metric=metrics.Metric.HTTP_REQUEST_DURATION,
            value=response.elapsed.total_seconds(),
            tags=tags,
        )
        metrics.log(self.metrics_logger, point=point)

    def _never_reached(self, exc: BaseException, started: float) -> bool:
        """Give up on a host never reached: at once in the connection test, else after 20 s."""
        if not transport.is_unreachable(exc):
            return False
        if self.quick_check:
            return True
        first_contact = not self.tap.endpoint_access.accepted
        return first_contact and time.monotonic() - started > FIRST_CONTACT_RETRY_SECONDS

    @property
    def first_contact(self) -> FirstContact:
        """This run's first request and the verdict on the key."""
        return first_contact_of(self.tap)

    def probe_status(self, endpoint: Endpoint) -> int | None:
        """The status of one request to a report ``endpoint`` (not retried; None: no answer).

        Asks for one bucket a week back: the smallest request the endpoint serves.
        """
        day = dt.datetime.now(tz=dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        params = {
            "beta": "true",
            "starting_at": (day - dt.timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ending_at": (day - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "limit": "1",
        }
        url = f"{self.url_base}/{endpoint.path}"
        prepared = self.build_prepared_request(
            method="GET", url=url, params=params, headers=self.http_headers
        )
        slot = self._take_slot(None)
        try:
            response = self.requests_session.send(
                self.authenticator(prepared), timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException:
            return None
        finally:
            self.limiter.release(slot)
        self.log_request_duration(response, None)
        return response.status_code

    def _take_slot(self, cancelled: threading.Event | None) -> Slot:
        if cancelled is not None and cancelled.is_set():
            raise ChainCancelledError
        slot = self.limiter.reserve(cancelled)
        if slot is None:
            raise ChainCancelledError
        with self._stats_lock:
            self.stats["requests"] += 1
        return slot

    def backoff_handler(self, details: Any) -> None:
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
        exc = details.get("exception")
        if self.quick_check:
            return  # the connection test's verdict line says it, once
        hint = ""
        server_wait = retry_after_of(exc) if exc is not None else None
        if server_wait is not None:
            hint += f" The API asked to wait {server_wait:.0f} s more."
        if _status_of(exc) == 429:
            hint += (
                " The organization's rate limit stayed used up: another tool may be "
                "polling the same organization; lower max_requests_per_minute to leave "
                "it room, or raise max_retry_seconds."
            )
        self.logger.error(
            "%s: giving up after %d attempts over %.0f s (max_retry_seconds): %s.%s",
            self.name,
            details.get("tries", 0),
            details.get("elapsed", 0.0),
            _describe(exc).rstrip("."),
            hint,
        )

    def validate_response(self, response: requests.Response) -> None:
        """Sort answers into retriable, fatal with a clear message, or good (parsed).

        Parsing happens here, inside the retry loop, so a 200 whose body is HTML,
        truncated, or missing ``data`` is retried instead of crashing the sync.
        """
        status = response.status_code
        # The API's own verdict comes before the status rules, as in the official SDK.
        verdict = transport.should_retry_of(response)
        if verdict is True:
            if status == 429:
                self._pause_limiter(response)
            raise RetriableAPIError(self.response_error_message(response), response)
        if verdict is False and (status in RETRIABLE_STATUSES or status >= 500):
            raise NotRetriedError(self.response_error_message(response) + NOT_RETRIED_HELP)
        if status in RETRIABLE_STATUSES:
            if status == 429:
                self._pause_limiter(response)
            raise RetriableAPIError(self.response_error_message(response), response)
        if 300 <= status < 400:
            raise RedirectError(REDIRECT_HELP.format(status=status))
        if status in {401, 403, 404}:
            raise self._refusal(response)
        if 400 <= status < 500:
            message = _api_message(response)
            self.tap.endpoint_access.accept(self.endpoint)
            if status == 410 or (status == 400 and is_cursor_message(message)):
                raise CursorExpiredError(
                    f"/{self.endpoint}: the page cursor expired or no longer matches the "
                    f"query ({status}). Re-run the sync: it resumes from the last complete "
                    "day or window."
                )
            if status == 400:
                # Whatever its wording: a 400 reaching into the last week is "not yet".
                not_available = not_available_error(
                    self.endpoint, message, response.request.url or ""
                )
                if not_available is not None:
                    raise not_available
            raise BadRequestError(
                f"/{self.endpoint} rejected the request ({status}): {redact(message)}. "
                f"Parameters: {_public_params(response)}"
            )
        if status >= 500:
            raise RetriableAPIError(self.response_error_message(response), response)
        response.parsed_payload = self.parse_payload(response)  # type: ignore[attr-defined]
        self.tap.endpoint_access.accept(self.endpoint)

    def _refusal(self, response: requests.Response) -> FatalAPIError:
        """The error for a 401/403/404; on the run's first answer, one request decides."""
        status = response.status_code
        if status == 401:
            if not self.first_contact.settled:
                return self.first_contact.refuse_key(status)
            return AuthenticationError(AUTH_HELP.format(status=status))
        refusal = refusal_error(self.endpoint, status, _api_message(response))
        access = self.tap.endpoint_access
        if not (self.quick_check or self.first_contact.settled or access.accepted):
            # A missing endpoint, or a wrong key? (first_contact.py)
            key_is_wrong = self.first_contact.decide(
                self.endpoint, self.config.get("api_key"), self.probe_status
            )
            if key_is_wrong:
                return self.first_contact.refuse_key(401)
            if key_is_wrong is False and self.first_contact.answered_by:
                access.accept(self.first_contact.answered_by)
        return refusal

    def _pause_limiter(self, response: requests.Response) -> None:
        """After a 429, hold every thread of this process for the server's wait."""
        wait = retry_after_of(RetriableAPIError("", response))
        budget = self.retry_budget_seconds
        self.limiter.penalize(min(BASE_WAIT_SECONDS if wait is None else wait, budget))

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
        if body.get("has_more") is True and not cursor:
            msg = f"/{self.endpoint}: 'has_more' is true but there is no 'next_page'"
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

    # --- pages of one chain (the chain loop itself: sync/engine.py) -----------------

    def fetch_pages(
        self, context: Context | None, cancelled: threading.Event | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the parsed pages of one chain (one day, range or window)."""
        paginator = self.get_new_paginator()
        send = self.request_decorator(self.send_request, cancelled)
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

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        """The SDK's RECORD messages, without its per-record walks when they change nothing.

        Pruning deselected properties and recursive type conformance were two thirds of
        the tap's CPU per record. When every property is selected and ``RecordPlan``
        finds nothing to conform, the record goes out as it is, which is exactly what
        the SDK would write; otherwise the SDK's own path runs.

        The package's one private SDK hook (with ``_stream_version``, which the SDK's
        own version of this method reads): the SDK has no public hook between a record
        and its message. tests/test_sdk_contract.py fails if an upgrade changes either.
        """
        plan = self._current_record_plan()
        if plan is None or not plan.unchanged(record):
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=dt.datetime.now(tz=dt.timezone.utc),
                )

    # --- bookmarks move only at commits (public hooks only) ----------------------------
    # The SDK advances ``replication_key_value`` in memory after every record of an
    # INCREMENTAL stream. Here a bookmark means "every day or window up to here is
    # complete" (``commit_bookmark``), so the value committed last is put back wherever
    # the SDK may write STATE on its own: after the stream's last record (``get_records``
    # runs inside ``bookmarks_only_at_commits``) and after each BATCH file
    # (``get_batches``). STATE_MSG_FREQUENCY keeps it from writing STATE between records.

    committed_bookmark: str | None = None

    @contextmanager
    def bookmarks_only_at_commits(self) -> Iterator[None]:
        """Around a stream's records: start from the incoming bookmark, end on the last commit."""
        self.committed_bookmark = self.stream_state.get("replication_key_value")
        try:
            yield
        finally:
            self.restore_committed_bookmark()

    def restore_committed_bookmark(self) -> None:
        """Undo the SDK's per-record bookmark moves since the last commit."""
        state = self.stream_state
        if self.committed_bookmark is None:
            state.pop("replication_key_value", None)
            state.pop("replication_key", None)
        else:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = self.committed_bookmark

    def get_batches(  # the SDK's types for these live in a private module
        self, batch_config: Any, context: Context | None = None
    ) -> Iterator[tuple[Any, list[str]]]:
        """The SDK's batch files; STATE after each covers committed days or windows only."""
        for batch in super().get_batches(batch_config, context):
            self.restore_committed_bookmark()
            yield batch

    def _current_record_plan(self) -> RecordPlan | None:
        """The plan for the schema in use; None while some property is deselected."""
        schema, mask = self.effective_schema, self.mask
        cached = self._record_plan_for
        if cached is None or cached[0] is not schema or cached[1] is not mask:
            self._record_plan_for = (schema, mask)
            self._record_plan = RecordPlan(schema) if all(mask.values()) else None
        return self._record_plan


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
    query = query.removeprefix("beta=true&")  # the SDK's flag: not a parameter to check
    return redact(unquote(query), limit=400) or "none"


def _verified(
    func: Callable[..., requests.Response], *args: Any, **kwargs: Any
) -> requests.Response:
    """Call ``func``; a certificate that fails verification is fatal, not transient."""
    try:
        return func(*args, **kwargs)
    except requests.exceptions.SSLError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise TLSVerificationError(TLS_HELP) from exc
        raise


def require_tls(url: str) -> None:
    """Refuse plain http anywhere but loopback, before a connection is opened."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if parts.scheme != "http" or not loopback:
        raise InsecureURLError(INSECURE_URL_HELP)


def _ca_bundle() -> str | None:
    for name in CA_BUNDLE_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _response_of(exc: BaseException) -> requests.Response | None:
    response = getattr(exc, "response", None)
    return response if isinstance(response, requests.Response) else None


def _status_of(exc: BaseException | None) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _server_wait_exceeds(exc: BaseException, deadline: float) -> bool:
    """Whether the server asks for a wait that ends after the retry budget does."""
    wait = retry_after_of(exc)
    return wait is not None and time.monotonic() + wait > deadline


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, (RetriableAPIError, FatalAPIError)):
        return redact(str(exc), limit=1000)
    cause = transport.network_cause(exc)
    if cause is not None:
        return f"{type(exc).__name__}: {cause}"
    return f"{type(exc).__name__}: {redact(str(exc))}"

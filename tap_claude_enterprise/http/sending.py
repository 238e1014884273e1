"""Sending one request: first contact, the rate-limit slot, retries and giving up.

``request_decorator`` wraps ``send_request`` (one attempt) in the retry loop
(``retrying.py``). Every attempt, retries included, takes a slot from the process-wide
limiter (``rate_limit.py``); the run's first request goes alone (``first_contact.py``).
What an answer means is decided by ``validate_response`` (``responses.py``), which
``send_request`` calls inside the loop.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from singer_sdk import RESTStream, Tap, metrics
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.types import Context

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.http import transport
from tap_claude_enterprise.http.errors import TLS_HELP, TLSVerificationError
from tap_claude_enterprise.http.first_contact import FirstContact, first_contact_of
from tap_claude_enterprise.http.rate_limit import Slot, shared_limiter
from tap_claude_enterprise.http.redaction import redact
from tap_claude_enterprise.http.retrying import retry_after_of, retrying
from tap_claude_enterprise.sync.prefetch import ChainCancelledError

# The connection test's own budget: it answers within seconds, not after ten minutes.
QUICK_RETRY_SECONDS = 10.0
# Before any endpoint of this run has answered, a host that cannot be resolved or refuses
# the connection is retried this long, not for max_retry_seconds: it is a wrong api_url
# or a sandbox that is not running far more often than an outage (`meltano config test`
# would otherwise hang for ten minutes). Once the API has answered, the full budget holds.
FIRST_CONTACT_RETRY_SECONDS = 20.0


class SendingMixin(RESTStream[str]):
    """Sends requests through the shared limiter, retrying transient failures."""

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

    @property
    def retry_budget_seconds(self) -> float:
        """``max_retry_seconds``, or the connection test's own short budget."""
        budget = float(self.config.get("max_retry_seconds", 600))
        return min(budget, QUICK_RETRY_SECONDS) if self.quick_check else budget

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

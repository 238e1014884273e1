"""The REST client every stream shares: the HTTP contract of the analytics API.

Request flow for one page: ``get_http_request`` builds it, ``request_decorator``
(``sending.py``) spaces it with the process-wide limiter and retries transient failures
for up to ``max_retry_seconds``, and ``validate_response`` (``responses.py``) classifies
the answer and parses the body *inside* the retry loop, so a 200 with a broken body is
retried like a 503.

The key travels only in the ``x-api-key`` header and only to ``api_url``: redirects are
never followed, and TLS certificates are always verified.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from singer_sdk import Tap
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.helpers.types import Context
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_claude_enterprise import schemas
from tap_claude_enterprise.http import capture, transport
from tap_claude_enterprise.http.errors import INSECURE_URL_HELP, InsecureURLError
from tap_claude_enterprise.http.pagination import CursorPaginator
from tap_claude_enterprise.http.responses import ResponsesMixin
from tap_claude_enterprise.records.organization import (
    OrganizationStreamSchema,
    keyed,
    organization_label,
)
from tap_claude_enterprise.records.privacy import EmailPolicy
from tap_claude_enterprise.sync.prefetch import ChainCancelledError

API_PATH = "/v1/organizations/analytics"
API_VERSION = "2023-06-01"
SCHEMAS_DIR = SchemaDirectory(schemas)

# The connection test's own timeouts (``quick_check``).
QUICK_CONNECT_SECONDS = 5.0
QUICK_READ_SECONDS = 20.0
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


class AnalyticsStream(ResponsesMixin):
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
    # The API path ``endpoint`` is relative to (the endpoint table's ``base``).
    api_base: ClassVar[str] = API_PATH

    def __init__(self, tap: Tap, **kwargs: Any) -> None:
        super().__init__(tap, **kwargs)
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

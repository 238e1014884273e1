"""Errors the tap raises, and the one-line explanations users see.

Messages name the endpoint and the request's own parameters, never the key, never a
response row, and never an e-mail address (``redact`` removes any the API echoes).
"""

from __future__ import annotations

import datetime as dt

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

# ``redact`` lives in redaction.py; still importable from here for older imports.
from tap_claude_enterprise.http.redaction import redact  # noqa: F401

AUTH_HELP = (
    "the API refused the key ({status}). Check that api_key is a Claude Enterprise "
    "Analytics key (sk-ant-api01-..., created by a Primary Owner at claude.ai > Analytics "
    "> API keys) with the read:analytics scope, and that the organization's Analytics API "
    "access toggle is on. An Admin key (sk-ant-admin01-...) is accepted only by the "
    "/usage and /cost endpoints, not by the other analytics endpoints."
)


class AuthenticationError(FatalAPIError):
    """401, or 403/404 on every endpoint: the key cannot read analytics. Never retried."""


class BadRequestError(FatalAPIError):
    """400 that is neither a late date nor a stale cursor: a parameter the API rejects."""


class DateNotAvailableError(FatalAPIError):
    """400 for a recent day (``availability.py``); carries the latest day it named."""

    def __init__(self, message: str, latest_day: dt.date | None) -> None:
        super().__init__(message)
        self.latest_day = latest_day


REDIRECT_HELP = (
    "the API answered with a redirect ({status}). The tap sends the key only to api_url "
    "and never follows a redirect, so it stopped. Check that api_url is the API's own "
    "address (https://api.anthropic.com), not an old URL or a proxy that redirects."
)

TLS_HELP = (
    "the API's TLS certificate could not be verified, so no request was sent. The tap "
    "always verifies certificates. If your network re-signs HTTPS traffic (a corporate "
    "proxy), set REQUESTS_CA_BUNDLE to a file with that proxy's CA certificate."
)

INSECURE_URL_HELP = (
    "api_url must start with https:// (plain http:// is accepted only for a loopback "
    "address, such as the local sandbox), so the key never travels unencrypted. For an "
    "outbound proxy, keep api_url as is and set HTTPS_PROXY instead."
)

LOOP_HELP = (
    "Nothing from that page was emitted, and STATE covers only complete days and "
    "windows. Re-run the sync; if it happens again, report it to Anthropic support."
)


class CursorExpiredError(FatalAPIError):
    """410, or a 400 about the page cursor: restart that window from its first page."""


class PaginationLoopError(FatalAPIError):
    """The API handed back a cursor it had already given for this query."""


class EmptyPagesError(PaginationLoopError):
    """The API kept answering empty pages that still carry a cursor."""


class RedirectError(FatalAPIError):
    """A 3xx answer: never followed, so the key never leaves ``api_url``."""


class TLSVerificationError(FatalAPIError):
    """The server's certificate failed verification (not retried)."""


class InsecureURLError(FatalAPIError):
    """``api_url`` is plain http to a host other than loopback: nothing is sent."""


NOT_RETRIED_HELP = (
    ". The API marked this answer x-should-retry: false, so it was not retried. "
    "Re-run later; if it persists, report it to Anthropic support with the request id"
)


class NotRetriedError(FatalAPIError):
    """An answer the tap would retry, but the API said not to (``x-should-retry: false``)."""


class InvalidResponseError(RetriableAPIError):
    """A 200 whose body is not the JSON the endpoint documents (retried)."""


def is_cursor_message(message: str) -> bool:
    """Whether a 400 is about the page cursor (stale or not matching the query)."""
    lowered = message.lower()
    return "cursor" in lowered or "page token" in lowered

"""What an answer means: retriable, fatal with a clear message, or a good page (parsed).

``validate_response`` runs inside the retry loop (``sending.py``) and parses the body
there, so a 200 with a broken body is retried like a 503.
"""

from __future__ import annotations

import decimal
from typing import Any, ClassVar
from urllib.parse import unquote

import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_claude_enterprise.http import transport
from tap_claude_enterprise.http.errors import (
    AUTH_HELP,
    NOT_RETRIED_HELP,
    REDIRECT_HELP,
    AuthenticationError,
    BadRequestError,
    CursorExpiredError,
    InvalidResponseError,
    NotRetriedError,
    RedirectError,
    is_cursor_message,
)
from tap_claude_enterprise.http.redaction import redact
from tap_claude_enterprise.http.retrying import BASE_WAIT_SECONDS, retry_after_of
from tap_claude_enterprise.http.sending import SendingMixin
from tap_claude_enterprise.sync.availability import not_available_error, refusal_error

# Parsing straight to Python objects with msgspec is several times faster than the
# SDK's json + jsonpath path; floats become Decimal so no value is rounded.
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})


class ResponsesMixin(SendingMixin):
    """Classifies answers; a 401/403/404 on the run's first answer may ask one more."""

    # The endpoint's path under the analytics base (each table entry sets it).
    endpoint: ClassVar[str] = ""

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

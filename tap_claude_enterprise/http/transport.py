"""What the tap reads from an answer besides its rows: the request id and ``x-should-retry``.

Anthropic support asks for the API's request id (the ``request-id`` header, or
``request_id`` in an error body), so every error and retry line ends with it. The
official SDK obeys ``x-should-retry`` before its own status rules (``true``: retry,
``false``: never), and so does the tap.

A ``requests`` response hook remembers, per thread, the last answer this thread got, so
an error raised while validating it can name its request id even when the exception
does not carry the response.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests

_local = threading.local()
_ID_PREFIX = "request-id "


def remember_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: keep this thread's latest answer (for its request id)."""
    del args, kwargs
    _local.response = response


def forget_response() -> None:
    """Called before each attempt, so a connection error names no stale request id."""
    _local.response = None


def last_response() -> requests.Response | None:
    """The latest answer this thread got since ``forget_response``."""
    return getattr(_local, "response", None)


def request_id_of(response: requests.Response | None) -> str | None:
    """The API's id for this answer: the ``request-id`` header, else the error body's."""
    if response is None:
        return None
    value = response.headers.get("request-id")
    if value:
        return value.strip()[:100]
    if response.status_code < 400:
        return None  # a 200's body is the page of rows: not worth parsing for this
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("request_id"), str):
        return body["request_id"][:100]
    return None


def should_retry_of(response: requests.Response) -> bool | None:
    """The API's ``x-should-retry`` verdict on an error answer, or None if it gave none."""
    if response.status_code < 400:
        return None
    value = (response.headers.get("x-should-retry") or "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def with_request_id(exc: BaseException, response: requests.Response | None) -> BaseException:
    """``exc`` with ``(request-id <id>)`` at the end of its message, once."""
    request_id = request_id_of(response)
    if not request_id or not exc.args or not isinstance(exc.args[0], str):
        return exc
    message = exc.args[0]
    if _ID_PREFIX + request_id in message:
        return exc
    exc.args = (f"{message.rstrip()} ({_ID_PREFIX}{request_id})", *exc.args[1:])
    exc.request_id = request_id  # type: ignore[attr-defined]
    return exc


def network_cause(exc: BaseException) -> str | None:
    """A short, complete reason for a failure to reach the API, or None if not one.

    ``requests`` wraps urllib3's error (and the socket's) in one long line that ends in
    the interesting part; this names the cause instead: cannot resolve, cannot connect,
    TLS, or no answer in time.
    """
    host = _host_of(exc)
    text = " ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))
    if isinstance(exc, requests.exceptions.SSLError) or "SSLError" in text:
        verify = "CERTIFICATE_VERIFY_FAILED" in text
        detail = "the certificate could not be verified" if verify else "the handshake failed"
        return f"TLS with {host} failed: {detail}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"cannot connect to {host}: timed out after connect_timeout_seconds"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"{host} timed out: nothing received within read_timeout_seconds"
    for markers, template in _NETWORK_CAUSES:
        if any(marker in text for marker in markers):
            return template.format(host=host)
    return None


_NETWORK_CAUSES = (
    (
        ("NameResolutionError", "Failed to resolve", "getaddrinfo", "Name or service not known"),
        "cannot resolve {host}: no DNS answer for that name (check api_url and the network)",
    ),
    (
        ("ConnectTimeoutError",),
        "cannot connect to {host}: timed out after connect_timeout_seconds",
    ),
    (
        ("Connection refused", "ConnectionRefusedError"),
        "cannot connect to {host}: connection refused (nothing listens there)",
    ),
    (
        ("Network is unreachable", "No route to host"),
        "cannot connect to {host}: the network is unreachable",
    ),
    (("NewConnectionError",), "cannot connect to {host}"),
)


def is_unreachable(exc: BaseException) -> bool:
    """Whether retrying within seconds is pointless: no name, refused, or bad TLS."""
    cause = network_cause(exc) or ""
    return cause.startswith(("cannot resolve", "TLS with")) or "refused" in cause


def _host_of(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or ""
    host = urlsplit(url).hostname if url else None
    return host or "the API host"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes, and the urllib3 reasons wrapped in its arguments."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 12:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return seen

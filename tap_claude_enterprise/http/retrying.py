"""Retrying failed requests: this module replaces the SDK's backoff hooks.

``RESTStream.request_decorator`` builds ``backoff.on_exception`` from
``backoff_wait_generator``, ``backoff_max_tries`` and ``backoff_jitter``. Those hooks
cannot express what this API needs: a total time budget (``max_retry_seconds``) instead
of a number of tries, giving up at once when the server's ``retry-after`` ends after that
budget or when a host was never reached, and a limiter slot taken by every attempt. So
``request_decorator`` (``sending.py``) calls ``retrying`` below instead, and only the SDK's
``backoff_handler`` hook is kept (it writes the one line per retry).

How long to wait before retrying a failed request:

A 429 means the organization's shared budget is used up, possibly by another tool, so
the wait honours ``retry-after`` (seconds or an HTTP-date) and otherwise backs off
exponentially with jitter from 2 s up to 60 s. Other transient faults (5xx, timeouts,
resets, broken bodies) back off the same way. The caller bounds the total time with
``max_retry_seconds`` instead of a small fixed number of tries, because a rate-limit
window only clears after a minute; a server wait that would end after that budget makes
the caller give up at once rather than retry early.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import backoff
import requests
from singer_sdk.exceptions import RetriableAPIError

BASE_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 60.0

# What is retried: the SDK's own list (``RESTStream.request_decorator``).
RETRIABLE_EXCEPTIONS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

T = TypeVar("T")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``retry-after`` header, or None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(seconds, 0.0)


def retry_after_of(exc: BaseException) -> float | None:
    """The ``retry-after`` wait carried by a retriable API error, if any."""
    if isinstance(exc, RetriableAPIError) and exc.response is not None:
        return parse_retry_after(exc.response.headers.get("retry-after"))
    return None


def exponential_wait(attempt: int, rng: random.Random | None = None) -> float:
    """2 s, 4 s, 8 s ... capped at 60 s, with "equal jitter" (half fixed, half random)."""
    ceiling = min(MAX_WAIT_SECONDS, BASE_WAIT_SECONDS * 2**attempt)
    draw = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2


def wait_generator() -> Generator[float, BaseException | None, None]:
    """A ``backoff`` wait generator that is sent each exception before it yields a wait.

    ``backoff.on_exception`` sends the exception of the failed try into the generator,
    so a 429 with ``retry-after`` waits what the server asked (plus a little jitter so
    that parallel requests do not return in lockstep).
    """
    attempt = 0
    exc = yield 0.0  # priming value, discarded by backoff
    while True:
        server_wait = retry_after_of(exc) if exc is not None else None
        if server_wait is not None:
            wait = server_wait + random.random()  # jitter, not security
        else:
            wait = exponential_wait(attempt)
        attempt += 1
        exc = yield wait


def retrying(
    attempt: Callable[[], T],
    *,
    budget: float,
    giveup: Callable[[BaseException], bool],
    on_backoff: Callable[[Any], None],
    on_giveup: Callable[[Any], None],
) -> T:
    """Call ``attempt`` until it succeeds, retrying transient failures within ``budget`` s.

    ``giveup`` ends the retries early; ``on_backoff`` logs each retry (the stream's
    ``backoff_handler``) and ``on_giveup`` the last failure. ``backoff`` logs nothing
    itself, so there is exactly one line per retry.
    """
    decorated = backoff.on_exception(
        wait_generator,
        RETRIABLE_EXCEPTIONS,
        max_time=budget,
        giveup=giveup,
        on_backoff=on_backoff,
        on_giveup=on_giveup,
        jitter=None,  # wait_generator adds its own
        logger=None,
    )(attempt)
    return decorated()

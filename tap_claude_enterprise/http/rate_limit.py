"""The process-wide request rate limiter.

The Analytics API allows a number of requests per minute per *organization*, shared by
every key, every stream and every other tool polling the same org. A token bucket can
burst past a rolling server window, so this is a sliding-window log of the last
requests. A request may go when fewer than the allowance were counted in the last
``window`` seconds, which is the client-side form of "at most N in any rolling minute"
and still lets a fresh run start without waiting.

Two things make it hold at the *server*, not only at the client:

- A request is counted from the moment it leaves until ``window`` seconds after its
  answer (or failure) came back. The server counts it somewhere in between, so however
  long the network or the server took, the two windows can never disagree.
- When the server answers 429 anyway, another consumer is using part of the budget.
  The allowance then shrinks (to what the server accepted in the last window, at most
  half, at least a quarter) and requests are spaced evenly, so one probe's answer is
  back before the next leaves. Each quiet window lets the allowance grow again: by one
  request at first, near the level that drew the 429, then doubling (the shape of TCP
  CUBIC's growth), so the tap returns to ``limit`` within minutes once the other tool
  stops, and neither hammers the organization nor starves the other tool meanwhile.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# One minute, the API's window; a module constant so tests can scale time down.
WINDOW_SECONDS = 60.0
# Jitter between the tap's clock and the server's (and the server's rounding).
WINDOW_MARGIN_SECONDS = 1.0
# How often a caller that waits for an answer to come back looks again.
_POLL_SECONDS = 0.05
# After a 429: keep at most this share of the allowance, and at least that one.
DECREASE_FACTOR = 0.5
MIN_DECREASE_FACTOR = 0.25
# Quiet windows after a 429 during which the allowance grows by one request each.
GENTLE_WINDOWS = 4


class Slot:
    """One request's place in the window: taken when it leaves, closed by its answer."""

    __slots__ = ("reserved", "waited")

    def __init__(self, reserved: float, waited: float) -> None:
        self.reserved = reserved
        self.waited = waited


class SlidingWindowRateLimiter:
    """Block callers so that at most the allowance of requests count in any ``window``."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            msg = "the rate limit must allow at least one request per window"
            raise ValueError(msg)
        self.limit = limit
        self.allowed = float(limit)  # the current allowance, <= limit after a 429
        self.window = window + WINDOW_MARGIN_SECONDS
        self._clock = clock
        self._sleep = sleep
        # Answers of the last window, in the order they came back: (time, accepted).
        self._done: deque[tuple[float, bool]] = deque()
        self._in_flight = 0
        self._next_send = 0.0  # pacing, only while the allowance is below the limit
        self._last_decrease = -math.inf
        self._quiet_since = clock()
        self._quiet_windows = 0
        self._lock = threading.Lock()
        self.acquired = 0
        self.decreases = 0

    # --- taking and closing slots ---------------------------------------------------

    def reserve(self, stop: threading.Event | None = None) -> Slot | None:
        """Wait for a free slot and take it; ``release`` it when the answer is back.

        Returns None, without taking a slot, if ``stop`` is set while waiting: a
        cancelled chain must not hold its thread for a minute, or spend a slot.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._grow(now)
                self._expire(now)
                if self._in_flight + len(self._done) < max(1, int(self.allowed)):
                    delay = self._next_send - now
                    if delay <= 0:
                        self._in_flight += 1
                        self.acquired += 1
                        if self.allowed < self.limit:
                            self._next_send = now + self.window / self.allowed
                        return Slot(now, waited)
                elif self._done:
                    delay = self._done[0][0] + self.window - now
                else:  # every counted request is still in flight
                    delay = _POLL_SECONDS
            if stop is None:
                self._sleep(delay)
            elif stop.wait(delay):
                return None
            waited += delay

    def release(self, slot: Slot, *, refused: bool = False) -> None:
        """The slot's answer is back (``refused``: it was a 429); count it from now."""
        with self._lock:
            now = self._clock()
            self._in_flight -= 1
            self._done.append((now, not refused))
            if refused:
                self._congested(slot, now)

    def acquire(self, stop: threading.Event | None = None) -> float | None:
        """Take a slot for a request that is answered at once; the seconds waited."""
        slot = self.reserve(stop)
        if slot is None:
            return None
        self.release(slot)
        return slot.waited

    def penalize(self, seconds: float) -> None:
        """Treat the whole window as used for ``seconds`` (after the server said 429).

        Another consumer in the organization is using part of the budget; filling the
        log keeps every thread of this process quiet until the server's wait is over.
        """
        with self._lock:
            until = self._clock() + seconds - self.window
            # Keep real answer times that expire later; pad so the log is full.
            kept = [(max(t, until), ok) for t, ok in self._done][-self.limit :]
            pad = max(0, int(self.allowed) - len(kept) - self._in_flight)
            self._done = deque([(until, False)] * pad + kept)

    # --- adapting to the other consumers of the budget ------------------------------

    def _expire(self, now: float) -> None:
        done = self._done
        while done and now - done[0][0] >= self.window:
            done.popleft()

    def _congested(self, slot: Slot, now: float) -> None:
        """A 429 although this process stayed within its allowance: shrink it."""
        if slot.reserved <= self._last_decrease:
            return  # sent before the last decrease: the same congestion, counted once
        self._expire(now)
        accepted = sum(1 for _, ok in self._done if ok)
        target = max(
            self.allowed * MIN_DECREASE_FACTOR, min(self.allowed * DECREASE_FACTOR, accepted)
        )
        self.allowed = max(1.0, target)
        self._last_decrease = now
        self._quiet_since = now
        self._quiet_windows = 0
        self.decreases += 1

    def _grow(self, now: float) -> None:
        """After each window without a 429, grow the allowance back towards the limit."""
        while self.allowed < self.limit and now - self._quiet_since >= self.window:
            self._quiet_since += self.window
            self._quiet_windows += 1
            step = (
                1
                if self._quiet_windows <= GENTLE_WINDOWS
                else 2 ** (self._quiet_windows - GENTLE_WINDOWS)
            )
            self.allowed = min(float(self.limit), self.allowed + step)
        if self.allowed >= self.limit:
            self._quiet_since = now


_registry: dict[tuple[str, int], SlidingWindowRateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(api_url: str, requests_per_minute: int) -> SlidingWindowRateLimiter:
    """Return the one limiter this process uses for an API host and rate."""
    key = (api_url.rstrip("/"), requests_per_minute)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = SlidingWindowRateLimiter(requests_per_minute, WINDOW_SECONDS)
            _registry[key] = limiter
        return limiter

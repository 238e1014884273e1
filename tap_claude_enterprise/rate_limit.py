"""The process-wide request rate limiter.

The Analytics API allows a number of requests per minute per *organization*, shared by
every key, every stream and every other tool polling the same org. A token bucket can
burst past a rolling server window, so this is a sliding-window log: the send times of
the last ``limit`` requests. A request may go when fewer than ``limit`` requests were
sent in the last ``window`` seconds, which is the exact client-side form of "at most N
in any rolling minute" and still lets a fresh run start without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Requests are timestamped when they leave the client, the server counts them when they
# arrive. A small margin keeps jitter between the two from ever crossing the limit.
WINDOW_MARGIN_SECONDS = 1.0


class SlidingWindowRateLimiter:
    """Block callers so that at most ``limit`` acquisitions happen in any ``window``."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            msg = "the rate limit must allow at least one request per window"
            raise ValueError(msg)
        self.limit = limit
        self.window = window + WINDOW_MARGIN_SECONDS
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.total_wait = 0.0
        self.acquired = 0

    def acquire(self, stop: threading.Event | None = None) -> float | None:
        """Wait for a free slot, record the send time, and return the seconds waited.

        Returns None, without taking a slot, if ``stop`` is set while waiting: a
        cancelled chain must not hold its thread for a minute, or spend a slot.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    self.acquired += 1
                    self.total_wait += waited
                    return waited
                delay = self.window - (now - self._sent[0])
            if stop is None:
                self._sleep(delay)
            elif stop.wait(delay):
                return None
            waited += delay

    def penalize(self, seconds: float) -> None:
        """Treat the whole window as used for ``seconds`` (after the server said 429).

        Another consumer in the organization is using part of the budget; filling the
        log keeps every thread of this process quiet until the server's wait is over.
        """
        with self._lock:
            until = self._clock() + seconds - self.window
            # Keep real send times that expire later; pad so the log is full.
            kept = [max(sent, until) for sent in self._sent][-self.limit :]
            self._sent = deque([until] * (self.limit - len(kept)) + kept)


_registry: dict[tuple[str, int], SlidingWindowRateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(api_url: str, requests_per_minute: int) -> SlidingWindowRateLimiter:
    """Return the one limiter this process uses for an API host and rate."""
    key = (api_url.rstrip("/"), requests_per_minute)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = SlidingWindowRateLimiter(requests_per_minute)
            _registry[key] = limiter
        return limiter

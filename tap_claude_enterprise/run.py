"""What one run learns, in one object the tap creates and hands to each of its streams.

Streams never set attributes on the tap: they read and update this context instead, so
``tap.py`` depends on the streams and nothing depends back on ``tap.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tap_claude_enterprise.sync.availability import EndpointAccess

T = TypeVar("T")


@dataclass
class RunContext:
    """The run's shared state: every field is learned while the run goes on."""

    # The newest day /summaries served in this run: a hint for how far the other
    # endpoints can be fetched in parallel, never a limit (availability.py).
    latest_available_day: dt.date | None = None
    # Days per /summaries request once an older API version refused a wider range.
    summaries_span: int | None = None
    # Which endpoints accepted the key, and which refused it (403/404).
    endpoint_access: EndpointAccess = field(default_factory=EndpointAccess)
    # Streams deselected before any request (an Admin key cannot read them).
    skipped_streams: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    # What the API taught about requests of one kind (e.g. the page maximum a 400 named
    # on /usage and /cost), shared by every stream and window sending them: by kind.
    learned_limits: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def limits_for(self, kind: str, make: Callable[[], T]) -> T:
        """The run's learned limits of ``kind``, made by the first stream that asks."""
        with self._lock:
            if kind not in self.learned_limits:
                self.learned_limits[kind] = make()
            return self.learned_limits[kind]

    def learn_latest_available_day(self, day: dt.date | None) -> None:
        """Remember the newest day /summaries served (the earliest, if told twice)."""
        if day is None:
            return
        with self._lock:
            if self.latest_available_day is None or day < self.latest_available_day:
                self.latest_available_day = day

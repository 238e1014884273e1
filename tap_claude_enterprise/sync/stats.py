"""Run statistics: each stream's time, records, requests and retries, and the summary.

``http/sending.py`` counts requests and retries into ``stream.stats`` as it sends them;
the sync engine counts records and times the stream; the tap logs the summary lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tap_claude_enterprise.records.conformance import EXTRA_FIELDS

# At most one progress line per stream in this many seconds.
PROGRESS_SECONDS = 15.0


def new_stats() -> dict[str, float]:
    """A stream's counters, all zero."""
    return {"requests": 0, "retries": 0, "records": 0, "started": 0.0, "seconds": 0.0}


class Progress:
    """Times one stream's sync and logs where a long backfill is."""

    def __init__(self, name: str, logger: logging.Logger | Any, stats: dict[str, float]) -> None:
        self.name = name
        self.logger = logger
        self.stats = stats
        self._last = 0.0

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Time the stream's sync for the run summary."""
        self.stats["started"] = self._last = time.monotonic()
        try:
            yield
        finally:
            self.stats["seconds"] = time.monotonic() - self.stats["started"]

    def log(self, what: str, index: int, total: int) -> None:
        """At most one line per ``PROGRESS_SECONDS``, and the last."""
        now = time.monotonic()
        if index < total and now - self._last < PROGRESS_SECONDS:
            return
        self._last = now
        self.logger.info(
            "%s: %s done (%d of %d); %d records, %d requests so far",
            self.name,
            what,
            index,
            total,
            self.stats["records"],
            self.stats["requests"],
        )


def log_summary(logger: logging.Logger | Any, streams: Iterable[Any], run: Any) -> None:
    """One line per selected stream, fields kept aside, skipped streams, and the total."""
    streams = [s for s in streams if isinstance(getattr(s, "stats", None), dict)]
    for stream in streams:
        if stream.selected:
            stats = stream.stats
            logger.info(
                "Summary %s: %d records, %d requests, %d retries, %.1f s",
                stream.name,
                stats["records"],
                stats["requests"],
                stats["retries"],
                stats["seconds"],
            )
    for stream in streams:
        fitter = stream.__dict__.get("fitter")  # set once a stream fitted a record
        if fitter is not None and fitter.reported:
            logger.warning(
                "Summary %s: fields kept in %s: %s",
                stream.name,
                EXTRA_FIELDS,
                ", ".join(sorted(fitter.reported)),
            )
    access = run.endpoint_access
    for refusal in access.refused.values() if access.accepted else ():
        logger.warning("Summary %s: skipped: %s", refusal.stream, refusal.describe())
    if run.skipped_streams:
        logger.info(
            "Summary: skipped (not readable with an Admin key): %s",
            ", ".join(run.skipped_streams),
        )
    total = sum(s.stats["requests"] for s in streams)
    logger.info("Summary: %d requests in %.1f s", total, time.monotonic() - run.started)

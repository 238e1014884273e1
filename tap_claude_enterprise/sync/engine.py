"""The one sync engine: walk a stream's chains in order, emit records, commit bookmarks.

A *chain* is one day, day range or time window: a serial run of pages (each page needs
the previous page's cursor). The engine fetches chains in parallel (``prefetch.py``),
hands their records over strictly in order, restarts a chain whose cursor expired
(skipping rows already emitted), commits the bookmark after each complete chain and
logs progress. When the API says "not available yet" (or refuses a request) the family
decides, in ``refused``, whether that ends the stream, shortens the chain or walks
other chains instead.

Each family (``streams/``) supplies only what differs:
  ``chain_keys``      the chains of this run, in order ([] when there is nothing to do);
  ``chain_context``   the request parameters of one chain (``request_params`` reads it);
  ``page_records``    one parsed page to records;
  ``chain_bookmark``  the bookmark once a chain is complete (from ``page_meta``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from singer_sdk.helpers.types import Context

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.http.client import AnalyticsStream
from tap_claude_enterprise.http.errors import (
    BadRequestError,
    CursorExpiredError,
    DateNotAvailableError,
)
from tap_claude_enterprise.records.conformance import FitsRecords
from tap_claude_enterprise.records.fast_path import FastRecordPath
from tap_claude_enterprise.records.organization import ORGANIZATION_COLUMN
from tap_claude_enterprise.run import RunContext
from tap_claude_enterprise.sync import restate
from tap_claude_enterprise.sync.availability import log_not_available, skipped_when_refused
from tap_claude_enterprise.sync.bookmarks import CommittedBookmarks
from tap_claude_enterprise.sync.prefetch import OrderedPrefetcher
from tap_claude_enterprise.sync.stats import Progress
from tap_claude_enterprise.sync.windows import TimeWindow, configured_report_bounds

K = TypeVar("K")
Page = tuple[list[dict[str, Any]], Any]  # a page's records and what the family noted of it

# Pickled pages that later chains may hold while an earlier one is read (prefetch.py):
# one cursor chain is latency-bound, so long report windows need the next window to
# fetch well ahead to keep the rate budget full. About 40 per-user report pages.
RUN_AHEAD_BYTES = 16 * 2**20
# How often one chain (a day or window) is restarted after its cursor expired.
MAX_CHAIN_RESTARTS = 3
NOT_A_LAG = " (the API refused an older day too, so this is not its publication lag)"


class ChainStream(FitsRecords, FastRecordPath, CommittedBookmarks, AnalyticsStream, Generic[K]):
    """A stream synced by the engine; its family supplies the chains."""

    spec: ClassVar[Endpoint]  # the endpoint table's entry (streams/__init__.py)
    # Logged when a run has no chain to fetch.
    nothing_to_fetch: ClassVar[str] = "nothing to fetch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run = RunContext()  # replaced by the tap's, which it hands to every stream

    # --- what a family supplies -----------------------------------------------------

    def chain_keys(self) -> list[K]:
        """This run's chains, in bookmark order."""
        raise NotImplementedError

    def chain_context(self, key: K) -> dict[str, Any]:
        """The stream context (request parameters) of one chain."""
        raise NotImplementedError

    def page_records(self, payload: dict[str, Any], key: K) -> list[dict[str, Any]]:
        """The records of one parsed page of chain ``key``."""
        raise NotImplementedError

    def page_meta(self, payload: dict[str, Any], records: list[dict[str, Any]]) -> Any:
        """What ``chain_bookmark`` needs to know of a page (kept small: it may be pickled)."""
        del payload, records

    def chain_bookmark(self, key: K, metas: list[Any]) -> str | None:
        """The bookmark once chain ``key`` is complete; None: leave it."""
        raise NotImplementedError

    def parallel_count(self, keys: Sequence[K]) -> int:
        """How many of ``keys`` (from the first) may be fetched in parallel."""
        return len(keys)

    def progress_label(self, key: K) -> str:
        """A chain, as progress lines name it."""
        return str(key)

    def refusal_label(self, key: K) -> str:
        """A chain, as the "not available yet" line names it."""
        return self.progress_label(key)

    def lag_check_context(
        self, key: K, refusal: DateNotAvailableError, *, first: bool
    ) -> Context | None:
        """An older request that tells the API's lag from a bad request; None: no check."""
        del key, refusal, first
        return None

    def refused(
        self, key: K, exc: BadRequestError | DateNotAvailableError, rest: list[K], *, first: bool
    ) -> list[K]:
        """The chains to walk instead of ``rest`` after a refused chain; [] ends the stream.

        By default "not available yet" ends the stream at its last complete chain, and
        any other 400 fails it.
        """
        del rest
        if not isinstance(exc, DateNotAvailableError):
            raise exc
        older = self.lag_check_context(key, exc, first=first)
        if older is not None:
            self.check_not_a_lag(older, exc)
        self.log_not_available(self.refusal_label(key), exc)
        return []

    def run_chain(self, key: K, cancelled: threading.Event) -> Iterator[Page]:
        """The pages of one chain (runs in a worker thread)."""
        for records, payload in self.restartable_chain(
            self.chain_context(key), cancelled, lambda payload: self.page_records(payload, key)
        ):
            yield records, self.page_meta(payload, records)

    # --- the loop ---------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The stream's records, timed for the run summary; a 403/404 skips the stream."""
        del context  # no partitions: each stream walks its own chains
        refused = skipped_when_refused(self.run.endpoint_access, self.name, self.logger)
        with self.progress.timed(), refused, self.bookmarks_only_at_commits():
            yield from self.stream_records()

    def stream_records(self) -> Iterable[dict[str, Any]]:
        """Walk the chains in order, emitting STATE after each complete one."""
        keys = self.chain_keys()
        if not keys:
            self.logger.info("%s: %s", self.name, self.nothing_to_fetch)
            return
        done = 0
        while keys:
            keys, done = yield from self._walk(keys, done)

    def _walk(
        self, keys: list[K], done: int
    ) -> Generator[dict[str, Any], None, tuple[list[K], int]]:
        """Records of ``keys``; the chains to walk next (after a refusal) and the count done."""
        failure: tuple[K, BadRequestError | DateNotAvailableError, int] | None = None
        with self._chains(keys) as chains:
            for index, (key, pages) in enumerate(chains):
                metas = []
                try:
                    for records, meta in pages:
                        metas.append(meta)
                        self.stats["records"] += len(records)
                        yield from records
                except (DateNotAvailableError, BadRequestError) as exc:
                    failure = (key, exc, index)
                    break
                bookmark = self.chain_bookmark(key, metas)
                if bookmark is not None:
                    self.commit_bookmark(bookmark)
                done += 1
                self.progress.log(self.progress_label(key), done, done + len(keys) - index - 1)
        if failure is None:
            return [], done
        # The chains fetched ahead are stopped (above) before the family decides.
        key, error, index = failure
        return self.refused(key, error, keys[index + 1 :], first=index == 0), done

    @contextmanager
    def _chains(self, keys: list[K]) -> Iterator[Iterator[tuple[K, Iterator[Page]]]]:
        """Chains in order: the first ``parallel_count`` prefetched, the rest one by one."""
        ahead = self.parallel_count(keys)

        def serial() -> Iterator[tuple[K, Iterator[Page]]]:
            for key in keys[ahead:]:
                yield key, self.run_chain(key, threading.Event())

        if ahead == 0:
            yield serial()
            return
        with self.prefetched(keys[:ahead], self.run_chain) as prefetched:

            def both() -> Iterator[tuple[K, Iterator[Page]]]:
                yield from prefetched
                yield from serial()

            yield both()

    def prefetched(
        self, keys: Iterable[K], run_chain: Callable[[K, threading.Event], Iterable[Page]]
    ) -> OrderedPrefetcher[K, Page]:
        """Run chains for ``keys`` in parallel; results come back in key order."""
        return OrderedPrefetcher(
            keys,
            run_chain,
            workers=int(self.config.get("max_concurrent_requests", 4)),
            run_ahead_bytes=RUN_AHEAD_BYTES,
        )

    def restartable_chain(
        self,
        context: dict[str, Any],
        cancelled: threading.Event,
        to_records: Callable[[dict[str, Any]], list[dict[str, Any]]],
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Records of one chain, page by page; an expired cursor restarts the chain.

        A 410 (or a 400 about the cursor) means "start this query again from page 1".
        Rows already handed on are recognised by a hash of their primary key and
        skipped, so a restart never emits a row twice.
        """
        emitted: set[int] = set()  # hashes, not key tuples: a window can be large
        for attempt in range(MAX_CHAIN_RESTARTS + 1):
            try:
                for payload in self.fetch_pages(context, cancelled):
                    records = to_records(payload)
                    if emitted:
                        records = [r for r in records if hash(self.record_key(r)) not in emitted]
                    emitted.update(hash(self.record_key(r)) for r in records)
                    yield records, payload
            except CursorExpiredError:
                if attempt == MAX_CHAIN_RESTARTS:
                    raise
                self.logger.warning(
                    "%s: the page cursor expired; restarting %s from page 1",
                    self.name,
                    ", ".join(f"{k}={v}" for k, v in context.items()),
                )
                continue
            return

    # --- shared helpers -----------------------------------------------------------------

    def check_not_a_lag(self, older: Context, refusal: DateNotAvailableError) -> None:
        """Ask for ``older`` once: if the API refuses it too, the 400 is about the request.

        A run whose first chain is served (the usual lookback) never spends this request.
        """
        try:
            next(iter(self.fetch_pages(older)), None)
        except BadRequestError as exc:
            raise BadRequestError(f"{exc}{NOT_A_LAG}") from refusal

    def log_not_available(self, what: str, exc: DateNotAvailableError) -> None:
        """One line: where the stream stopped and why."""
        log_not_available(self.logger, self.name, what, exc.latest_day, str(exc))

    def time_window_bounds(self, bucket_width: str) -> TimeWindow | None:
        """The span this run requests: from the earliest open month on (windows.py)."""
        day = restate.pending_day(self.config, self.name, state := self.stream_state)
        return configured_report_bounds(self.config, self.stored_bookmark(state), bucket_width, day)

    @cached_property
    def progress(self) -> Progress:
        """The stream's timer and progress lines."""
        return Progress(self.name, self.logger, self.stats)

    def record_key(self, record: dict[str, Any]) -> tuple:
        """The primary-key values of a record."""
        return tuple(map(record.get, self._primary_key_names))

    @cached_property
    def _primary_key_names(self) -> tuple[str, ...]:
        # Settings do not change during a run; the report streams' ``primary_keys``
        # validates them on every call, which per record was a tenth of the CPU.
        return tuple(self.primary_keys)

    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """Apply ``email_handling`` and add ``organization_label`` (both off by default)."""
        del context
        if self.email_policy.active:
            self.email_policy.apply(row, self._primary_key_names)
        if self.organization is not None:
            row[ORGANIZATION_COLUMN] = self.organization
        return row

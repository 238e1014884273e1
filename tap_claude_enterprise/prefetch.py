"""Run independent request chains in parallel, hand their results over in order.

A cursor chain (the pages of one day, or of one report window) is serial: each page
needs the previous page's ``next_page``. Different days and windows are independent, so
while one chain waits on a slow response another can use the rate budget. Results are
handed to the single consumer strictly in chain order, so each stream's records stay
in order and STATE can follow them. Each chain buffers at most ``buffer`` pages, which
keeps memory independent of how long the backfill is.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")

_END = object()


class ChainCancelledError(Exception):
    """Raised inside a chain whose results are no longer wanted."""


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Chain(Generic[K, T]):
    def __init__(self, key: K, buffer: int, cancelled: threading.Event) -> None:
        self.key = key
        self.items: queue.Queue[object] = queue.Queue(maxsize=buffer)
        self._cancelled = cancelled

    def put(self, item: object) -> None:
        while True:
            if self._cancelled.is_set():
                raise ChainCancelledError
            try:
                self.items.put(item, timeout=0.1)
            except queue.Full:
                continue
            return

    def results(self) -> Iterator[T]:
        while True:
            item = self.items.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]


class OrderedPrefetcher(Generic[K, T]):
    """Iterate ``(key, results)`` pairs in key order while later chains run ahead.

    ``run_chain(key, cancelled)`` returns an iterator of results for one chain; it runs
    in a worker thread and should stop early when ``cancelled`` is set. At most
    ``workers`` chains are in flight. Use as a context manager, or call ``close`` when
    done, so that abandoned chains stop and their threads end.
    """

    def __init__(
        self,
        keys: Iterable[K],
        run_chain: Callable[[K, threading.Event], Iterable[T]],
        *,
        workers: int,
        buffer: int = 2,
    ) -> None:
        self._keys = iter(keys)
        self._run_chain = run_chain
        self._workers = max(1, workers)
        self._buffer = max(1, buffer)
        self._cancelled = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="tap-claude-enterprise"
        )
        self._pending: list[_Chain[K, T]] = []

    def _launch_next(self) -> bool:
        try:
            key = next(self._keys)
        except StopIteration:
            return False
        chain: _Chain[K, T] = _Chain(key, self._buffer, self._cancelled)
        self._pending.append(chain)
        self._pool.submit(self._drive, chain)
        return True

    def _drive(self, chain: _Chain[K, T]) -> None:
        try:
            for item in self._run_chain(chain.key, self._cancelled):
                chain.put(item)
            chain.put(_END)
        except ChainCancelledError:
            return
        except BaseException as exc:  # handed to the consumer, in order
            try:
                chain.put(_Failure(exc))
            except ChainCancelledError:
                return

    def __iter__(self) -> Iterator[tuple[K, Iterator[T]]]:
        while len(self._pending) < self._workers and self._launch_next():
            pass
        while self._pending:
            chain = self._pending.pop(0)
            yield chain.key, chain.results()
            self._launch_next()

    def close(self) -> None:
        """Stop every chain still running and wait for the worker threads."""
        self._cancelled.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OrderedPrefetcher[K, T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

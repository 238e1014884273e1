"""Run independent request chains in parallel, hand their results over in order.

A cursor chain (the pages of one day, or of one report window) is serial: each page
needs the previous page's ``next_page``. Different days and windows are independent, so
while one chain waits on a slow response another can use the rate budget. Results are
handed to the single consumer strictly in chain order, so each stream's records stay
in order and STATE can follow them.

Memory stays independent of how long the backfill is. Each chain holds at most
``buffer`` results as they are. A chain that runs ahead of the one being consumed may
hold more, pickled (a parsed 1000-row page takes 2-10 MB of Python objects, pickled
0.4-0.6 MB), as long as all chains together stay under ``run_ahead_bytes``. That is
what keeps the rate budget full on long report windows: one window's chain alone is
latency-bound, so the next window must fetch far ahead while the current one is read.
"""

from __future__ import annotations

import pickle
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")

_END = object()
# How long a blocked producer sleeps before it looks at the cancel flag again.
_POLL_SECONDS = 0.1


class ChainCancelledError(Exception):
    """Raised inside a chain whose results are no longer wanted."""


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Packed:
    """A pickled result, counted against the shared run-ahead budget."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Budget:
    """Bytes of pickled results held by all chains, and the lock every chain shares."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.changed = threading.Condition()


class _Chain(Generic[K, T]):
    def __init__(self, key: K, buffer: int, cancelled: threading.Event, budget: _Budget) -> None:
        self.key = key
        self.items: deque[object] = deque()
        self.head = False  # True once the consumer reads this chain
        self._plain = 0  # results held as they are
        self._buffer = buffer
        self._cancelled = cancelled
        self._budget = budget

    def put(self, item: object) -> None:
        budget = self._budget
        packed: _Packed | None = None
        packable = budget.limit > 0
        with budget.changed:
            while True:
                if self._cancelled.is_set():
                    raise ChainCancelledError
                if self._plain < self._buffer or item is _END or isinstance(item, _Failure):
                    self.items.append(item)
                    self._plain += 1
                    budget.changed.notify_all()
                    return
                if not self.head and packable:
                    if packed is None:
                        budget.changed.release()  # pickling takes a while: not under the lock
                        try:
                            packed = _Packed(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
                        except (pickle.PicklingError, TypeError, AttributeError):
                            packable = False  # wait for a plain slot instead
                        finally:
                            budget.changed.acquire()
                        continue
                    if budget.used + len(packed.data) <= budget.limit:
                        budget.used += len(packed.data)
                        self.items.append(packed)
                        budget.changed.notify_all()
                        return
                budget.changed.wait(_POLL_SECONDS)

    def results(self) -> Iterator[T]:
        budget = self._budget
        while True:
            with budget.changed:
                while not self.items:
                    budget.changed.wait()
                item = self.items.popleft()
                if isinstance(item, _Packed):
                    budget.used -= len(item.data)
                else:
                    self._plain -= 1
                budget.changed.notify_all()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            if isinstance(item, _Packed):
                item = pickle.loads(item.data)  # noqa: S301 - pickled by this process
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
        run_ahead_bytes: int = 0,
    ) -> None:
        self._keys = iter(keys)
        self._run_chain = run_chain
        self._workers = max(1, workers)
        self._buffer = max(1, buffer)
        self._budget = _Budget(max(0, run_ahead_bytes))
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
        chain: _Chain[K, T] = _Chain(key, self._buffer, self._cancelled, self._budget)
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
            with self._budget.changed:
                chain.head = True
                self._budget.changed.notify_all()
            yield chain.key, chain.results()
            self._launch_next()

    def close(self) -> None:
        """Stop every chain still running and wait for the worker threads."""
        self._cancelled.set()
        with self._budget.changed:
            self._budget.changed.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OrderedPrefetcher[K, T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""One process-wide limiter keeps every stream together under the organization's budget.

The limiter is a sliding-window log (``rate_limit.py``); these tests check it with a fake
clock, with real threads on a short window, end to end against a sandbox that answers
429 above 20 requests in any rolling minute, and against a sandbox where another tool
holds three quarters of the budget and 429s come without ``retry-after`` (on a 10 s
window, so the test takes one minute instead of six).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest

from tap_claude_enterprise.http import rate_limit
from tap_claude_enterprise.http.rate_limit import WINDOW_MARGIN_SECONDS, SlidingWindowRateLimiter
from tap_claude_enterprise.sandbox import Fault, SandboxServer
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import FAST_RATE, assert_same_records, pin_watermark, run_tap, small_config


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def busiest_window(times: list[float], window: float) -> int:
    """The most events in any half-open interval ``[t, t + window)``."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times))


# --- the limiter alone ----------------------------------------------------------------


def test_no_window_holds_more_than_the_limit_and_the_first_burst_is_free():
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(20, 60, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(100):
        limiter.acquire()
        sent.append(clock.now)

    assert sent[:20] == [1000.0] * 20  # a fresh run starts without waiting
    assert busiest_window(sent, 60.0) == 20
    # Four more full windows for the other 80 requests, and not a moment more.
    assert sent[-1] - sent[0] == pytest.approx(4 * (60 + WINDOW_MARGIN_SECONDS))


def test_threads_together_stay_under_the_limit():
    limiter = SlidingWindowRateLimiter(5, 0.25)  # 0.5 s with the margin
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            limiter.acquire()
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sent) == 24
    assert busiest_window(sent, 0.25) <= 5
    assert busiest_window(sent, 0.5) <= 5


def test_a_429_pauses_every_caller_for_the_servers_wait():
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(10, 60, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()

    limiter.penalize(7.0)

    assert limiter.acquire() == pytest.approx(7.0)
    # After the pause the window is empty again except for what was really sent.
    assert limiter.acquire() == 0.0


def test_a_cancelled_chain_gives_up_its_wait_without_a_slot():
    limiter = SlidingWindowRateLimiter(1, 60)
    limiter.acquire()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()

    started = time.monotonic()
    assert limiter.acquire(stop) is None
    assert time.monotonic() - started < 5
    assert limiter.acquired == 1


def test_a_request_counts_until_a_window_after_its_answer_came_back():
    # The server counts a request when it arrives, which may be long after it left:
    # the slot is only free a whole window after the answer.
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(1, 60, clock=clock, sleep=clock.sleep)
    slot = limiter.reserve()
    assert slot is not None
    clock.now += 5.0  # a slow answer
    limiter.release(slot)

    assert limiter.acquire() == pytest.approx(60 + WINDOW_MARGIN_SECONDS)
    assert clock.now == pytest.approx(1000.0 + 5.0 + 60 + WINDOW_MARGIN_SECONDS)


def test_a_429_shrinks_the_allowance_once_per_burst_and_paces_requests():
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(60, 60, clock=clock, sleep=clock.sleep)
    for _ in range(15):  # what the server accepted before its budget ran out
        limiter.acquire()
    burst = [limiter.reserve() for _ in range(4)]  # four in flight when the 429s come
    for slot in burst:
        assert slot is not None
        limiter.release(slot, refused=True)

    # Down to what the server accepted (at most half, at least a quarter), counted once.
    assert limiter.decreases == 1
    assert limiter.allowed == 15
    # Nothing more until the window drains, then requests are spaced, not a burst.
    sent = []
    for _ in range(6):
        limiter.acquire()
        sent.append(clock.now)
    assert sent[0] - 1000.0 == pytest.approx(60 + WINDOW_MARGIN_SECONDS)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    # One window passed without a 429 meanwhile, so the allowance is 16 by now.
    assert limiter.allowed == 16
    assert min(gaps) == pytest.approx((60 + WINDOW_MARGIN_SECONDS) / 16)


def test_the_allowance_grows_back_to_the_limit_once_the_429s_stop():
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(60, 60, clock=clock, sleep=clock.sleep)
    slot = limiter.reserve()
    assert slot is not None
    limiter.release(slot, refused=True)
    assert limiter.allowed == 15  # a quarter: the server had accepted nothing

    allowances = []
    for _ in range(12):
        clock.now += 61.0
        limiter.acquire()
        allowances.append(limiter.allowed)

    # Gently near the level of the 429 (one request per quiet window), then faster.
    assert allowances[:4] == [16, 17, 18, 19]
    assert allowances[4:6] == [21, 25]
    assert allowances[-1] == 60


# --- the tap --------------------------------------------------------------------------


def test_every_stream_shares_one_limiter():
    tap = TapClaudeEnterprise(
        config={"api_key": "sk-ant-api01-x", "max_requests_per_minute": 17},
        validate_config=False,
    )
    limiters = {id(stream.limiter) for stream in tap.streams.values()}
    assert len(limiters) == 1
    assert next(iter(tap.streams.values())).limiter.limit == 17


def test_every_attempt_retries_included_takes_a_slot(make_sandbox):
    sandbox = make_sandbox(members=10)
    sandbox.add_faults(
        Fault("status", status=503, endpoint="users"),
        Fault("status", status=429, retry_after="1", endpoint="skills"),
    )
    config = small_config(sandbox)

    run = run_tap(config)

    limiter = rate_limit.shared_limiter(config["api_url"], FAST_RATE)
    assert run.error is None
    assert limiter.acquired == len(sandbox.requests_for())
    assert sum(1 for e in sandbox.requests_for() if e["status"] != 200) == 2


@pytest.mark.slow  # about 61 s: it waits for a real one-minute window
def test_twenty_per_minute_is_never_exceeded_and_nothing_is_refused(
    make_sandbox: Callable[..., SandboxServer], capsys: pytest.CaptureFixture[str]
):
    # Five days of every stream: 6 x 5 daily requests, 1 summaries, 4 reports = 35,
    # so the first 20 go at once and the rest a minute later (~61 s in all).
    limited = make_sandbox(members=10, rate_limit_per_minute=20)
    free = make_sandbox(members=10)
    pin_watermark(limited)
    free.data_refreshed_at = limited.data_refreshed_at  # type: ignore[method-assign]
    expected = run_tap(small_config(free, days_back=4))

    started = time.monotonic()
    run = run_tap(small_config(limited, days_back=4, max_requests_per_minute=20))
    elapsed = time.monotonic() - started

    log = limited.requests_for()
    arrivals = [entry["t"] for entry in log]
    busiest = busiest_window(arrivals, 60.0)
    refused = sum(1 for entry in log if entry["status"] == 429)
    with capsys.disabled():
        print(  # the measured numbers are the point of this test
            f"\n[rate limit 20/min] {len(log)} requests in {elapsed:.1f} s; "
            f"max in any rolling 60 s: {busiest}; 429 answers: {refused}"
        )

    assert_same_records(run, expected)
    assert len(log) >= 30  # enough to need a second minute
    assert refused == 0
    assert busiest <= 20
    assert elapsed >= 60  # it did wait for the window, rather than being refused


@pytest.fixture
def ten_second_window(monkeypatch: pytest.MonkeyPatch) -> float:
    """Run the limiter on a 10 s window: the same dynamics as a minute, six times faster."""
    monkeypatch.setattr(rate_limit, "WINDOW_SECONDS", 10.0)
    return 10.0


@pytest.mark.slow  # about 40 s of real 10 s windows
def test_another_consumer_holding_three_quarters_of_the_budget_draws_few_429s(
    make_sandbox: Callable[..., SandboxServer],
    ten_second_window: float,
    capsys: pytest.CaptureFixture[str],
):
    # 60 per window for the organization, 45 of them taken by another tool, whose
    # 429s carry no retry-after (as in public captures). The tap thinks it has 60.
    shared = make_sandbox(
        members=10,
        rate_limit_per_minute=60,
        rate_window_seconds=ten_second_window,
        other_consumer_per_minute=45,
        retry_after_on_429=False,
    )
    free = make_sandbox(members=10)
    pin_watermark(shared)
    free.data_refreshed_at = shared.data_refreshed_at  # type: ignore[method-assign]
    expected = run_tap(small_config(free, days_back=9))

    started = time.monotonic()
    run = run_tap(small_config(shared, days_back=9, max_requests_per_minute=60))
    elapsed = time.monotonic() - started

    log = shared.requests_for()
    accepted = sum(1 for entry in log if entry["status"] == 200)
    refused = sum(1 for entry in log if entry["status"] == 429)
    other = shared.info()["other_consumer"]
    limiter = rate_limit.shared_limiter(shared.url, 60)
    with capsys.disabled():
        print(
            f"\n[shared budget, 45 of 60 per {ten_second_window:.0f} s held by another tool, "
            f"no retry-after] {accepted} accepted, {refused} 429s in {elapsed:.1f} s; "
            f"allowance now {limiter.allowed:.1f} after {limiter.decreases} decreases; "
            f"other tool: {other['accepted']} accepted, {other['refused']} refused"
        )

    assert_same_records(run, expected)
    assert accepted >= 60
    assert refused * 4 <= accepted
    # The other tool is not starved: most of its requests still go through.
    assert other["refused"] * 4 <= other["accepted"]

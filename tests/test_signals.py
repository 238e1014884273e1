"""The suite stops when asked: SIGTERM ends a pytest run within seconds, teardown included.

A child pytest runs a tiny test file with this suite's conftest (``-p tests.conftest``),
serially and on two xdist workers: its tests build an in-process tap (whose SDK handler
once swallowed SIGTERM, see ``conftest.pytest_configure``) and a sandbox, then sleep.
SIGTERM must stop the run at once: no further test, every started test torn down,
pytest's "interrupted" exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STOP_WITHIN_SECONDS = 10

SLEEPY_TESTS = '''
import os
import time
from pathlib import Path

import pytest

from tap_claude_enterprise.tap import TapClaudeEnterprise

MARKS = Path(os.environ["SIGNAL_TEST_MARKS"])


@pytest.fixture
def torn_down(make_sandbox, n):
    make_sandbox(members=2)
    yield
    (MARKS / f"teardown-{n}").write_text("done")


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_sleeps(torn_down, n):
    TapClaudeEnterprise(config={"api_key": "x" * 10}, validate_config=False)
    (MARKS / f"started-{n}").write_text("sleeping")
    time.sleep(120)
'''


@pytest.mark.parametrize("workers", [1, 2], ids=["serial", "xdist"])
def test_sigterm_stops_the_suite_and_runs_teardown(tmp_path: Path, workers: int) -> None:
    tests = tmp_path / "sleepy"
    tests.mkdir()
    (tests / "test_sleepy.py").write_text(SLEEPY_TESTS)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "SIGNAL_TEST_MARKS": str(marks)}
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
               "-q", "-n", "0" if workers == 1 else str(workers), str(tests)]  # fmt: skip
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while len(list(marks.glob("started-*"))) < workers:
            assert child.poll() is None, child.communicate()[0]
            assert time.monotonic() < deadline, "the child tests never started"
            time.sleep(0.1)

        child.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        output, _ = child.communicate(timeout=STOP_WITHIN_SECONDS)
        waited = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()

    assert waited < STOP_WITHIN_SECONDS
    assert child.returncode == 2, output  # pytest's "interrupted", not a passed or failed run
    assert "KeyboardInterrupt" in output
    started = sorted(p.name.split("-")[1] for p in marks.glob("started-*"))
    assert len(started) == workers, f"the suite went on after SIGTERM: {started}"
    torn = sorted(p.name.split("-")[1] for p in marks.glob("teardown-*"))
    assert torn == started, output

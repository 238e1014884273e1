"""Fixtures shared by every test file, and the suite's signal handling.

- sandbox servers on loopback, stopped after each test (``make_sandbox``, ``sandbox``);
- a fresh process-wide rate limiter for each test (autouse);
- ``info_logs``: INFO lines reach ``TapRun.log`` (files opt in with ``usefixtures``);
- SIGTERM stops the suite like Ctrl-C (see ``pytest_configure``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from tap_claude_enterprise.http import rate_limit
from tap_claude_enterprise.sandbox.data import OrgConfig
from tap_claude_enterprise.sandbox.server import SandboxServer, SandboxSettings
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.dbt_fixtures import dbt_duckdb_build, dbt_sandbox, meltano_project  # noqa: F401
from tests.helpers import FAST_RATE

_signal_patch = pytest.MonkeyPatch()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """Make SIGTERM (``timeout``, CI cancels, ``kill``) stop the suite as Ctrl-C does.

    Why the suite once ran on for 19 minutes after SIGTERM: every in-process
    ``TapClaudeEnterprise(...)`` installs the SDK's SIGINT/SIGTERM handler on the pytest
    process, and that handler calls ``sys.exit(0)``; pytest counts a ``SystemExit`` inside a
    test as that test's failure and goes on with the next one. So: in-process taps here
    leave the process's signals alone (the tap's CLI, run in child processes, keeps its
    handler), and SIGTERM becomes a KeyboardInterrupt, which pytest honours: it stops,
    runs the fixtures' teardown (sandboxes, PostgreSQL, dbt projects) and exits 2.
    tests/test_signals.py checks it.
    """
    _signal_patch.setattr(TapClaudeEnterprise, "_setup_signal_handlers", lambda self: None)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


# Test files whose tests share state, run in order on one xdist worker (see below).
SHARED_STATE_GROUPS = {
    # This checkout's Meltano project (.meltano/, dbt's transform/target) and the session's
    # Meltano install, dbt builds and PostgreSQL server.
    **dict.fromkeys(
        (
            "tests/test_dbt.py",
            "tests/test_e2e_meltano.py",
            "tests/test_e2e_surprises.py",
            "tests/test_many_orgs.py",
            "tests/test_meltano_commands.py",
            "tests/test_report_browser.py",
        ),
        "meltano",
    ),
    "tests/test_release.py": "release",  # one package build for the module
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Load scheduling, except that each group of SHARED_STATE_GROUPS is one unit of work.

    pyproject's addopts run pytest on two xdist workers: the Meltano/dbt tests go to one
    worker, in order, while the other takes the rest. (xdist's own ``--dist loadgroup``
    does not group under pytest 9: it renames ``item._nodeid``, which pytest 9 no longer
    reads.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class SharedStateScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_STATE_GROUPS.get(nodeid.split("::", 1)[0], nodeid)

    return SharedStateScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    _signal_patch.undo()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def fresh_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own process-wide limiters.

    A port reused by a later sandbox must not inherit an earlier test's 429 pause.
    """
    monkeypatch.setattr(rate_limit, "_registry", {})


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Let INFO lines reach ``TapRun.log`` (the CLI sets this level; in-process runs do not)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(level)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with custom settings: ``make_sandbox(members=20, lag_days=3)``.

    ``precision_job=True`` adds the service account's ~$123M job (amounts a float
    cannot hold) that the money-precision tests need.
    """
    servers: list[SandboxServer] = []

    def factory(
        members: int = 30, seed: int = 7, *, precision_job: bool = False, **settings: Any
    ) -> SandboxServer:
        settings.setdefault("rate_limit_per_minute", FAST_RATE)
        org = OrgConfig(seed=seed, members=members, precision_job=precision_job)
        server = SandboxServer(SandboxSettings(org=org, **settings))
        # Served here rather than by server.start(): serve_forever's default 0.5 s poll made
        # every stop() wait up to half a second, a minute or more over the suite.
        threading.Thread(
            target=server.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A default sandbox with a limit high enough never to slow a test."""
    return make_sandbox()

"""Fixtures shared by every test file, and the suite's signal handling.

- sandbox servers on loopback, stopped after each test (``make_sandbox``, ``sandbox``);
- a fresh process-wide rate limiter for each test (autouse);
- ``info_logs``: INFO lines reach ``TapRun.log`` (files opt in with ``usefixtures``);
- SIGTERM stops the suite like Ctrl-C (see ``pytest_configure``).
"""

from __future__ import annotations

import logging
import signal
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
    leave the process's signals alone (the CLI's handler is still tested in child
    processes), and SIGTERM becomes a KeyboardInterrupt, which pytest honours: it stops,
    runs the fixtures' teardown (sandboxes, PostgreSQL, dbt projects) and exits 2.
    tests/test_signals.py checks it.
    """
    _signal_patch.setattr(TapClaudeEnterprise, "_setup_signal_handlers", lambda self: None)
    signal.signal(signal.SIGTERM, _interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    _signal_patch.undo()
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
        server = SandboxServer(SandboxSettings(org=org, **settings)).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A default sandbox with a limit high enough never to slow a test."""
    return make_sandbox()

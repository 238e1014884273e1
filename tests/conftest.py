"""Fixtures: sandbox servers on loopback, stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tap_claude_enterprise.sandbox.data import OrgConfig
from tap_claude_enterprise.sandbox.server import SandboxServer, SandboxSettings
from tests.dbt_fixtures import dbt_duckdb_build, dbt_sandbox, meltano_project  # noqa: F401
from tests.helpers import FAST_RATE


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

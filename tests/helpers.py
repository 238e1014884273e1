"""Shared test helpers: run the tap in-process and read what the sandbox should hold."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tap_claude_enterprise.sandbox import SANDBOX_API_KEY, SandboxServer
from tap_claude_enterprise.tap import TapClaudeEnterprise

FAST_RATE = 100_000  # requests per minute: tests that do not test the limiter use this

ENGAGEMENT_ROWS = {
    "user_activity": "user_rows",
    "chat_projects": "project_rows",
    "skills": "skill_rows",
    "connectors": "connector_rows",
    "plugins": "plugin_rows",
    "artifacts": "artifact_rows",
}
ENGAGEMENT_KEYS = {
    "user_activity": lambda row, day: (day, row["user"]["id"]),
    "chat_projects": lambda row, day: (day, row["project_id"]),
    "skills": lambda row, day: (day, row["skill_name"]),
    "connectors": lambda row, day: (day, row["connector_name"]),
    "plugins": lambda row, day: (day, row["plugin_name"], row["plugin_id"] or ""),
    "artifacts": lambda row, day: (day, row["artifact_type"], row["is_shared"]),
}


def _decimals(record: dict, schema: dict) -> dict:
    """A copy of the record with its x-singer.decimal strings as ``Decimal``, at any depth."""
    out = dict(record)
    for name, prop in (schema.get("properties") or {}).items():
        value = record.get(name)
        if prop.get("format") == "x-singer.decimal" and isinstance(value, str):
            out[name] = Decimal(value)
        elif isinstance(value, dict) and "properties" in prop:
            out[name] = _decimals(value, prop)
    return out


@dataclass
class TapRun:
    """What one sync wrote: messages by type, records by stream, and the log."""

    messages: list[dict] = field(default_factory=list)
    log: str = ""
    error: BaseException | None = None
    _records: tuple[int, dict[str, list[dict]]] | None = field(default=None, repr=False)

    @property
    def records(self) -> dict[str, list[dict]]:
        """Records by stream, money as a loader reads it.

        Money columns are decimal strings with ``format: x-singer.decimal`` in the SCHEMA
        (tests/test_reports.py checks the text itself); here they become ``Decimal``, as
        every SQL loader makes NUMERIC of them, so tests can sum them.
        """
        if self._records is not None and self._records[0] == len(self.messages):
            return self._records[1]  # the same objects each time: tests may edit them
        out: dict[str, list[dict]] = defaultdict(list)
        money: dict[str, dict] = {}
        for message in self.messages:
            if message["type"] == "SCHEMA":
                money[message["stream"]] = message["schema"]
            elif message["type"] == "RECORD":
                record = _decimals(message["record"], money.get(message["stream"], {}))
                out[message["stream"]].append(record)
        self._records = (len(self.messages), out)
        return out

    @property
    def written_records(self) -> dict[str, list[dict]]:
        """Records by stream exactly as the tap wrote them (money as decimal strings)."""
        out: dict[str, list[dict]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                out[message["stream"]].append(message["record"])
        return out

    @property
    def states(self) -> list[dict]:
        """Every STATE value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict | None:
        """The last STATE value."""
        states = self.states
        return states[-1] if states else None

    def bookmark(self, stream: str) -> Any:
        """The stream's bookmark in the final STATE."""
        state = self.final_state or {}
        return state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def tap_config(sandbox: SandboxServer, **overrides: Any) -> dict[str, Any]:
    """A config pointing at the sandbox, fast limiter, 30 days back by default."""
    latest = sandbox.latest_day()
    config: dict[str, Any] = {
        "api_key": SANDBOX_API_KEY,
        "api_url": sandbox.url,
        "start_date": (latest - dt.timedelta(days=29)).isoformat(),
        "max_requests_per_minute": FAST_RATE,
    }
    config.update(overrides)
    return config


def run_tap(
    config: dict[str, Any],
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    raise_errors: bool = True,
    select: set[str] | None = None,
) -> TapRun:
    """Run a full sync in this process and capture its stdout and log.

    ``select`` limits the sync to those streams (as a catalog selection would).
    """
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    log_buffer = io.StringIO()
    handler = logging.StreamHandler(log_buffer)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    run = TapRun()
    try:
        with contextlib.redirect_stdout(stdout):
            tap = TapClaudeEnterprise(config=config, state=state, catalog=catalog)
            if select is not None:
                for name, stream in tap.streams.items():
                    stream.selected = name in select
            tap.sync_all()
    except BaseException as exc:
        run.error = exc
        if raise_errors:
            raise
    finally:
        root.removeHandler(handler)
        stdout.flush()
        raw = stdout.buffer.getvalue().decode()  # type: ignore[attr-defined]
        # Numbers as Decimal: a float would hide exactly the errors money tests look for.
        run.messages = [
            json.loads(line, parse_float=Decimal) for line in raw.splitlines() if line.strip()
        ]
        run.log = log_buffer.getvalue()
    return run


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last`` inclusive."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def expected_engagement_keys(
    sandbox: SandboxServer, stream: str, first: dt.date, last: dt.date
) -> list[tuple]:
    """Primary keys of every row the sandbox serves for ``stream`` over the days."""
    latest = sandbox.latest_day()
    method = getattr(sandbox.org, ENGAGEMENT_ROWS[stream])
    keys = []
    for day in days(first, last):
        for row in method(day, latest, shape=sandbox.settings.shape):
            keys.append(ENGAGEMENT_KEYS[stream](row, day.isoformat()))
    return keys


def record_keys(records: list[dict], key_names: tuple[str, ...]) -> list[tuple]:
    """Primary-key tuples of records."""
    return [tuple(r[k] for k in key_names) for r in records]


# --- reliability and security tests ---------------------------------------------------

TAP_EXECUTABLE = "tap-claude-enterprise"


def pin_watermark(sandbox: SandboxServer) -> None:
    """Freeze the sandbox's ``data_refreshed_at``, so runs a minute apart agree on every row.

    The report watermark moves each minute and is copied into records; two runs that
    must produce equal records (a fault-free one and a faulted one) need it fixed.
    """
    moment = sandbox.data_refreshed_at()
    sandbox.data_refreshed_at = lambda: moment  # type: ignore[method-assign]


def small_config(sandbox: SandboxServer, days_back: int = 2, **overrides: Any) -> dict[str, Any]:
    """A short, fixed range: ``days_back + 1`` days ending at the latest available day."""
    latest = sandbox.latest_day()
    config = tap_config(
        sandbox,
        start_date=(latest - dt.timedelta(days=days_back)).isoformat(),
        end_date=latest.isoformat(),
    )
    config.update(overrides)
    return config


def assert_same_records(run: TapRun, expected: TapRun) -> None:
    """Every stream emitted exactly the records of ``expected``, in the same order."""
    assert run.error is None, f"the run failed: {run.error!r}"
    assert set(run.records) == set(expected.records)
    for stream, records in expected.records.items():
        assert run.records[stream] == records, f"{stream}: records differ"


def run_cli(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tap-claude-enterprise`` command in a child process."""
    executable = Path(sys.executable).with_name(TAP_EXECUTABLE)
    command = [str(executable)]
    if not executable.exists():
        command = [sys.executable, "-m", "tap_claude_enterprise"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def messages_of(stdout: str) -> list[dict]:
    """The Singer messages a tap printed."""
    return [json.loads(line, parse_float=Decimal) for line in stdout.splitlines() if line.strip()]

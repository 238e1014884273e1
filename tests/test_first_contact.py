"""A new user's first contact: ``--test`` and bad input, run as the CLI a user runs.

Each case runs ``tap-claude-enterprise`` in a child process and checks that it ends
with one line naming the cause (and the file, for a bad file), exit code 1, and no
traceback. ``--test`` against a host that cannot be reached answers within seconds
(measured and printed), with a budget of its own rather than the sync's ten minutes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from tap_claude_enterprise.sandbox import SANDBOX_API_KEY, SandboxServer
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import run_cli, small_config


def write_json(tmp_path: Path, name: str, value: Any) -> Path:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if "| ERROR" in line]


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 1, no traceback, and exactly one ERROR line, which holds ``expected``."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    [line] = error_lines(result)
    for text in expected:
        assert text in line
    return line


# --- --test -----------------------------------------------------------------------------


def test_connection_test_against_a_closed_port_answers_at_once_with_one_line(tmp_path, capsys):
    port = closed_port()
    config = {"api_key": "sk-ant-api01-abcdefgh", "api_url": f"http://127.0.0.1:{port}"}

    started = time.monotonic()
    result = run_cli(["--config", str(write_json(tmp_path, "c.json", config)), "--test"])
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[--test, connection refused] answered in {elapsed:.1f} s (CLI start included)")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    verdicts = [line for line in result.stderr.splitlines() if "Connection test failed" in line]
    assert verdicts == [
        "Connection test failed: cannot connect to 127.0.0.1: connection refused "
        "(nothing listens there)"
    ]
    assert "retrying" not in result.stderr  # a refused connection does not heal in seconds
    assert elapsed < 30


def test_connection_test_names_a_host_that_cannot_be_resolved(monkeypatch):
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", no_dns)
    tap = TapClaudeEnterprise(
        config={"api_key": SANDBOX_API_KEY, "api_url": "https://api.example.invalid"}
    )

    started = time.monotonic()
    assert tap.run_connection_test() is False
    assert time.monotonic() - started < 5
    assert tap.connection_test_error.startswith("cannot resolve api.example.invalid:")


@pytest.mark.slow  # about 10 s: two real 5 s connect timeouts
def test_connection_test_against_a_silent_host_keeps_its_own_short_budget(monkeypatch, capsys):
    # A host that never answers the connection: the sync would retry for 600 s.
    timeouts: list[object] = []

    def black_hole(address: tuple[str, int], timeout: Any = None, *args: Any, **kwargs: Any):
        timeouts.append(timeout)
        time.sleep(float(timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", black_hole)
    tap = TapClaudeEnterprise(
        config={"api_key": SANDBOX_API_KEY, "api_url": "https://api.example.invalid"}
    )

    started = time.monotonic()
    assert tap.run_connection_test() is False
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[--test, silent host] verdict after {elapsed:.1f} s, {len(timeouts)} attempts")

    assert elapsed < 30
    assert set(timeouts) == {5.0}  # its own connect timeout, below the default 10 s
    assert tap.connection_test_error == (
        "cannot connect to api.example.invalid: timed out after connect_timeout_seconds"
    )


def test_refused_key_hint_shows_both_key_prefixes_and_the_request_id(
    make_sandbox: Callable[..., SandboxServer], tmp_path
):
    sandbox = make_sandbox(members=5)
    config = small_config(sandbox, api_key="sk-ant-api01-not-the-sandbox-key")

    result = run_cli(["--config", str(write_json(tmp_path, "c.json", config)), "--test"])

    assert result.returncode == 1
    verdict = result.stderr.strip().splitlines()[-1]
    assert verdict.startswith("Connection test failed: /summaries: the API refused the key (404).")
    assert "sk-ant-api01-..." in verdict
    assert "sk-ant-admin01-..." in verdict
    assert "[key]" not in result.stderr
    [request] = sandbox.requests_for()
    assert verdict.endswith(f"(request-id {request['request_id']})")
    assert "not-the-sandbox-key" not in result.stderr


# --- bad files and values -----------------------------------------------------------------


def test_a_config_file_that_is_not_json_is_one_line(tmp_path):
    path = write_json(tmp_path, "config.json", '{"api_key": "sk-ant-api01-abcdefgh",')

    result = run_cli(["--config", str(path)])

    line = assert_one_line_failure(result, f"config file {path}: not valid JSON", "line 1")
    assert "sk-ant" not in line  # the position, never the content


def test_a_missing_config_file_is_one_line(tmp_path):
    path = tmp_path / "nope.json"

    result = run_cli(["--config", str(path), "--test"])

    assert_one_line_failure(result, f"config file {path}: no such file")


def test_a_corrupt_state_file_is_one_line_that_says_how_to_start_over(sandbox, tmp_path):
    config = write_json(tmp_path, "c.json", small_config(sandbox))
    state = write_json(tmp_path, "state.json", '{"bookmarks": {"skills": ')

    result = run_cli(["--config", str(config), "--state", str(state)])

    assert_one_line_failure(result, f"STATE file {state}: not valid JSON", "To start over")
    assert sandbox.requests_for() == []


def test_a_bookmark_that_is_not_a_date_is_one_line(sandbox, tmp_path):
    config = write_json(tmp_path, "c.json", small_config(sandbox))
    bookmark = {"replication_key": "date", "replication_key_value": "last tuesday"}
    state = write_json(tmp_path, "state.json", {"bookmarks": {"skills": bookmark}})

    result = run_cli(["--config", str(config), "--state", str(state)])

    assert_one_line_failure(
        result, f"STATE file {state}: the bookmark of stream 'skills' is not a date", "start over"
    )
    assert sandbox.requests_for() == []


def test_end_date_before_start_date_is_refused(sandbox, tmp_path):
    config = {**small_config(sandbox), "start_date": "2026-06-10", "end_date": "2026-06-01"}

    result = run_cli(["--config", str(write_json(tmp_path, "c.json", config))])

    assert_one_line_failure(result, "end_date is before start_date")
    assert sandbox.requests_for() == []


def test_a_bad_api_url_on_a_sync_prints_its_message_and_no_traceback(tmp_path):
    config = {"api_key": "sk-ant-api01-abcdefgh", "api_url": "http://203.0.113.7"}

    result = run_cli(["--config", str(write_json(tmp_path, "c.json", config))])

    assert_one_line_failure(result, "Sync failed: api_url must start with https://")
    assert result.stdout == ""  # refused before any stream started


@pytest.mark.slow  # about 25 s: the first-contact budget, in real time
def test_a_sync_that_never_reaches_the_api_stops_after_a_short_budget(tmp_path, capsys):
    """No sandbox running (or a wrong api_url): seconds, not max_retry_seconds (600 s)."""
    port = closed_port()
    config = {
        "api_key": "sk-ant-api01-abcdefgh",
        "api_url": f"http://127.0.0.1:{port}",
        "start_date": "2026-11-01",
    }

    started = time.monotonic()
    result = run_cli(["--config", str(write_json(tmp_path, "c.json", config))])
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[sync, connection refused] failed after {elapsed:.1f} s")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = error_lines(result)[-1]
    assert "Sync failed: ConnectionError: cannot connect to 127.0.0.1: connection refused" in last
    retries = [line for line in result.stderr.splitlines() if "retrying in" in line]
    assert 1 <= len(retries) <= 6  # a few quick retries, then the verdict
    assert result.stdout.count('"RECORD"') == 0


def test_settings_table_and_about_agree_on_start_dates_default():
    result = run_cli(["--about", "--format=json"])
    default = json.loads(result.stdout)["settings"]["properties"]["start_date"]["default"]
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `start_date` |"))

    assert default == "2026-01-01"
    assert f"| `{default}` |" in row

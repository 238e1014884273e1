"""``capture_dir`` writes what the API answered; the sandbox replays it as a regression test.

This is the path a user's API surprise takes: the user syncs with ``capture_dir`` set
and sends the directory; a maintainer serves it with ``tap-claude-enterprise-sandbox
--replay DIR`` and runs the same config against it. Here the "real API" is the sandbox.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_claude_enterprise.sandbox import SANDBOX_API_KEY, Fault, SandboxServer
from tap_claude_enterprise.sandbox.replay import Replay
from tests.helpers import messages_of, pin_watermark, run_cli, run_tap, small_config

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def without_emails(records: dict[str, list[dict]]) -> str:
    return EMAIL.sub("<email>", json.dumps(records, sort_keys=True, default=str))


def email_pairs(original: dict[str, list[dict]], replayed: dict[str, list[dict]]) -> set:
    a = EMAIL.findall(json.dumps(original, sort_keys=True, default=str))
    b = EMAIL.findall(json.dumps(replayed, sort_keys=True, default=str))
    assert len(a) == len(b)
    return set(zip(a, b, strict=True))


def test_a_capture_replays_to_the_same_records(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
):
    api = make_sandbox(members=12)
    pin_watermark(api)
    # A surprise worth reporting: a 503 and a 429 without retry-after along the way.
    api.add_faults(
        Fault("status", status=503, endpoint="skills"),
        Fault("status", status=429, endpoint="users", after=1),
    )
    capture_dir = tmp_path / "capture"
    config = small_config(api, capture_dir=str(capture_dir), max_retry_seconds=30)
    captured = run_tap(config)
    files = sorted(capture_dir.glob("*.json"))

    # One file per answer the tap received, errors and retries included.
    assert len(files) == len(api.requests_for())
    assert {json.loads(f.read_text())["status"] for f in files} == {200, 429, 503}
    text = "".join(f.read_text() for f in files)
    assert SANDBOX_API_KEY not in text
    assert "sk-ant-" not in text
    addresses = set(EMAIL.findall(text))
    assert addresses, "the capture holds member rows"
    assert all(a.startswith("redacted-") and a.endswith("@example.invalid") for a in addresses)
    # Each file says what the tap read, and nothing of the request's headers.
    first = json.loads(files[0].read_text())
    assert set(first) == {"format", "captured_at", "request", "status", "headers", "body"}
    assert "request-id" in first["headers"]
    assert ["beta", "true"] in first["request"]["query"]

    replay = make_sandbox(replay_dir=str(capture_dir))
    replayed = run_tap({**config, "api_url": replay.url, "capture_dir": None})

    assert replayed.error is None
    assert set(replayed.records) == set(captured.records)
    assert without_emails(replayed.records) == without_emails(captured.records)
    # The same address always becomes the same pseudonym, and different ones differ.
    pairs = email_pairs(captured.records, replayed.records)
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})
    # The replayed answers came in the captured order, the 429 and 503 included.
    statuses = [e["status"] for e in replay.requests_for()]
    assert sorted(statuses) == sorted(json.loads(f.read_text())["status"] for f in files)


def test_the_sandbox_command_serves_a_capture(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path
):
    # As a maintainer would: the sandbox command with --replay, the tap's own command.
    api = make_sandbox(members=5)
    pin_watermark(api)
    capture_dir = tmp_path / "capture"
    config = small_config(api, days_back=1, capture_dir=str(capture_dir))
    captured = run_tap(config)

    server = subprocess.Popen(
        [sys.executable, "-m", "tap_claude_enterprise.sandbox.cli", "--port", "0",
         "--rate-limit", "100000", "--replay", str(capture_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = json.loads(server.stdout.readline())["url"]
        config_path = tmp_path / "replay.json"
        config_path.write_text(json.dumps({**config, "api_url": url, "capture_dir": None}))
        result = run_cli(["--config", str(config_path)])
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert result.returncode == 0, result.stderr[-2000:]
    replayed: dict[str, list[dict]] = {}
    for message in messages_of(result.stdout):
        if message["type"] == "RECORD":
            replayed.setdefault(message["stream"], []).append(message["record"])
    assert without_emails(replayed) == without_emails(captured.records)


def test_a_request_the_capture_does_not_hold_is_a_404_that_says_so(tmp_path: Path):
    (tmp_path / "000001-users-200.json").write_text(
        json.dumps(
            {
                "format": 1,
                "request": {
                    "method": "GET",
                    "path": "/v1/organizations/analytics/users",
                    "query": [["beta", "true"], ["date", "2026-10-01"], ["limit", "1000"]],
                },
                "status": 200,
                "headers": {"content-type": "application/json", "request-id": "req_abc"},
                "body": '{"data": [], "next_page": null}',
            }
        )
    )
    replay = Replay(tmp_path)

    found = replay.answer("users", {"date": ["2026-10-01"], "limit": ["1000"]})
    assert found is not None
    assert found.status == 200
    assert found.headers["request-id"] == "req_abc"
    assert replay.answer("users", {"date": ["2026-10-02"], "limit": ["1000"]}) is None
    with pytest.raises(ValueError, match="no captured answers"):
        Replay(tmp_path / "empty")

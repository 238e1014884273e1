"""A wrong key stops within 3 requests; an endpoint the organization lacks is still skipped.

Engagement endpoints answer 404 to a wrong key *and* to an organization that lacks them,
so the run's first request goes out alone and a 403/404 on it is decided by one request
to a report endpoint (401 there: the key is wrong). Counted in the sandbox's request log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

from tap_claude_enterprise.http import rate_limit
from tap_claude_enterprise.http.errors import AuthenticationError
from tap_claude_enterprise.sandbox import SandboxServer
from tap_claude_enterprise.sandbox.faults import Fault
from tests.helpers import run_cli, run_tap, tap_config

WRONG_KEY = "sk-ant-api01-wrong"  # short: no secret scanner mistakes it for a key


@pytest.fixture(autouse=True)
def fresh_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "_registry", {})


@pytest.fixture
def org(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(members=5)


def test_a_wrong_key_exits_1_within_3_requests_with_one_line(org, tmp_path):
    # 30 days back: before, the first stream's parallel chains sent 23 requests first.
    config = tap_config(org, api_key=WRONG_KEY, max_concurrent_requests=8)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))

    result = run_cli(["--config", str(path)])

    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # The one-line verdict closes the output (the SDK also names the stream it stopped).
    [line] = [line for line in result.stderr.splitlines() if "Sync failed" in line]
    assert line == result.stderr.strip().splitlines()[-1]
    assert "the API refused the key" in line
    assert "read:analytics" in line
    assert WRONG_KEY not in result.stderr
    log = org.requests_for()
    assert 1 <= len(log) <= 3, [(e["endpoint"], e["status"]) for e in log]
    assert {e["status"] for e in log} <= {401, 404}
    assert not [m for m in result.stdout.splitlines() if '"RECORD"' in m]


def test_a_wrong_key_in_process_sends_two_requests_and_no_records(org):
    run = run_tap(tap_config(org, api_key=WRONG_KEY), raise_errors=False)

    assert isinstance(run.error, AuthenticationError)
    assert "(401)" in str(run.error)
    statuses = [(e["endpoint"], e["status"]) for e in org.requests_for()]
    assert statuses == [("summaries", 404), ("user_usage_report", 401)]
    assert not run.records
    assert "retrying" not in run.log


@pytest.mark.parametrize("status", [404, 403])
def test_the_first_endpoint_missing_is_skipped_with_one_line_while_the_others_sync(org, status):
    latest = org.latest_day()
    config = tap_config(org, start_date=(latest - dt.timedelta(days=3)).isoformat())
    baseline = run_tap(config)
    org.reset()
    org.add_faults(Fault("missing_endpoint", endpoint="summaries", status=status, times=-1))

    run = run_tap(config)

    assert run.error is None
    assert not run.records["summaries"]
    for stream, records in baseline.records.items():
        if stream != "summaries":
            assert run.records[stream] == records, stream
    skipped = [line for line in run.log.splitlines() if line.startswith("summaries: skipped")]
    assert len(skipped) == 1
    assert f"answered {status}" in skipped[0]
    # One request decided it: one bucket of the first report endpoint.
    probes = [e for e in org.requests_for("user_usage_report") if e["params"].get("limit") == ["1"]]
    assert len(probes) == 1


def test_a_working_key_costs_no_extra_request(org):
    latest = org.latest_day()
    config = tap_config(org, start_date=(latest - dt.timedelta(days=2)).isoformat())

    run_tap(config)

    assert len(org.requests_for("summaries")) == 1
    assert not [e for e in org.requests_for() if e["params"].get("limit") == ["1"]]

"""What support needs and what the official SDK does: request ids, ``x-should-retry``, beta.

Anthropic support asks for the request id of a failed call, so every retry and error
line carries it. The official SDK sends ``?beta=true`` on these paths and obeys
``x-should-retry`` before its status rules; the sandbox sends both headers by default
and can be switched to send neither, or to send a given verdict for a status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import requests

from tap_claude_enterprise.http.errors import NotRetriedError
from tap_claude_enterprise.http.transport import request_id_of, should_retry_of
from tap_claude_enterprise.sandbox import Fault, SandboxServer
from tests.helpers import TapRun, assert_same_records, pin_watermark, run_tap, small_config

REQUEST_ID = re.compile(r"\(request-id (req_sandbox_[0-9a-f]+)\)")


def runs(sandbox: SandboxServer, *faults: Fault, **overrides: Any) -> tuple[TapRun, TapRun]:
    """A fault-free run of two streams, then the same with ``faults`` armed."""
    pin_watermark(sandbox)
    config = small_config(sandbox, max_retry_seconds=6, **overrides)
    select = {"summaries", "user_activity"}
    baseline = run_tap(config, select=select)
    sandbox.reset()
    sandbox.add_faults(*faults)
    return baseline, run_tap(config, select=select, raise_errors=False)


def test_every_request_carries_the_official_sdks_beta_flag(sandbox: SandboxServer):
    run_tap(small_config(sandbox))

    log = sandbox.requests_for()
    assert len(log) > 10
    assert all(entry["params"]["beta"] == ["true"] for entry in log)


def test_retry_give_up_and_error_lines_carry_the_request_id(
    make_sandbox: Callable[..., SandboxServer],
):
    sandbox = make_sandbox(members=5)
    _, run = runs(sandbox, Fault("status", status=503, endpoint="users", times=-1))

    failed = [e for e in sandbox.requests_for("users") if e["status"] == 503]
    retry_lines = [line for line in run.log.splitlines() if "retrying in" in line]
    give_up = [line for line in run.log.splitlines() if "giving up" in line]
    assert len(failed) >= 2
    assert retry_lines
    assert all(REQUEST_ID.search(line) for line in retry_lines + give_up)
    sent_ids = {e["request_id"] for e in failed}
    logged_ids = {REQUEST_ID.search(line).group(1) for line in retry_lines + give_up}  # type: ignore[union-attr]
    assert logged_ids <= sent_ids
    assert len(logged_ids) == len(retry_lines) + len(give_up)  # each line names its own
    assert run.error is not None
    assert REQUEST_ID.search(str(run.error))


def test_x_should_retry_false_is_never_retried(make_sandbox: Callable[..., SandboxServer]):
    sandbox = make_sandbox(members=5, should_retry_overrides={503: "false"})
    _, run = runs(sandbox, Fault("status", status=503, endpoint="users"))

    assert isinstance(run.error, NotRetriedError)
    assert "x-should-retry: false" in str(run.error)
    assert REQUEST_ID.search(str(run.error))
    assert [e["status"] for e in sandbox.requests_for("users")][:1] == [503]
    assert sum(1 for e in sandbox.requests_for("users") if e["status"] == 503) == 1
    assert "retrying in" not in run.log


def test_x_should_retry_true_retries_even_a_400(make_sandbox: Callable[..., SandboxServer]):
    sandbox = make_sandbox(members=5, should_retry_overrides={400: "true"})
    baseline, run = runs(
        sandbox, Fault("status", status=400, endpoint="users", message="try that again")
    )

    assert_same_records(run, baseline)
    statuses = [e["status"] for e in sandbox.requests_for("users")]
    assert statuses.count(400) == 1
    assert "retrying in" in run.log


def test_without_the_headers_the_status_rules_apply(make_sandbox: Callable[..., SandboxServer]):
    sandbox = make_sandbox(members=5, should_retry_header=False, request_ids=False)
    baseline, run = runs(sandbox, Fault("status", status=503, endpoint="users"))

    assert_same_records(run, baseline)
    assert "retrying in" in run.log
    assert "request-id" not in run.log


def response(status: int, body: Any = None, headers: dict[str, str] | None = None):
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode() if body is not None else b""
    answer.headers.update(headers or {})
    return answer


def test_the_request_id_comes_from_the_header_or_else_the_error_body():
    assert request_id_of(response(500, {"request_id": "req_body"})) == "req_body"
    assert request_id_of(response(500, {"request_id": "x"}, {"request-id": "req_h"})) == "req_h"
    assert request_id_of(response(200, {"request_id": "req_row"})) is None  # rows: not read
    assert request_id_of(response(502, None)) is None  # an HTML page from a proxy, say
    assert should_retry_of(response(503, None, {"x-should-retry": "False"})) is False
    assert should_retry_of(response(400, None, {"x-should-retry": "true"})) is True
    assert should_retry_of(response(200, None, {"x-should-retry": "true"})) is None

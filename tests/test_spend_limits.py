"""The Spend Limits API streams (issue 17), checked against the sandbox's own answers."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest

from tap_claude_enterprise.endpoints import ADMIN_ONLY, ENDPOINTS
from tap_claude_enterprise.sandbox import spend_limits as sandbox_limits
from tap_claude_enterprise.sandbox.settings import (
    SANDBOX_ADMIN_KEY,
    SANDBOX_LIMITS_KEY,
    SpendLimitSettings,
)
from tests.helpers import run_cli, run_tap, small_config

SPEND_STREAMS = {e.name for e in ENDPOINTS if e.keys == ADMIN_ONLY}
SPEND_PATHS = {e.path for e in ENDPOINTS if e.keys == ADMIN_ONLY}


def _expected(sandbox) -> dict[str, list[dict]]:
    """What the sandbox serves now, straight from its own data (not through the tap)."""
    return {
        "spend_limits_effective": sandbox_limits.effective_rows(sandbox, {}),
        "spend_limits": sandbox_limits.configured_limits(sandbox.org),
        "spend_limit_increase_requests": sandbox_limits.increase_requests(sandbox, {}),
    }


def _exact(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def test_both_keys_land_every_limit_exactly_once(make_sandbox):
    sandbox = make_sandbox(members=30, spend_limits=SpendLimitSettings(default_limit=5))
    config = small_config(sandbox, admin_api_key=SANDBOX_LIMITS_KEY)
    run = run_tap(config)
    expected = _expected(sandbox)
    for stream in SPEND_STREAMS:
        assert len(run.records[stream]) == len(expected[stream]) > 0, stream

    effective = {r["user_id"]: r for r in run.records["spend_limits_effective"]}
    assert len(effective) == len(expected["spend_limits_effective"])
    seen_null = seen_zero = False
    for row in expected["spend_limits_effective"]:
        got = effective[row["actor"]["user_id"]]
        assert _exact(got["amount"]) == _exact(row["amount"])
        assert got["amount"] is None if row["amount"] is None else got["amount"] is not None
        assert _exact(got["period_to_date_spend"]) == Decimal(row["period_to_date_spend"])
        assert got["source"] == row["source"]
        assert got["period"] == row["period"]
        if row["amount"] is not None:
            assert _exact(got["amount_usd"]) == Decimal(row["amount"]) / 100
        seen_null |= row["amount"] is None
        seen_zero |= row["amount"] == "0"
        if row["amount"] == "0":
            assert got["amount"] is not None
            assert Decimal(got["amount"]) == 0
    assert seen_null
    assert seen_zero
    sources = {r["source"]["type"] for r in run.records["spend_limits_effective"]}
    assert {"user", "rbac_group", "seat_tier", "organization"} <= sources

    requests = {r["id"]: r for r in run.records["spend_limit_increase_requests"]}
    assert {r["status"] for r in requests.values()} == {"pending", "approved", "denied"}
    for row in expected["spend_limit_increase_requests"]:
        got = requests[row["id"]]
        assert got["status"] == row["status"]
        assert (got["spend_summary"] is None) == (row["status"] != "pending")

    # Keys: each request carries the key that can read it; nothing but GET is sent.
    log = sandbox.requests_for()
    assert {e["method"] for e in log} == {"GET"}
    for entry in log:
        want = "admin_spend_limits" if entry["endpoint"] in SPEND_PATHS else "analytics"
        assert entry["key_kind"] == want, entry["endpoint"]
    # Paged with a cursor at the largest page size (the sandbox's default is 5).
    effective_requests = sandbox.requests_for("spend_limits/effective")
    assert all(e["params"]["limit"] == ["1000"] for e in effective_requests)
    assert SANDBOX_LIMITS_KEY not in run.log


def test_a_second_run_from_state_adds_no_duplicates(make_sandbox):
    sandbox = make_sandbox(members=12)
    config = small_config(sandbox, admin_api_key=SANDBOX_LIMITS_KEY)
    first = run_tap(config, select=SPEND_STREAMS)
    second = run_tap(config, state=first.final_state, select=SPEND_STREAMS)
    for stream in SPEND_STREAMS:
        keys = ENDPOINTS[[e.name for e in ENDPOINTS].index(stream)].primary_keys
        rows = first.records[stream] + second.records[stream]
        distinct = {tuple(r[k] for k in keys) for r in rows}
        assert len(distinct) == len(first.records[stream]), stream
        assert second.bookmark(stream) == first.bookmark(stream)


def test_only_an_analytics_key_skips_the_family_in_one_line(make_sandbox):
    sandbox = make_sandbox(members=6)
    run = run_tap(small_config(sandbox, days_back=0))
    assert run.error is None
    assert not SPEND_STREAMS & set(run.records)
    assert "user_activity" in run.records
    lines = [line for line in run.log.splitlines() if "read:spend_limits" in line]
    assert len(lines) == 1
    assert "admin_api_key" in lines[0]
    assert not any(e["endpoint"] in SPEND_PATHS for e in sandbox.requests_for())


def test_a_key_without_the_scope_is_explained_in_one_line(make_sandbox):
    sandbox = make_sandbox(members=6)
    config = small_config(sandbox, days_back=0, admin_api_key=SANDBOX_ADMIN_KEY)
    run = run_tap(config)
    assert run.error is None
    assert not SPEND_STREAMS & set(run.records)
    lines = [line for line in run.log.splitlines() if "Skipping spend_limits" in line]
    assert len(lines) == 1
    assert "read:spend_limits" in lines[0]
    # One refused request: the rest of the family is skipped without asking again.
    assert len([e for e in sandbox.requests_for() if e["endpoint"] in SPEND_PATHS]) == 1
    assert SANDBOX_ADMIN_KEY not in run.log


def test_an_admin_key_in_api_key_reads_spend_limits_when_it_has_the_scope(make_sandbox):
    sandbox = make_sandbox(members=6)
    config = small_config(sandbox, days_back=0, api_key=SANDBOX_LIMITS_KEY)
    run = run_tap(config, select={"usage", *SPEND_STREAMS})
    assert run.error is None
    assert set(run.records) >= SPEND_STREAMS
    assert "usage" in run.records


def test_the_page_size_is_learned_when_refused(make_sandbox):
    sandbox = make_sandbox(members=20, spend_limits=SpendLimitSettings(max_limit=7))
    config = small_config(sandbox, admin_api_key=SANDBOX_LIMITS_KEY)
    run = run_tap(config, select={"spend_limits_effective"})
    assert len(run.records["spend_limits_effective"]) == len(
        sandbox_limits.effective_rows(sandbox, {})
    )
    limits = [e["params"]["limit"][0] for e in sandbox.requests_for("spend_limits/effective")]
    assert limits[0] == "1000"
    assert set(limits[1:]) == {"7"}


def test_departed_members_are_not_served(make_sandbox):
    sandbox = make_sandbox(members=40)
    today = sandbox.now().date()
    departed = {m.user_id for m in sandbox.org.seat_members if not m.present(today)}
    assert departed  # the default organization has some
    served = {r["actor"]["user_id"] for r in sandbox_limits.effective_rows(sandbox, {})}
    requested = {r["actor"]["user_id"] for r in sandbox_limits.increase_requests(sandbox, {})}
    assert not departed & (served | requested)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_the_sandbox_refuses_writes(sandbox, method):
    request = urllib.request.Request(
        f"{sandbox.url}/v1/organizations/spend_limits", data=b"{}", method=method
    )
    request.add_header("x-api-key", SANDBOX_LIMITS_KEY)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405
    assert json.loads(caught.value.read())["type"] == "error"
    assert [e["method"] for e in sandbox.requests_for()] == [method]


def test_email_privacy_and_organization_label_apply(make_sandbox):
    sandbox = make_sandbox(members=6)
    config = small_config(
        sandbox,
        admin_api_key=SANDBOX_LIMITS_KEY,
        email_handling="drop",
        organization_label="acme",
    )
    run = run_tap(config, select=SPEND_STREAMS)
    for stream in SPEND_STREAMS:
        for record in run.records[stream]:
            assert record["organization_label"] == "acme"
            assert "@" not in json.dumps(record, default=str), stream


@pytest.mark.parametrize(
    ("admin_key", "verdict"),
    [
        (SANDBOX_LIMITS_KEY, "admin_api_key can read the spend limits (read:spend_limits)"),
        (SANDBOX_ADMIN_KEY, "admin_api_key cannot read the spend limits"),
    ],
    ids=["with-scope", "without-scope"],
)
def test_connection_test_says_whether_admin_api_key_reads_the_spend_limits(
    sandbox, tmp_path, admin_key, verdict
):
    """--test: one extra request, to the spend limits, with the Admin key; a key without
    the scope does not fail the test (a sync skips the family), the verdict says so."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(small_config(sandbox, admin_api_key=admin_key)))
    result = run_cli(["--config", str(path), "--test"])
    assert result.returncode == 0, result.stderr
    assert verdict in result.stderr
    assert [e["endpoint"] for e in sandbox.requests_for()] == [
        "summaries",
        "spend_limits/effective",
    ]
    assert admin_key not in result.stderr + result.stdout

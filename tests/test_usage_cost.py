"""The usage and cost streams (beta Usage and Cost Analytics API), and Admin keys.

Every case the docs leave open (page size, range, envelope keys, actor shape, an
organization not on the beta) is answered both ways by the sandbox's switches.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_claude_enterprise.endpoints import ENDPOINTS, names
from tap_claude_enterprise.sandbox.server import SandboxServer
from tap_claude_enterprise.sandbox.usage_cost import (
    BETA,
    SANDBOX_ADMIN_KEY,
    UsageCostSettings,
    build_rows,
    expected_total,
)
from tap_claude_enterprise.streams.usage_cost import RequestLimits, key_columns, resolve_group_by
from tap_claude_enterprise.sync.windows import revision_start
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import run_cli, run_tap, tap_config

STREAMS = set(names("usage_cost"))
# The endpoints only an Analytics key reads (the Spend Limits API takes an Admin key).
LEGACY = {e.name for e in ENDPOINTS if "admin" not in e.keys}


pytestmark = pytest.mark.usefixtures("info_logs")


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def span(config: dict) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) a first run covers with day buckets."""
    return (
        midnight(dt.date.fromisoformat(config["start_date"])),
        midnight(dt.datetime.now(tz=dt.timezone.utc).date()),
    )


def actor_id_of(actor: object) -> str:
    if isinstance(actor, str):
        return actor
    assert isinstance(actor, dict)
    for name in ("id", "user_id", "api_key_id", "service_account_id"):
        if actor.get(name):
            return actor[name]
    raise AssertionError(actor)


def expected_rows(
    sandbox: SandboxServer, config: dict, *, cost: bool, group_by: list[str]
) -> dict[tuple, dict]:
    """The sandbox's own rows over the run's span, keyed as the tap keys records."""
    start, end = span(config)
    refreshed = sandbox.data_refreshed_at()
    rows = build_rows(
        sandbox,
        cost=cost,
        start=start,
        end=end,
        data_end=min(end, refreshed),
        width="1d",
        group_by=tuple(group_by),
        filters={},
        refreshed_day=refreshed.date(),
    )
    out = {}
    for row in rows:
        group = row["group"]
        key: tuple = (row["starting_at"],)
        for column in key_columns(group_by):
            if column == "actor_id":
                value = actor_id_of(group["actor"])
            elif column == "actor_type":
                value = group.get("actor_type") or {
                    "user_actor": "user",
                    "api_key_actor": "api_key",
                    "service_account_actor": "service_account",
                }.get(group["actor"].get("type"), group["actor"].get("type"))
            else:
                value = group[column]
            key += ("" if value is None else value,)
        assert key not in out
        out[key] = row
    return out


def record_keys(records: list[dict], group_by: list[str]) -> list[tuple]:
    return [(r["starting_at"], *(r[c] for c in key_columns(group_by))) for r in records]


def usage_cost_config(sandbox: SandboxServer, days: int = 40, **overrides: object) -> dict:
    start = (sandbox.latest_day() - dt.timedelta(days=days - 1)).isoformat()
    return tap_config(sandbox, start_date=start, **overrides)


GROUPINGS = [
    ["actor", "model", "product"],
    ["api_key_id", "model", "workspace_id"],
    ["actor_type", "service_tier"],
    [],
    ["model", "token_type"],
]


@pytest.mark.parametrize("group_by", GROUPINGS, ids=lambda g: "+".join(g) or "none")
def test_every_row_once_and_exact_sums_per_grouping(make_sandbox, group_by):
    sandbox = make_sandbox(members=12, usage_cost=UsageCostSettings(max_limit=40))
    usage_group_by = [d for d in group_by if d != "token_type"]
    config = usage_cost_config(
        sandbox, usage_stream_group_by=usage_group_by, cost_stream_group_by=group_by
    )
    run = run_tap(config, select=STREAMS)
    start, end = span(config)
    for stream, cost in (("usage", False), ("cost", True)):
        groups = resolve_group_by(config, cost=cost)
        records = run.records[stream]
        keys = record_keys(records, groups)
        assert not [k for k, n in Counter(keys).items() if n > 1], f"{stream}: duplicate keys"
        expected = expected_rows(sandbox, config, cost=cost, group_by=groups)
        assert set(keys) == set(expected), stream
        for record, key in zip(records, keys, strict=True):
            metrics = "cost" if cost else "usage"
            want = dict(expected[key][metrics])
            if cost:
                want["amount"] = Decimal(want["amount"])
                want["list_amount"] = Decimal(want["list_amount"])
            assert record[metrics] == want
    # Exact totals, from the underlying facts (not from the rows served).
    amount = sum(r["amount"] for r in run.records["cost"])
    assert amount == Decimal(expected_total(sandbox, start=start, end=end)).scaleb(-6)
    usd = sum(r["amount_usd"] for r in run.records["cost"])
    assert usd == amount.scaleb(-2)
    refreshed = sandbox.data_refreshed_at()
    tokens = sum(
        sum(f.tokens) for f in sandbox.org.facts_between(start, min(end, refreshed), org_wide=True)
    )
    assert sum(r["usage"]["total_tokens"] for r in run.records["usage"]) == tokens


def test_records_carry_key_columns_money_and_envelope(make_sandbox):
    sandbox = make_sandbox(members=8)
    run = run_tap(usage_cost_config(sandbox, days=5), select=STREAMS)
    record = run.records["cost"][0]
    assert set(record) >= {
        "starting_at", "ending_at", "group", "cost", "actor_id", "actor_type", "model",
        "product", "amount", "list_amount", "amount_usd", "list_amount_usd",
        "organization_id", "data_refreshed_at",
    }  # fmt: skip
    assert isinstance(record["amount"], Decimal)
    assert record["amount_usd"] == record["amount"].scaleb(-2)
    assert record["cost"]["currency"] == "USD"
    assert record["organization_id"] == sandbox.org.organization_id
    for stream in STREAMS:
        for r in run.records[stream]:
            assert None not in (r["actor_id"], r["actor_type"], r["model"], r["product"])
    kinds = {r["actor_type"] for r in run.records["usage"]}
    assert kinds == {"user", "api_key", "service_account"}
    nulls = [r for r in run.records["usage"] if r["group"]["product"] is None]
    assert nulls
    assert all(r["product"] == "" for r in nulls)


def test_totals_agree_with_the_legacy_reports(make_sandbox):
    """Per day, model and product the totals match; unattributed spend is not per-user."""
    sandbox = make_sandbox(members=12)
    by = ["model", "product"]
    config = usage_cost_config(
        sandbox,
        days=10,
        usage_stream_group_by=by,
        cost_stream_group_by=by,
        usage_group_by=["product", "model"],
        cost_group_by=["product", "model"],
    )
    run = run_tap(config, select={"usage", "cost", "usage_report", "cost_report"})

    def totals(records: list[dict], value) -> dict:
        out: dict[tuple, Decimal] = defaultdict(Decimal)
        for r in records:
            out[r["starting_at"], r["model"], r["product"]] += value(r)
        return out

    assert totals(run.records["cost"], lambda r: r["amount"]) == totals(
        run.records["cost_report"], lambda r: r["amount"]
    )
    tokens = ("uncached_input_tokens", "output_tokens", "cache_read_input_tokens")
    assert totals(run.records["usage"], lambda r: sum(r["usage"][t] for t in tokens)) == totals(
        run.records["usage_report"], lambda r: sum(r[t] for t in tokens)
    )
    # Spend of API keys and service accounts: in /cost, not in /user_cost_report.
    by_actor = usage_cost_config(sandbox, days=10, cost_stream_group_by=["actor_type"])
    actors = run_tap(by_actor, select={"cost", "user_cost_report"})
    per_type = defaultdict(Decimal)
    for r in actors.records["cost"]:
        per_type[r["actor_type"]] += r["amount"]
    assert per_type["api_key"] > 0
    assert per_type["service_account"] > 0
    per_user = sum(r["amount"] for r in actors.records["user_cost_report"])
    assert per_user == per_type["user"]


def test_incremental_rereads_the_lookback_and_picks_up_revisions(make_sandbox):
    sandbox = make_sandbox(members=10)
    config = usage_cost_config(sandbox, days=45)
    first = run_tap(config, select=STREAMS)
    bookmark = first.bookmark("cost")
    refreshed = sandbox.data_refreshed_at()
    assert bookmark == refreshed.replace(hour=0, minute=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    sandbox.revise()
    second = run_tap(config, state=first.final_state, select=STREAMS)
    groups = resolve_group_by(config, cost=True)
    keys = record_keys(second.records["cost"], groups)
    assert len(keys) == len(set(keys))
    reread = {r["starting_at"] for r in second.records["cost"]}
    # From the 1st of the earliest month not yet closed (test_windows pins the rule).
    bookmark_at = dt.datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
    start = revision_start(bookmark_at, dt.datetime.now(tz=dt.timezone.utc))
    assert min(reread) == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Upserting the second run over the first gives exactly the sandbox's current rows.
    table = dict(
        zip(record_keys(first.records["cost"], groups), first.records["cost"], strict=True)
    )
    before = sum(r["amount"] for r in table.values())
    table.update(zip(keys, second.records["cost"], strict=True))
    expected = expected_rows(sandbox, config, cost=True, group_by=groups)
    assert set(table) == set(expected)
    assert {k: r["amount"] for k, r in table.items()} == {
        k: Decimal(r["cost"]["amount"]) for k, r in expected.items()
    }
    assert sum(r["amount"] for r in table.values()) > before  # the revision moved spend


def test_beta_header_on_every_request_to_these_endpoints_only(make_sandbox):
    sandbox = make_sandbox(members=6, usage_cost=UsageCostSettings(max_limit=10))
    run_tap(usage_cost_config(sandbox, days=3))
    log = sandbox.requests_for()
    beta = [e for e in log if e["endpoint"] in STREAMS]
    assert len(beta) > 4
    assert all(e["beta"] == BETA for e in beta)
    assert all(e["beta"] is None for e in log if e["endpoint"] not in STREAMS)


def test_no_beta_header_is_refused_by_the_sandbox(sandbox):
    import requests

    response = requests.get(
        f"{sandbox.url}/v1/organizations/analytics/usage",
        params={"starting_at": "2026-11-01T00:00:00Z"},
        headers={"x-api-key": sandbox.settings.api_key, "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert response.status_code == 400
    assert BETA in response.json()["error"]["message"]


# --- where the docs are silent: each answered both ways ------------------------------


@pytest.mark.parametrize("names_max", [True, False], ids=["names-max", "silent"])
def test_page_size_adapts_to_the_api_maximum(make_sandbox, names_max):
    settings = UsageCostSettings(max_limit=300, limit_error_names_max=names_max)
    sandbox = make_sandbox(members=20, usage_cost=settings)
    config = usage_cost_config(sandbox, days=35)
    run = run_tap(config, select=STREAMS)
    groups = resolve_group_by(config, cost=False)
    assert set(record_keys(run.records["usage"], groups)) == set(
        expected_rows(sandbox, config, cost=False, group_by=groups)
    )
    assert len(run.records["usage"]) == len(set(record_keys(run.records["usage"], groups)))
    limits = {
        int(e["params"]["limit"][0]) for e in sandbox.requests_for("usage") if e["status"] == 200
    }
    assert limits == ({300} if names_max else {250})
    assert run.log.count("usage: the API says the largest page size it accepts") == 1


@pytest.mark.parametrize("names_max", [True, False], ids=["names-max", "silent"])
def test_window_span_adapts_to_the_api_maximum(make_sandbox, names_max):
    settings = UsageCostSettings(
        max_span_days={"1d": 7, "1h": 7, "1m": 1}, span_error_names_max=names_max
    )
    sandbox = make_sandbox(members=8, usage_cost=settings)
    config = usage_cost_config(sandbox, days=40)
    run = run_tap(config, select=STREAMS)
    for stream, cost in (("usage", False), ("cost", True)):
        groups = resolve_group_by(config, cost=cost)
        keys = record_keys(run.records[stream], groups)
        assert len(keys) == len(set(keys))
        assert set(keys) == set(expected_rows(sandbox, config, cost=cost, group_by=groups))
    ok = [e for e in sandbox.requests_for("cost") if e["status"] == 200]
    spans = set()
    for e in ok:
        start = dt.datetime.fromisoformat(e["params"]["starting_at"][0].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(e["params"]["ending_at"][0].replace("Z", "+00:00"))
        spans.add((end - start).days)
    assert max(spans) <= 7
    # Learned once per run, by the first stream; cost never sends a range too long.
    assert run.log.count("the API says the longest range per request") == 1
    assert "usage: the API says the longest range per request" in run.log
    assert all(e["status"] == 200 for e in sandbox.requests_for("cost"))


@pytest.mark.parametrize("has_more", [True, False], ids=["has_more", "next_page-only"])
def test_paging_with_or_without_has_more(make_sandbox, has_more):
    settings = UsageCostSettings(max_limit=15, has_more=has_more)
    sandbox = make_sandbox(members=10, usage_cost=settings)
    config = usage_cost_config(sandbox, days=6)
    run = run_tap(config, select=STREAMS)
    groups = resolve_group_by(config, cost=True)
    keys = record_keys(run.records["cost"], groups)
    assert len(keys) == len(set(keys)) > 15
    assert set(keys) == set(expected_rows(sandbox, config, cost=True, group_by=groups))


@pytest.mark.parametrize("watermark", [True, False], ids=["watermark", "no-watermark"])
def test_bookmark_never_passes_an_incomplete_bucket(make_sandbox, watermark, monkeypatch):
    sandbox = make_sandbox(members=6, usage_cost=UsageCostSettings(watermark=watermark))
    # A watermark at 22:00 yesterday: today and yesterday are both incomplete.
    now = dt.datetime.now(tz=dt.timezone.utc)
    fixed = (now - dt.timedelta(days=1)).replace(hour=22, minute=0, second=0, microsecond=0)
    sandbox.data_refreshed_at = lambda: fixed  # type: ignore[method-assign]
    from tap_claude_enterprise.streams import usage_cost as module

    if not watermark:  # the tap's assumption stands in for the watermark
        monkeypatch.setattr(module, "ASSUMED_SETTLE", now - fixed)
    run = run_tap(usage_cost_config(sandbox, days=5), select=STREAMS)
    yesterday = fixed.replace(hour=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert run.bookmark("usage") == yesterday
    assert any(r["starting_at"] == yesterday for r in run.records["usage"])
    refreshed = {r["data_refreshed_at"] for r in run.records["usage"]}
    assert refreshed == ({fixed.strftime("%Y-%m-%dT%H:%M:%SZ")} if watermark else {None})
    if not watermark:
        assert run.log.count("usage: the response has no data_refreshed_at") == 1


@pytest.mark.parametrize("shape", ["tagged", "flat", "id"])
def test_actor_of_any_shape_becomes_actor_id_and_type(make_sandbox, shape):
    sandbox = make_sandbox(members=6, usage_cost=UsageCostSettings(actor_shape=shape))
    config = usage_cost_config(sandbox, days=4, usage_stream_group_by=["actor"])
    run = run_tap(config, select={"usage"})
    ids = {r["actor_id"] for r in run.records["usage"]}
    users = {m.user_id for m in sandbox.org.members}
    others = {a for a, _, _ in sandbox.org.unattributed_actors()}
    assert ids <= users | others
    assert ids & users
    assert ids & others
    assert all(isinstance(r["group"]["actor"], dict) for r in run.records["usage"])
    # The tap asks for actor_type with actor, so the type is the API's own enum.
    types = {r["actor_type"] for r in run.records["usage"]}
    assert types == {"user", "api_key", "service_account"}


@pytest.mark.parametrize("status", [404, 403])
def test_org_not_on_the_beta_skips_usage_and_cost_cleanly(make_sandbox, status):
    settings = UsageCostSettings(enabled=False, unavailable_status=status)
    sandbox = make_sandbox(members=6, usage_cost=settings)
    run = run_tap(usage_cost_config(sandbox, days=3), select={"usage", "cost", "cost_report"})
    assert run.error is None
    assert run.records["cost_report"]
    assert not run.records["usage"]
    assert not run.records["cost"]
    assert run.log.count("usage: skipped") == 2  # the warning and the summary line
    assert run.log.count("cost: skipped") == 2
    assert "Summary usage: skipped: /usage answered" in run.log
    assert "Summary cost: skipped: /cost answered" in run.log


@pytest.mark.parametrize("cut", [False, True], ids=["full-range", "cut-to-today"])
def test_hour_buckets_with_or_without_the_cut_to_today(make_sandbox, cut):
    sandbox = make_sandbox(members=5, usage_cost=UsageCostSettings(cut_to_day=cut))
    config = usage_cost_config(sandbox, days=3, usage_cost_bucket_width="1h")
    config["start_date"] = dt.datetime.now(tz=dt.timezone.utc).date().isoformat()
    run = run_tap(config, select={"usage"})
    assert run.error is None
    now = dt.datetime.now(tz=dt.timezone.utc)
    if cut or now.hour == 0:
        assert not run.records["usage"]
        assert run.bookmark("usage") is None
    else:
        assert run.bookmark("usage") is not None


# --- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"usage_cost_bucket_width": "1w"}, "1d, 1h, 1m"),
        ({"usage_stream_group_by": ["actor", "team"]}, "workspace_id"),
        ({"cost_stream_group_by": ["description"]}, "token_type"),
        ({"usage_cost_actor_ids": [f"user_{i}" for i in range(101)]}, "at most 100"),
    ],
)
def test_settings_are_validated_before_any_request(sandbox, overrides, named):
    with pytest.raises(ConfigValidationError) as info:
        TapClaudeEnterprise(config=tap_config(sandbox, **overrides))
    assert named in str(info.value)
    assert sandbox.requests_for() == []


def test_defaults_depend_on_the_key_kind(sandbox):
    enterprise = tap_config(sandbox)
    console = tap_config(sandbox, api_key=SANDBOX_ADMIN_KEY)
    assert resolve_group_by(enterprise, cost=False) == ["actor", "actor_type", "model", "product"]
    assert resolve_group_by(console, cost=True) == ["api_key_id", "model", "workspace_id"]
    assert resolve_group_by(
        tap_config(sandbox, cost_stream_group_by=["token_type"]), cost=True
    ) == [
        "cost_type",
        "token_type",
    ]


def test_filters_are_sent(make_sandbox):
    sandbox = make_sandbox(members=6)
    workspace = sandbox.org.workspaces()[0]
    config = usage_cost_config(
        sandbox,
        days=3,
        usage_cost_workspace_ids=[workspace],
        usage_stream_group_by=["workspace_id"],
    )
    run = run_tap(config, select={"usage"})
    assert {r["workspace_id"] for r in run.records["usage"]} == {workspace}
    assert all(e["params"]["workspace_ids[]"] == [workspace] for e in sandbox.requests_for("usage"))


# --- Admin keys ----------------------------------------------------------------------


def test_admin_key_reads_usage_and_cost_and_skips_the_rest(make_sandbox):
    sandbox = make_sandbox(members=10)
    config = usage_cost_config(sandbox, days=40, api_key=SANDBOX_ADMIN_KEY)
    run = run_tap(config)
    assert run.error is None
    assert set(run.records) == STREAMS
    for name in LEGACY:
        assert run.log.count(f"Skipping {name}: an Admin key cannot read") == 1
    # Issue 17: an Admin key in api_key is also tried on the Spend Limits API, judged by
    # the answer; this sandbox key lacks read:spend_limits, so one request is refused.
    spend = [e for e in sandbox.requests_for() if e["endpoint"].startswith("spend_limit")]
    assert [e["status"] for e in spend] == [403]
    assert {e["endpoint"] for e in sandbox.requests_for()} - {spend[0]["endpoint"]} == STREAMS
    start, end = span(config)
    amount = sum(r["amount"] for r in run.records["cost"])
    assert amount == Decimal(expected_total(sandbox, start=start, end=end)).scaleb(-6)


def test_missing_scope_on_an_older_endpoint_skips_that_stream(make_sandbox):
    """A key of an unknown kind that the older endpoints refuse for its scope."""
    other = "sk-ant-oat01-sandbox"  # not recognisably an Admin key
    sandbox = make_sandbox(members=5, usage_cost=UsageCostSettings(admin_key=other))
    config = usage_cost_config(sandbox, days=3, api_key=other)
    run = run_tap(config, select={"summaries", "cost_report", "cost"})
    assert run.error is None
    assert run.records["cost"]
    assert not run.records["cost_report"]
    # One line when skipped, one in the run summary.
    assert run.log.count("cost_report: skipped: /cost_report answered 403") == 2
    assert run.log.count("summaries: skipped: /summaries answered 403") == 2


def test_connection_test_with_an_admin_key_names_the_readable_streams(sandbox, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(tap_config(sandbox, api_key=SANDBOX_ADMIN_KEY)))
    result = run_cli(["--config", str(path), "--test"])
    assert result.returncode == 0, result.stderr
    assert "can read the usage and cost streams" in result.stderr
    assert "summaries" in result.stderr
    assert [e["endpoint"] for e in sandbox.requests_for()] == ["usage"]
    assert SANDBOX_ADMIN_KEY not in result.stderr + result.stdout


def test_admin_key_sync_from_the_command_line_exits_zero(make_sandbox, tmp_path):
    sandbox = make_sandbox(members=6)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(usage_cost_config(sandbox, days=3, api_key=SANDBOX_ADMIN_KEY)))
    result = run_cli(["--config", str(path)])
    assert result.returncode == 0, result.stderr[-2000:]
    streams = {
        json.loads(line)["stream"] for line in result.stdout.splitlines() if '"RECORD"' in line
    }
    assert streams == STREAMS
    assert "Skipping user_cost_report" in result.stderr


@pytest.mark.parametrize(
    ("message", "span_days", "page_size"),
    [
        ("limit must be between 1 and 500", 31, 500),
        ("limit is too large", 31, 500),
        ("the date range exceeds the limit of 14 days", 14, 1000),
        ("the date range is too long for this time_bucket_width", 15, 1000),
        ("actor_ids[] may have at most 100 items", 31, 1000),
    ],
)
def test_what_a_400_teaches(message, span_days, page_size):
    limits = RequestLimits(
        page_size=1000,
        span=dt.timedelta(days=31),
        bucket=dt.timedelta(days=1),
        stream="usage",
        logger=logging.getLogger("test"),
    )
    learned = limits.learn(message, 1000, dt.timedelta(days=31))
    assert (limits.span, limits.page_size) == (dt.timedelta(days=span_days), page_size)
    assert learned == ((span_days, page_size) != (31, 1000))

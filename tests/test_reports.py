"""Usage and cost streams: every row once, money exact, revisions picked up."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_claude_enterprise.sandbox.data import format_micro
from tap_claude_enterprise.sandbox.server import SandboxServer
from tap_claude_enterprise.sync.windows import revision_start
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import run_tap, tap_config

REPORTS = {
    # stream: (kind, per_user)
    "usage_report": ("usage", False),
    "cost_report": ("cost", False),
    "user_usage_report": ("usage", True),
    "user_cost_report": ("cost", True),
}
DIMENSIONS = ("product", "model", "context_window", "inference_geo", "speed")


def utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def refreshed_at(records: list[dict]) -> dt.datetime:
    """The watermark the sandbox answered with (one per run, minute precision)."""
    values = {r["data_refreshed_at"] for r in records}
    assert len(values) == 1
    return dt.datetime.fromisoformat(values.pop().replace("Z", "+00:00"))


def expected_rows(
    sandbox: SandboxServer,
    stream: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    refreshed: dt.datetime,
    group_by: tuple[str, ...],
) -> dict[tuple, dict]:
    """The sandbox's own aggregation, keyed the way the tap keys records."""
    kind, per_user = REPORTS[stream]
    totals = sandbox.org.report_rows(
        kind=kind,
        per_user=per_user,
        start=start,
        end=min(end, refreshed),
        width="1d",
        group_by=group_by,
        refreshed_day=refreshed.date(),
    )
    grouped = [d for d in DIMENSIONS if d in group_by]
    fan_out = kind == "cost" and ("cost_type" in group_by or "token_type" in group_by)
    out = {}
    for (bucket, user, values), acc in totals.items():
        key: tuple = (bucket.strftime("%Y-%m-%dT%H:%M:%SZ"),)
        if per_user:
            key += (sandbox.org.members[user].user_id,)
        dims = dict(zip(grouped, values, strict=False))
        if fan_out:
            dims["cost_type"], token_type = values[len(grouped) :]
            if "token_type" in group_by:
                dims["token_type"] = token_type
        key += tuple("" if v is None else v for v in dims.values())
        out[key] = acc
    return out


def record_key(record: dict, stream: str, group_by: tuple[str, ...]) -> tuple:
    key: tuple = (record["starting_at"],)
    if REPORTS[stream][1]:
        key += (record["user_id"],)
    dims = [d for d in DIMENSIONS if d in group_by]
    if "cost_type" in group_by or "token_type" in group_by:
        dims.append("cost_type")
    if "token_type" in group_by:
        dims.append("token_type")
    return key + tuple(record[d] for d in dims)


def sync_span(config: dict) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) a first run covers with 1d buckets."""
    start = utc_midnight(dt.date.fromisoformat(config["start_date"]))
    end = utc_midnight(dt.datetime.now(tz=dt.timezone.utc).date())
    return start, end


@pytest.fixture
def sixty_days(make_sandbox):
    sandbox = make_sandbox(members=40, precision_job=True)
    config = tap_config(
        sandbox, start_date=(sandbox.latest_day() - dt.timedelta(days=59)).isoformat()
    )
    # The report streams alone: what these tests read (the rerun syncs every stream).
    return sandbox, config, run_tap(config, select=set(REPORTS))


def test_sixty_day_sync_emits_every_report_row_exactly_once(sixty_days):
    sandbox, config, run = sixty_days
    start, end = sync_span(config)
    group_by = ("product", "model")
    for stream in REPORTS:
        records = run.records[stream]
        expected = expected_rows(
            sandbox,
            stream,
            start=start,
            end=end,
            refreshed=refreshed_at(records),
            group_by=group_by,
        )
        keys = [record_key(r, stream, group_by) for r in records]
        assert len(keys) == len(set(keys)), stream
        assert set(keys) == set(expected), stream
    # Two 31-day windows per report, the largest pages, every bucket in one page.
    windows = sandbox.requests_for("cost_report")
    assert len(windows) == 2
    assert all(e["params"]["limit"] == ["31"] for e in windows)
    assert all(e["params"]["bucket_width"] == ["1d"] for e in windows)
    assert all(e["params"]["group_by[]"] == ["product", "model"] for e in windows)
    for entry in sandbox.requests_for("user_cost_report"):
        assert entry["params"]["limit"] == ["1000"]


def test_cost_totals_are_exact_to_the_micro_cent(sixty_days):
    sandbox, config, run = sixty_days
    start, end = sync_span(config)
    for stream in ("cost_report", "user_cost_report"):
        records = run.records[stream]
        expected = expected_rows(
            sandbox, stream, start=start, end=end, refreshed=refreshed_at(records),
            group_by=("product", "model"),
        )  # fmt: skip
        want = sum(Decimal(format_micro(acc["amount"])) for acc in expected.values())
        got = sum(Decimal(str(r["amount"])) for r in records)
        assert got == want, stream
        want_list = sum(Decimal(format_micro(acc["list_amount"])) for acc in expected.values())
        assert sum(Decimal(str(r["list_amount"])) for r in records) == want_list
        for record in records:
            assert Decimal(str(record["amount_usd"])) * 100 == Decimal(str(record["amount"]))
        # The data holds amounts a float cannot carry: a float pipeline would be off.
        assert sum(float(r["amount"]) for r in records) != float(want) or any(
            Decimal(repr(float(str(r["amount"])))) != Decimal(str(r["amount"])) for r in records
        )


def test_amounts_are_written_as_exact_decimal_strings(make_sandbox):
    """Money is a decimal string in plain notation (x-singer.decimal), never a float."""
    sandbox = make_sandbox(precision_job=True)
    config = tap_config(sandbox)
    run = run_tap(config, select={"user_cost_report"})
    records = run.records["user_cost_report"]
    whale = [r for r in records if Decimal(str(r["amount"])) > 10**9]
    assert whale, "the sandbox's month-end job is in range"
    raw = [m for m in run.messages if m["type"] == "RECORD" and m["stream"] == "user_cost_report"]
    assert raw
    # json.loads in helpers parsed numbers as floats; read the raw line instead.
    line = next(
        line
        for line in _raw_lines(config)
        if '"stream":"user_cost_report"' in line and str(whale[0]["user_id"]) in line
    )
    amount_text = line.split('"amount":', 1)[1].split(",", 1)[0]
    assert amount_text.startswith('"')
    assert amount_text.endswith('"')
    amount = amount_text.strip('"')
    assert "E" not in amount.upper()
    assert Decimal(amount) == Decimal(format_micro(_micro_of(amount)))
    usd = line.split('"amount_usd":', 1)[1].split(",", 1)[0].strip('"')
    assert Decimal(usd) == Decimal(amount).scaleb(-2)


def _micro_of(text: str) -> int:
    return int((Decimal(text) * 1_000_000).to_integral_exact())


def _raw_lines(config: dict) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tap_claude_enterprise", "--config", _write(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return result.stdout.splitlines()


def _write(config: dict) -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    json.dump(config, handle)
    handle.close()
    return handle.name


def unattributed_per_day(sandbox, refreshed: dt.datetime, field: str) -> dict[str, Decimal]:
    """Usage of API keys and service accounts: in org-wide reports, never per user."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    start = utc_midnight(dt.date(2026, 1, 1))
    for fact in sandbox.org.facts_between(start, refreshed, org_wide=True):
        if fact.actor_id is None:
            continue
        day = utc_midnight(fact.day).strftime("%Y-%m-%dT%H:%M:%SZ")
        if field in ("amount", "list_amount"):
            atoms = fact.cost_atoms(sandbox.org.cost_bump(fact.day, refreshed.date()))
            micro = sum(a[2] if field == "amount" else a[3] for a in atoms)
            out[day] += Decimal(micro).scaleb(-6)
        else:
            out[day] += fact.tokens[0 if field == "uncached_input_tokens" else 1]
    return out


def test_per_user_totals_equal_over_time_totals_per_day(sixty_days):
    """Per day, the per-user reports plus unattributed usage total the org-wide reports."""
    sandbox, _, run = sixty_days
    for per_user, over_time, fields in (
        ("user_cost_report", "cost_report", ("amount", "list_amount")),
        ("user_usage_report", "usage_report", ("output_tokens", "uncached_input_tokens")),
    ):
        extra = {
            f: unattributed_per_day(sandbox, refreshed_at(run.records[over_time]), f)
            for f in fields
        }
        for field in fields:
            by_user: dict[str, Decimal] = defaultdict(Decimal)
            by_time: dict[str, Decimal] = defaultdict(Decimal)
            for r in run.records[per_user]:
                by_user[r["starting_at"]] += Decimal(str(r[field]))
            for r in run.records[over_time]:
                by_time[r["starting_at"]] += Decimal(str(r[field]))
            for day in by_time:
                by_user[day] += extra[field].get(day, 0)
            assert by_user == by_time, (per_user, field)
            assert len(by_time) >= 55


def test_rerun_rereads_the_lookback_and_picks_up_revised_values(sixty_days):
    sandbox, config, first = sixty_days
    bookmark = first.bookmark("cost_report")
    assert bookmark is not None
    refreshed = refreshed_at(first.records["cost_report"])
    # The bookmark never passes the watermark.
    assert bookmark <= refreshed.strftime("%Y-%m-%dT%H:%M:%SZ")
    sandbox.reset()
    sandbox.revise()

    second = run_tap(config, state=first.final_state)

    bookmark_at = dt.datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
    # From the 1st of the earliest month not yet closed (test_windows pins the rule).
    expected_start = revision_start(bookmark_at, dt.datetime.now(tz=dt.timezone.utc))
    for stream in REPORTS:
        starts = sorted(
            e["params"]["starting_at"][0] for e in sandbox.requests_for(stream.split(":")[0])
        )
        assert starts[0] == expected_start.strftime("%Y-%m-%dT%H:%M:%SZ"), stream
        assert min(r["starting_at"] for r in second.records[stream]) >= starts[0]

    end = utc_midnight(dt.datetime.now(tz=dt.timezone.utc).date())
    for stream in ("cost_report", "user_cost_report"):
        records = second.records[stream]
        expected = expected_rows(
            sandbox, stream, start=expected_start, end=end,
            refreshed=refreshed_at(records), group_by=("product", "model"),
        )  # fmt: skip
        got = {record_key(r, stream, ("product", "model")): r for r in records}
        assert set(got) == set(expected)
        for key, acc in expected.items():
            assert Decimal(str(got[key]["amount"])) == Decimal(format_micro(acc["amount"]))
        before = {record_key(r, stream, ("product", "model")): r for r in first.records[stream]}
        changed = [k for k in got if k in before and got[k]["amount"] != before[k]["amount"]]
        assert changed, f"{stream}: the revised amounts arrived"


@pytest.mark.parametrize(
    "group_by",
    # Few enough groups per day to stay under the API's top-100 cap per bucket.
    [("product", "model", "cost_type"), ("model", "token_type"), ("cost_type", "token_type")],
)
def test_grouping_by_cost_type_and_token_type(sandbox, group_by):
    config = tap_config(sandbox, cost_group_by=list(group_by))
    run = run_tap(config, select={"cost_report", "user_cost_report"})
    start, end = sync_span(config)
    full = tuple(group_by)
    for stream in ("cost_report", "user_cost_report"):
        records = run.records[stream]
        expected = expected_rows(
            sandbox, stream, start=start, end=end, refreshed=refreshed_at(records), group_by=full
        )
        keys = [record_key(r, stream, full) for r in records]
        assert Counter(keys) == Counter(set(expected)), stream
        assert {r["cost_type"] for r in records} == {"tokens", "web_search", "code_execution"}
        if "token_type" in group_by:
            token_types = {r["token_type"] for r in records if r["cost_type"] == "tokens"}
            assert len(token_types) == 5
            assert {r["token_type"] for r in records if r["cost_type"] != "tokens"} == {""}
        assert all(r["requests"] is None for r in records)
        want = sum(Decimal(format_micro(a["amount"])) for a in expected.values())
        assert sum(Decimal(str(r["amount"])) for r in records) == want
    tap = TapClaudeEnterprise(config=config)
    keys = tap.streams["user_cost_report"].primary_keys
    assert "cost_type" in keys
    assert ("token_type" in keys) == ("token_type" in group_by)


def test_null_dimensions_become_empty_key_values(sandbox):
    run = run_tap(tap_config(sandbox), select={"cost_report"})
    records = run.records["cost_report"]
    unattributed = [r for r in records if r["product"] == "" and r["model"] == ""]
    assert unattributed, "code-execution spend has no product and no model"
    assert all(r["context_window"] is None for r in records)  # not grouped: left as is


@pytest.mark.parametrize(
    ("setting", "value", "allowed"),
    [
        ("cost_group_by", ["actor"], "cost_type, token_type"),
        ("usage_group_by", ["token_type"], "claude_tag_user_id."),
    ],
)
def test_invalid_grouping_is_refused_before_any_request(sandbox, setting, value, allowed):
    config = tap_config(sandbox, **{setting: value})
    with pytest.raises(ConfigValidationError) as caught:
        TapClaudeEnterprise(config=config)
    message = " ".join(caught.value.errors)
    assert setting in message
    assert allowed in message
    result = subprocess.run(
        [sys.executable, "-m", "tap_claude_enterprise", "--config", _write(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert setting in result.stderr
    assert sandbox.requests_for() == []

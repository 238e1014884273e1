"""Many organizations, one warehouse: the meltano.yml recipe, end to end.

Two sandbox organizations (different seeds, members and keys) stand for two customers.
`meltano run claude-enterprise-all-orgs` (the job meltano.yml schedules daily) runs the
two inheriting extractors, ``tap-claude-enterprise--acme`` and ``--globex``, into one
PostgreSQL schema. Each extractor has its own key (``TAP_CLAUDE_ENTERPRISE__ACME_API_KEY``,
each sandbox accepts only its own), its own state and its own process (so its own rate
limiter); every row of every table carries its ``organization_label``, which leads every
primary key, so the organizations' rows never meet on an upsert. A second run adds no row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_claude_enterprise.sandbox.data import OrgConfig, SyntheticOrg
from tap_claude_enterprise.sandbox.server import SandboxServer
from tap_claude_enterprise.sandbox.settings import SANDBOX_LIMITS_KEY
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import FAST_RATE, pin_watermark, run_tap, small_config
from tests.postgres import PostgresServer
from tests.test_e2e_meltano import (  # noqa: F401 - the e2e module's session fixtures
    PRIMARY_KEYS,
    Meltano,
    admin,
    assert_same_rows,
    clean_env,
    expected_keys,
    meltano,
    pg_primary_key,
    pg_rows,
    postgres,
    sandbox_clock,
    settled_period,
)

ORGS = {  # label -> (seed, members): two different synthetic organizations
    "acme": (41, 9),
    "globex": (42, 13),
}
JOB = "claude-enterprise-all-orgs"
SCHEMA = "many_orgs"
DAYS = 5


def org_key(label: str) -> str:
    """Each organization's own (fake) Analytics key; its sandbox accepts no other."""
    return f"sk-ant-api01-{label}-" + "x" * 24


@pytest.mark.e2e
def test_two_organizations_land_in_one_postgres_attributed_and_without_duplicates(
    meltano: Meltano,  # noqa: F811
    postgres: PostgresServer,  # noqa: F811
    make_sandbox: Callable[..., SandboxServer],
    tmp_path: Path,
) -> None:
    sandboxes = {
        label: make_sandbox(members=members, seed=seed, api_key=org_key(label))
        for label, (seed, members) in ORGS.items()
    }
    latest, _ = sandbox_clock(next(iter(sandboxes.values())))
    last = latest - dt.timedelta(days=1)
    first = last - dt.timedelta(days=DAYS - 1)
    env = clean_env(
        tmp_path,
        **postgres.target_env(),
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=SCHEMA,
        # Shared by every organization (the parent's variables)...
        TAP_CLAUDE_ENTERPRISE_START_DATE=first.isoformat(),
        TAP_CLAUDE_ENTERPRISE_END_DATE=last.isoformat(),
        TAP_CLAUDE_ENTERPRISE_MAX_REQUESTS_PER_MINUTE=str(FAST_RATE),
    )
    for label, sandbox in sandboxes.items():  # ...and each organization's own.
        prefix = f"TAP_CLAUDE_ENTERPRISE__{label.upper()}_"
        env[prefix + "API_URL"] = sandbox.url
        env[prefix + "API_KEY"] = org_key(label)

    meltano.run("run", JOB, env=env, log=tmp_path / "run1.log")
    if sandbox_clock(next(iter(sandboxes.values())))[0] != latest:
        pytest.skip("the sandbox's day rolled over during the test; expectations moved")

    # Every table: the key leads with organization_label, and each organization's rows
    # are exactly its own sandbox's.
    truth = {
        label: expected_keys(
            sandbox,
            SyntheticOrg(OrgConfig(seed=ORGS[label][0], members=ORGS[label][1])),
            settled_period(sandbox, first, last),
        )
        for label, sandbox in sandboxes.items()
    }
    for table, key in PRIMARY_KEYS.items():
        assert pg_primary_key(postgres, SCHEMA, table) == ("organization_label", *key), table
        columns = ", ".join(f'"{c}"' for c in ("organization_label", *key))
        stored = pg_rows(postgres, f'SELECT {columns} FROM "{SCHEMA}"."{table}"')
        assert {row[0] for row in stored} == set(ORGS), f"{table}: a row without its organization"
        for label in ORGS:
            mine = [row[1:] for row in stored if row[0] == label]
            if table in truth[label]:
                assert_same_rows(f"{table} ({label})", mine, truth[label][table])
            else:  # the spend limits: tests/test_spend_limits.py checks their rows
                assert mine, f"{table} ({label})"

    # The API's own organization id in the report rows agrees with the label everywhere.
    for table in ("cost_report", "usage_report", "user_cost_report", "user_usage_report"):
        pairs = set(
            pg_rows(
                postgres,
                f'SELECT DISTINCT organization_label, organization_id FROM "{SCHEMA}"."{table}"',
            )
        )
        assert pairs == {(label, s.org.organization_id) for label, s in sandboxes.items()}, table
    # Each key reached only its own organization.
    for sandbox in sandboxes.values():
        assert sandbox.requests_for("summaries")
        assert all(r["status"] == 200 for r in sandbox.requests_for())

    counts = _counts(postgres)
    for sandbox in sandboxes.values():
        admin(sandbox, "reset", method="POST")  # a fresh request log for the second run

    # The scheduled job again: upserts, no duplicates, and each organization resumed from
    # its own state (only its engagement lookback days were read again).
    meltano.run("run", JOB, env=env, log=tmp_path / "run2.log")
    assert _counts(postgres) == counts
    for table, key in PRIMARY_KEYS.items():
        columns = ", ".join(f'"{c}"' for c in ("organization_label", *key))
        ((duplicates,),) = pg_rows(
            postgres,
            f'SELECT count(*) FROM (SELECT {columns} FROM "{SCHEMA}"."{table}" '
            f"GROUP BY {columns} HAVING count(*) > 1) d",
        )
        assert duplicates == 0, table
    for sandbox in sandboxes.values():
        reread = sorted({r["params"]["date"][0] for r in sandbox.requests_for("users")})
        assert reread == [(last - dt.timedelta(days=n)).isoformat() for n in (2, 1, 0)]


def _counts(pg: PostgresServer) -> dict[tuple[str, str], int]:
    """Rows per (table, organization)."""
    counts = {}
    for table in PRIMARY_KEYS:
        for label, n in pg_rows(
            pg, f'SELECT organization_label, count(*) FROM "{SCHEMA}"."{table}" GROUP BY 1'
        ):
            counts[(table, label)] = n
    return counts


# --- the organization column, in process --------------------------------------------


def test_organization_label_is_in_every_record_schema_and_key(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = make_sandbox(members=6, seed=5)
    pin_watermark(sandbox)  # both runs see the same report rows
    keys = {"admin_api_key": SANDBOX_LIMITS_KEY}  # the spend-limit streams too
    labelled = run_tap(small_config(sandbox, days_back=1, organization_label="acme", **keys))
    plain = run_tap(small_config(sandbox, days_back=1, **keys))
    schemas = {m["stream"]: m for m in labelled.messages if m["type"] == "SCHEMA"}
    assert set(labelled.records) == set(PRIMARY_KEYS)
    for stream, records in labelled.records.items():
        assert records, stream
        assert all(r["organization_label"] == "acme" for r in records), stream
        assert schemas[stream]["key_properties"] == ["organization_label", *PRIMARY_KEYS[stream]]
        assert schemas[stream]["schema"]["properties"]["organization_label"]["type"] == ["string"]
        # Otherwise the records are the API's, exactly as without the setting.
        assert [{k: v for k, v in r.items() if k != "organization_label"} for r in records] == [
            {k: v for k, v in r.items() if k != "_sdc_extracted_at"}
            for r in plain.records[stream]
        ], stream
    for message in plain.messages:
        if message["type"] == "SCHEMA":
            assert "organization_label" not in message["schema"]["properties"]
            assert message["key_properties"] == list(PRIMARY_KEYS[message["stream"]])


@pytest.mark.parametrize("label", ["", "  ", " acme", "x" * 201])
def test_a_blank_or_odd_label_is_refused(label: str) -> None:
    with pytest.raises(ConfigValidationError) as refused:
        TapClaudeEnterprise(config={"api_key": "sk-ant-api01-test", "organization_label": label})
    errors = refused.value.errors
    assert any("organization_label must" in e for e in errors)
    assert all(label.strip() not in e for e in errors if label.strip())

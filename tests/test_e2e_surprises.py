"""End to end: `meltano run tap-claude-enterprise target-postgres` against an API full of
surprises (``sandbox/surprises.py``), with meltano.yml's own flattening settings.

The run must exit 0, skip only the endpoint the organization lacks, land unknown
fields in the ``_extra_fields`` column, and load counts sent as ``12.0`` as integers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_claude_enterprise.sandbox import Fault
from tap_claude_enterprise.sandbox.server import SandboxServer
from tests.postgres import PostgresServer
from tests.test_e2e_meltano import (  # the session fixtures, and the helpers they use
    MEMBERS,
    SEED,
    Meltano,
    expected_keys,
    meltano,  # noqa: F401 - a fixture
    meltano_period_env,
    pg_rows,
    postgres,  # noqa: F401 - a fixture
    sandbox_clock,
    settled_period,
    synthetic_org,
)


@pytest.mark.e2e
def test_meltano_run_into_postgres_with_api_surprises(
    meltano: Meltano,  # noqa: F811 - the fixture
    postgres: PostgresServer,  # noqa: F811 - the fixture
    make_sandbox: Callable[..., SandboxServer],
    tmp_path: Path,
) -> None:
    sandbox = make_sandbox(members=MEMBERS, seed=SEED)
    latest, _ = sandbox_clock(sandbox)
    period = settled_period(sandbox, latest - dt.timedelta(days=9), latest)
    lag = 3
    sandbox.add_faults(
        Fault("unknown_fields", endpoint="skills", times=-1),
        Fault("unknown_fields", endpoint="user_usage_report", times=-1),
        Fault("integral_floats", endpoint="users", times=-1),
        Fault("integral_floats", endpoint="usage_report", times=-1),
        Fault("null_metrics", endpoint="connectors", times=-1),
        Fault("missing_endpoint", endpoint="plugins", status=403, times=-1),
        Fault("lag", endpoint="artifacts", days=lag, times=-1),
    )
    schema = "e2e_surprises"
    env = meltano_period_env(
        sandbox,
        period,
        tmp_path,
        **postgres.target_env(),
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
    )

    output = meltano.run(
        "--environment=dev",
        "run",
        "tap-claude-enterprise",
        "target-postgres",
        env=env,
        log=tmp_path / "run.log",
    )

    # The unavailable stream and the new fields are named.
    assert "plugins: skipped: /plugins answered 403" in output
    assert "skills: the API sent fields this tap's schema does not have" in output
    assert "sandbox_new_metric_count" in output
    # Unknown fields landed: a JSON column, one object per row, keyed by path.
    expected = expected_keys(sandbox, synthetic_org(0), period)
    stored = pg_rows(postgres, f'SELECT "_extra_fields" FROM "{schema}".skills')
    assert len(stored) == len(expected["skills"])
    for (raw,) in stored:
        extra = json.loads(raw) if isinstance(raw, str) else raw
        assert extra["sandbox_new_metric_count"] == 7
        assert extra["chat_metrics.sandbox_new_metric_count"] == 7
        assert extra["sandbox_new_block"] == {"nested_new_field": "x"}
    ((with_extras,),) = pg_rows(
        postgres,
        f'SELECT count(*) FROM "{schema}".user_usage_report WHERE "_extra_fields" IS NOT NULL',
    )
    assert with_extras == len(expected["user_usage_report"])
    # Counts sent as 12.0 were loaded as the integers they are.
    messages = {
        (d, u): n
        for d, u, n in pg_rows(
            postgres,
            f'SELECT date, user_id, chat_metrics__message_count FROM "{schema}".user_activity',
        )
    }
    for day in (period.first, period.last):
        for row in synthetic_org(0).user_rows(day, period.latest):
            assert messages[(day, row["user"]["id"])] == row["chat_metrics"]["message_count"]
    ((tokens,),) = pg_rows(postgres, f'SELECT sum(output_tokens) FROM "{schema}".usage_report')
    assert tokens > 0
    # Null metric objects are rows with null metric columns, all of them present.
    ((connectors, nulls),) = pg_rows(
        postgres,
        f"SELECT count(*), count(*) FILTER (WHERE chat_metrics__distinct_conversation_"
        f'connector_used_count IS NULL) FROM "{schema}".connectors',
    )
    assert connectors == nulls == len(expected["connectors"])
    # The stream whose endpoint lags stops at its own last day; the others do not.
    ((artifacts_last,),) = pg_rows(postgres, f'SELECT max(date) FROM "{schema}".artifacts')
    assert artifacts_last == dt.datetime.now(tz=dt.timezone.utc).date() - dt.timedelta(days=lag)
    ((users_last,),) = pg_rows(postgres, f'SELECT max(date) FROM "{schema}".user_activity')
    assert users_last == period.latest
    tables = {
        t for (t,) in pg_rows(
            postgres,
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'",
        )
    }  # fmt: skip
    if "plugins" in tables:
        assert pg_rows(postgres, f'SELECT count(*) FROM "{schema}".plugins') == [(0,)]

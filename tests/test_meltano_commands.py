"""The README's Meltano commands, typed as a user types them, in a fresh copy of the project.

A copy of the files a clone holds (no ``.meltano/``, no ``output/`` content, no git) gets
its own ``meltano install``; then ``meltano config test``, ``meltano select`` and
``meltano config set`` run without ``--environment`` (Meltano ignores
``default_environment`` for those), must succeed, and may only add their own lines to
``meltano.yml``; ``meltano run tap-claude-enterprise duckdb-compat target-duckdb`` writes
``output/claude_enterprise.duckdb`` on the first try.
"""

from __future__ import annotations

import datetime as dt
import difflib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_claude_enterprise.sandbox.server import SandboxServer
from tests.test_e2e_meltano import (  # noqa: F401 - the e2e module's session fixture
    MELTANO,
    RUN_TIMEOUT,
    Meltano,
    clean_env,
    meltano,
)
from tests.test_release import copy_tree


def added_lines(before: str, after: str) -> list[str]:
    """Lines ``after`` adds to ``before``; fails if it removed or changed any."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    removed = [line for line in diff if line.startswith("- ")]
    assert not removed, "meltano rewrote meltano.yml:\n" + "\n".join(removed[:20])
    return [line[2:] for line in diff if line.startswith("+ ")]


@pytest.mark.e2e
def test_readme_meltano_commands_work_on_a_fresh_copy(
    meltano: Meltano,  # noqa: F811 - installs Meltano itself (.meltano/demo-venv)
    make_sandbox: Callable[..., SandboxServer],
    tmp_path: Path,
) -> None:
    project = copy_tree(tmp_path / "clone")
    assert not (project / ".meltano").exists()
    assert not (project / "output" / "claude_enterprise.duckdb").exists()
    sandbox = make_sandbox(members=6, seed=9)
    env = clean_env(tmp_path, TAP_CLAUDE_ENTERPRISE_API_URL=sandbox.url)
    env.pop("MELTANO_DATABASE_URI")  # the copy's own .meltano/, as on a fresh clone

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(MELTANO), *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{output[-5000:]}"
        return output

    run("install")
    # The tap comes from this checkout (uv-overrides.txt), not from the package index.
    site = project / ".meltano" / "extractors" / "tap-claude-enterprise" / "venv" / "lib"
    (direct_url,) = site.glob("python*/site-packages/tap_claude_enterprise-*/direct_url.json")
    assert project.as_uri() in direct_url.read_text()

    assert "Plugin configuration is valid" in run("config", "test", "tap-claude-enterprise")
    # Without a key, prod fails, and Meltano's one line from the tap says why.
    refused = subprocess.run(
        [str(MELTANO), "--environment=prod", "config", "test", "tap-claude-enterprise"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert refused.returncode != 0
    reason = "Config validation failed: 'api_key' is a required property"
    assert reason in refused.stdout + refused.stderr
    assert "Plugin configuration is valid" in run(
        "config", "test", "tap-claude-enterprise--acme"
    )
    assert "summaries.daily_active_user_count" in run("select", "tap-claude-enterprise", "--list")

    yml = project / "meltano.yml"
    before = yml.read_text()
    run("select", "tap-claude-enterprise", "summaries", "*")
    after_select = yml.read_text()
    assert added_lines(before, after_select) == ["    select:", "    - summaries.*"]
    last = sandbox.latest_day() - dt.timedelta(days=1)
    run("config", "set", "tap-claude-enterprise", "end_date", last.isoformat())
    assert added_lines(after_select, yml.read_text()) == [f"      end_date: '{last.isoformat()}'"]

    run("run", "tap-claude-enterprise", "duckdb-compat", "target-duckdb")
    import duckdb

    db = project / "output" / "claude_enterprise.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        # File and schema share the name: qualify fully.
        sql = "SELECT count(*) FROM claude_enterprise.claude_enterprise.summaries"
        (days,) = con.execute(sql).fetchone()
    first = dt.datetime.now(tz=dt.timezone.utc).date() - dt.timedelta(days=30)  # "30 days ago"
    assert days == (last - first).days + 1  # one row a day

    assert "claude-enterprise-daily" in run("schedule", "list")

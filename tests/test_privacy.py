"""E-mail privacy: ``email_handling`` keep / hash / drop over every stream of a full sync.

The syncs run the real ``tap-claude-enterprise`` command against a loopback sandbox and
search everything it printed (records, schemas, state, log) for anything shaped like an
e-mail address, and for each member's address and name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_claude_enterprise.records.privacy import HASH_PREFIX, EmailPolicy, EmailPolicyError
from tap_claude_enterprise.sandbox import SandboxServer
from tests.helpers import messages_of, pin_watermark, run_cli, small_config

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
HASH_KEY = "privacy-test-hash-key-0123456789"
STREAMS_WITH_PEOPLE = ("user_activity", "chat_projects", "user_usage_report", "user_cost_report")


def expected_hash(value: str, key: str = HASH_KEY) -> str:
    """The documented stand-in: HMAC-SHA256 of the trimmed, lower-cased address."""
    digest = hmac.new(key.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest


def sync(sandbox: SandboxServer, tmp_path: Path, **settings: Any) -> tuple[str, str, list[dict]]:
    """A full sync of a week through the CLI: (stdout, stderr, messages)."""
    config = tmp_path / f"config-{len(list(tmp_path.iterdir()))}.json"
    config.write_text(json.dumps(small_config(sandbox, days_back=6, **settings)))
    result = run_cli(["--config", str(config)], timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout, result.stderr, messages_of(result.stdout)


def records(messages: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in messages:
        if m["type"] == "RECORD":
            out.setdefault(m["stream"], []).append(m["record"])
    return out


def people(sandbox: SandboxServer) -> list[tuple[str, str | None, str | None]]:
    """(user_id, e-mail, name) of every member of the sandbox's organization."""
    return [(m.user_id, m.email, m.name) for m in sandbox.org.members]


@pytest.fixture
def org(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    sandbox = make_sandbox(members=12, seed=21)
    pin_watermark(sandbox)
    return sandbox


# --- the rule on single records -----------------------------------------------------


def test_hash_reaches_every_address_and_person_name_and_nothing_else() -> None:
    record = {
        "user_id": "user_1",
        "project_name": "Launch plan",
        "rbac_group_name": "Finance",
        "user": {"id": "user_1", "email_address": "Ada.L@Example.com "},
        "actor": {"type": "user_actor", "name": "Ada Lovelace", "email": "ada.l@example.com"},
        "created_by": {"id": "user_2", "email_address": None},
        "claude_tag_user_id": "grace@example.org",
        "tags": ["ops", "grace@example.org"],
        "nested": [{"contact_email": "x@y.io"}],
    }
    EmailPolicy("hash", HASH_KEY).apply(record)
    # One address, one hash, whichever field and casing it came in.
    assert record["user"]["email_address"] == expected_hash("ada.l@example.com")
    assert record["actor"]["email"] == expected_hash("ada.l@example.com")
    assert record["actor"]["name"] == expected_hash("Ada Lovelace")  # a person's name
    assert record["claude_tag_user_id"] == expected_hash("grace@example.org")  # found by value
    assert record["tags"] == ["ops", expected_hash("grace@example.org")]
    assert record["nested"][0]["contact_email"] == expected_hash("x@y.io")
    # Not personal: untouched.
    assert record["project_name"] == "Launch plan"
    assert record["rbac_group_name"] == "Finance"
    assert record["actor"]["type"] == "user_actor"
    assert record["user_id"] == "user_1"
    assert record["created_by"]["email_address"] is None
    # Another key, other values: nobody without the key can test a guess.
    other = {"email": "ada.l@example.com"}
    EmailPolicy("hash", "another-key-0123456789").apply(other)
    assert other["email"] != expected_hash("ada.l@example.com")


def test_drop_nulls_addresses_but_hashes_one_in_a_key_column() -> None:
    record = {
        "actor": {"name": "Ada", "email_address": "ada@example.com"},
        "claude_tag_user_id": "ada@example.com",
        "user_id": "user_1",
    }
    EmailPolicy("drop", HASH_KEY).apply(record, keys=("claude_tag_user_id",))
    assert record["actor"] == {"name": None, "email_address": None}
    # A null key would merge rows; the key column keeps a stable hash instead.
    assert record["claude_tag_user_id"] == expected_hash("ada@example.com")
    keyless = EmailPolicy("drop")
    with pytest.raises(EmailPolicyError, match="email_hash_key"):
        keyless.apply({"claude_tag_user_id": "ada@example.com"}, keys=("claude_tag_user_id",))


def test_keep_changes_nothing() -> None:
    record = {"actor": {"name": "Ada", "email_address": "ada@example.com"}}
    assert EmailPolicy("keep", HASH_KEY).apply(record) == {
        "actor": {"name": "Ada", "email_address": "ada@example.com"}
    }


# --- full syncs through the CLI -----------------------------------------------------


def test_default_keeps_addresses(org: SandboxServer, tmp_path: Path) -> None:
    """The baseline the other tests are measured against: addresses are there."""
    stdout, _, messages = sync(org, tmp_path)
    assert EMAIL.search(stdout), "the sandbox served no address; the privacy tests prove nothing"
    found = records(messages)
    assert all(found.get(s) for s in STREAMS_WITH_PEOPLE)


def test_hash_leaves_no_address_anywhere_and_is_stable_across_runs(
    org: SandboxServer, tmp_path: Path
) -> None:
    settings = {"email_handling": "hash", "email_hash_key": HASH_KEY}
    stdout, stderr, messages = sync(org, tmp_path, **settings)
    assert not EMAIL.search(stdout), EMAIL.search(stdout)
    assert not EMAIL.search(stderr)
    assert HASH_KEY not in stdout + stderr
    members = people(org)
    for _, email, name in members:
        if email:
            assert email not in stdout
        if name:
            assert f'"{name}"' not in stdout

    # Joins still work: every stream carries each person's one hash.
    by_user = {user_id: expected_hash(email) for user_id, email, _ in members if email}
    found = records(messages)
    for stream in STREAMS_WITH_PEOPLE:
        assert found.get(stream), stream
    for row in found["user_activity"]:
        assert row["user"]["email_address"] == by_user[row["user"]["id"]]
    hashed_actors = 0
    for row in found["user_cost_report"] + found["user_usage_report"]:
        actor = row["actor"]
        if actor.get("email_address") is not None:
            assert actor["email_address"] == by_user[row["user_id"]]
            assert actor["name"].startswith(HASH_PREFIX)
            hashed_actors += 1
    assert hashed_actors
    creators = [r["created_by"] for r in found["chat_projects"] if r.get("created_by")]
    assert creators, "no project creator in the period; the test proves less"
    for creator in creators:
        assert creator["email_address"] == by_user[creator["id"]]

    # Stable across runs: a second sync writes the same records.
    _, _, again = sync(org, tmp_path, **settings)
    assert records(again) == found


@pytest.mark.parametrize("shape", ["latest", "baseline"])
def test_drop_leaves_no_address_anywhere(
    make_sandbox: Callable[..., SandboxServer], tmp_path: Path, shape: str
) -> None:
    """``drop`` under both response shapes (``actor.email_address`` and older ``actor.email``)."""
    sandbox = make_sandbox(members=12, seed=21, shape=shape)
    stdout, stderr, messages = sync(sandbox, tmp_path, email_handling="drop")
    assert not EMAIL.search(stdout + stderr)
    found = records(messages)
    key = "email" if shape == "baseline" else "email_address"
    assert all(key in row["actor"] for row in found["user_cost_report"]), "shape not served"
    for row in found["user_activity"]:
        assert row["user"]["email_address"] is None
        assert row["user"]["id"]  # the user id stays: rows stay distinct and joinable
    for row in found["user_cost_report"]:
        assert all(row["actor"].get(k) is None for k in ("email", "email_address", "name"))


def test_hash_without_a_key_is_refused_in_one_line(org: SandboxServer, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(org, email_handling="hash")))
    result = run_cli(["--config", str(config)])
    assert result.returncode != 0
    assert "email_handling: hash needs email_hash_key" in result.stderr
    assert not [m for m in messages_of(result.stdout) if m["type"] == "RECORD"]


def test_about_marks_the_hash_key_secret() -> None:
    about = json.loads(run_cli(["--about", "--format=json"]).stdout)
    props = about["settings"]["properties"]
    assert props["email_hash_key"]["secret"] is True
    assert props["email_handling"]["enum"] == ["keep", "hash", "drop"]
    assert props["email_handling"]["default"] == "keep"

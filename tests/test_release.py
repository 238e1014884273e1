"""The release as a user gets it: sdist + wheel built from a tagged clone, installed alone.

A copy of this checkout (the files git would ship, uncommitted edits included) becomes a
fresh repository tagged ``v9.8.7``; ``python -m build`` makes the sdist and the wheel,
``twine check --strict`` must accept both, and the wheel is installed into a new venv
outside the source tree, where ``--about``, ``--discover`` and a sandbox sync run from the
installed console scripts. The version paths are checked too: the tag, an sdist built
again without git (PKG-INFO), and a tree with neither (the fallback version).

Needs the package index for the build backend (hatchling, hatch-vcs) and the tap's
dependencies; the ``test`` extra installs ``build`` and ``twine``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from tap_claude_enterprise.endpoints import names
from tap_claude_enterprise.sandbox import SANDBOX_API_KEY
from tap_claude_enterprise.sandbox.settings import SANDBOX_LIMITS_KEY
from tests.helpers import FAST_RATE

pytestmark = pytest.mark.e2e  # builds packages, installs a wheel into a new venv

ROOT = Path(__file__).resolve().parents[1]
TAG_VERSION = "9.8.7"
STREAMS = set(names())
TIMEOUT = 900


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output when it fails."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{(result.stdout + result.stderr)[-5000:]}"
    return result.stdout


def shipped_files() -> list[str]:
    """What a clone of this checkout holds: tracked and new files, minus git-ignored ones."""
    out = run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT)
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def copy_tree(dest: Path) -> Path:
    """This checkout's shipped files under ``dest``."""
    for name in shipped_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest


def build(source: Path, out: Path, *what: str) -> list[Path]:
    """``python -m build`` (isolated: the backend comes from the package index)."""
    run(sys.executable, "-m", "build", *what, "--outdir", out, source, cwd=source)
    return sorted(out.iterdir())


@pytest.fixture(scope="module")
def tagged_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh repository of this checkout's files, tagged ``v9.8.7``."""
    repo = copy_tree(tmp_path_factory.mktemp("clone"))
    git = ("git", "-c", "user.name=release-test", "-c", "user.email=release@test.invalid")
    run(*git, "init", "-q", cwd=repo)
    run(*git, "add", "-A", cwd=repo)
    run(*git, "commit", "-q", "--no-verify", "-m", "release", cwd=repo)
    run(*git, "tag", f"v{TAG_VERSION}", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def dist(tagged_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The sdist and the wheel of the tagged clone."""
    return build(tagged_clone, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def installed(dist: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv (no source tree, no test packages) with only the wheel installed."""
    (wheel,) = [p for p in dist if p.suffix == ".whl"]
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", venv, cwd=venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
        wheel, cwd=venv)  # fmt: skip
    return venv / "bin"


def test_build_makes_an_sdist_and_a_wheel_twine_accepts(dist: list[Path]) -> None:
    names = [p.name for p in dist]
    assert names == [
        f"tap_claude_enterprise-{TAG_VERSION}-py3-none-any.whl",
        f"tap_claude_enterprise-{TAG_VERSION}.tar.gz",
    ]
    out = run(sys.executable, "-m", "twine", "check", "--strict", *dist, cwd=dist[0].parent)
    assert out.count("PASSED") == 2, out
    # The sdist holds what the wheel is built from, and the README PyPI renders.
    with tarfile.open(dist[1]) as sdist:
        members = {m.split("/", 1)[1] for m in sdist.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "PKG-INFO"} <= members
    assert {f"tap_claude_enterprise/schemas/{s}.json" for s in STREAMS} <= members


def test_the_sdist_builds_the_same_version_without_git(
    dist: list[Path], tmp_path: Path
) -> None:
    """pip building from the sdist (no .git) takes the version from PKG-INFO."""
    with tarfile.open(dist[1]) as sdist:
        sdist.extractall(tmp_path, filter="data")
    (source,) = tmp_path.iterdir()
    assert not (source / ".git").exists()
    wheels = build(source, tmp_path / "out", "--wheel")
    assert [w.name for w in wheels] == [f"tap_claude_enterprise-{TAG_VERSION}-py3-none-any.whl"]


def test_a_tree_without_git_or_pkg_info_builds_the_fallback_version(tmp_path: Path) -> None:
    """A "Download ZIP" of the repository: no tag to read, the fallback version."""
    source = copy_tree(tmp_path / "zip")
    wheels = build(source, tmp_path / "out", "--wheel")
    assert [w.name for w in wheels] == ["tap_claude_enterprise-0.0.0-py3-none-any.whl"]


def test_the_installed_wheel_runs_about_discover_and_a_sandbox_sync(
    installed: Path, tmp_path: Path
) -> None:
    """Everything from the wheel alone: console scripts, schemas, the sandbox."""
    env = {"PATH": f"{installed}:/usr/bin:/bin", "HOME": str(tmp_path)}
    # Nothing may come from the source tree.
    code = "import tap_claude_enterprise as t; print(t.__file__)"
    where = run(installed / "python", "-c", code, cwd=tmp_path, env=env)
    assert str(installed.parent) in where
    assert str(ROOT) not in where

    about = json.loads(run(installed / "tap-claude-enterprise", "--about", "--format=json",
                           cwd=tmp_path, env=env))  # fmt: skip
    assert about["name"] == "tap-claude-enterprise"
    assert about["version"] == TAG_VERSION
    assert "api_key" in about["settings"]["properties"]

    catalog = json.loads(run(installed / "tap-claude-enterprise", "--discover",
                             cwd=tmp_path, env=env))  # fmt: skip
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == STREAMS
    assert "email_address" in json.dumps(streams["user_activity"]["schema"])

    sandbox = subprocess.Popen(
        [installed / "tap-claude-enterprise-sandbox", "--port", "0", "--members", "6"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        info = json.loads(sandbox.stdout.readline())
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "api_key": SANDBOX_API_KEY,
            "admin_api_key": SANDBOX_LIMITS_KEY,  # the spend-limit streams too
            "api_url": info["url"],
            "start_date": info["latest_day"],
            "max_requests_per_minute": FAST_RATE,
        }))  # fmt: skip
        out = run(installed / "tap-claude-enterprise", "--config", config, cwd=tmp_path, env=env)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    messages = [json.loads(line) for line in out.splitlines()]
    records = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    assert set(records) == STREAMS, records
    assert records["summaries"] == 1
    assert records["user_activity"] >= 1
    assert messages[-1]["type"] == "STATE"

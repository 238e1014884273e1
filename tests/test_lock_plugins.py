"""meltano.yml and its lock files: the tap's lock file is its Hub definition, every plugin
that names a variant has one, and the duckdb-compat stream patterns each hit one stream set.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_claude_enterprise.endpoints import names
from tests.test_e2e_meltano import MELTANO, Meltano, clean_env, meltano  # noqa: F401 - session fixture

ROOT = Path(__file__).resolve().parents[1]


def load_script() -> Any:
    """scripts/lock_plugins.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "lock_plugins", ROOT / "scripts" / "lock_plugins.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock_plugins = load_script()
PROJECT = yaml.safe_load((ROOT / "meltano.yml").read_text())


def hub() -> dict[str, Any]:
    """The tap's Hub definition."""
    return yaml.safe_load(lock_plugins.HUB_FILE.read_text())


def test_the_tap_lock_file_is_its_hub_definition() -> None:
    assert lock_plugins.main(["--check"]) == 0, "run python scripts/lock_plugins.py"
    locked = json.loads(lock_plugins.lock_path(hub()).read_text())
    definition = hub()
    assert [s["name"] for s in locked["settings"]] == [s["name"] for s in definition["settings"]]
    assert locked["capabilities"] == definition["capabilities"]
    # Meltano's form of a Hub secret; the rest of a setting as the Hub says.
    (api_key,) = (s for s in locked["settings"] if s["name"] == "api_key")
    assert (api_key["kind"], api_key["sensitive"]) == ("string", True)


def test_the_check_notices_a_changed_hub_definition() -> None:
    changed = copy.deepcopy(hub())
    changed["settings"][0]["description"] += " Changed."
    assert lock_plugins.lock_text(changed) != lock_plugins.lock_text(hub())
    changed = copy.deepcopy(hub())
    changed["settings"].pop()
    assert lock_plugins.lock_text(changed) != lock_plugins.lock_text(hub())


def test_every_plugin_is_locked_and_defined_only_there() -> None:
    """meltano.yml names plugins and sets values; definitions live in plugins/*/*.lock."""
    locked = set()
    for plugin_type, plugins in PROJECT["plugins"].items():
        for plugin in plugins:
            assert not {"namespace", "settings", "capabilities", "commands"} & plugin.keys()
            if "inherit_from" in plugin:
                continue
            path = ROOT / "plugins" / plugin_type / f"{plugin['name']}--{plugin['variant']}.lock"
            definition = json.loads(path.read_text())
            assert (definition["plugin_type"], definition["name"]) == (plugin_type, plugin["name"])
            assert definition["settings"], path
            locked.add(path)
    assert locked == set((ROOT / "plugins").glob("*/*.lock")), "a lock file without a plugin"


def test_duckdb_compat_patterns_hit_each_stream_once() -> None:
    """A stream two keys match would be emitted twice; a key matching nothing is a typo."""
    (mapper,) = PROJECT["plugins"]["mappers"]
    (mapping,) = mapper["mappings"]
    keys = mapping["config"]["stream_maps"]
    hits = {k: [s for s in names() if fnmatch.fnmatchcase(s, k)] for k in keys}
    assert sorted(hits["*usage_report"]) == ["usage_report", "user_usage_report"]
    assert sorted(hits["*cost_report"]) == ["cost_report", "user_cost_report"]
    assert all(hits.values()), hits
    matched = [s for streams in hits.values() for s in streams]
    assert len(matched) == len(set(matched)), hits


@pytest.mark.e2e
def test_meltano_writes_the_same_lock_file(meltano: Meltano) -> None:  # noqa: F811
    """Meltano's own lock writer, given the Hub definition, writes the committed file."""
    code = (
        "import json, sys, yaml\n"
        "from meltano.core.plugin.base import PluginDefinition, PluginType, StandalonePlugin\n"
        "d = yaml.safe_load(open(sys.argv[1]))\n"
        "p = PluginDefinition(**d, plugin_type=PluginType.EXTRACTORS, is_default_variant=True)\n"
        "print(json.dumps(StandalonePlugin.from_variant(p.variants[0], p).canonical(), indent=2))"
    )
    python = MELTANO.parent / "python"
    result = subprocess.run(
        [str(python), "-c", code, str(lock_plugins.HUB_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout == lock_plugins.lock_path(hub()).read_text()


# Loaders whose lock file is written from their own --about (the Hub is not reachable
# here): the lock must define exactly what the installed loader accepts.
ABOUT_LOCKED = ("target-snowflake", "target-bigquery")
ABOUT_KINDS = {"string": "string", "integer": "integer", "boolean": "boolean"}


def about_kind(prop: dict[str, Any]) -> str:
    """The Meltano kind a --about property maps to (first non-null JSON type; enums options)."""
    types = prop.get("type") or [t["type"] for t in prop.get("anyOf", []) if isinstance(t, dict)]
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    if "enum" in prop and types[0] == "string":
        return "options"
    return ABOUT_KINDS.get(types[0], types[0])


@pytest.mark.e2e
@pytest.mark.parametrize("name", ABOUT_LOCKED)
def test_loader_lock_files_match_their_about(meltano: Meltano, name: str, tmp_path: Path) -> None:  # noqa: F811
    """Every setting --about lists is locked with its kind, default and enum; no others."""
    (plugin,) = (p for p in PROJECT["plugins"]["loaders"] if p["name"] == name)
    path = ROOT / "plugins" / "loaders" / f"{name}--{plugin['variant']}.lock"
    locked = json.loads(path.read_text())
    assert locked["pip_url"] == plugin["pip_url"], "meltano.yml and the lock install the same"
    output = meltano.run("invoke", name, "--about", "--format=json", env=clean_env(tmp_path))
    about, _ = json.JSONDecoder().raw_decode(output, output.index("{"))  # stdout comes first
    assert locked["capabilities"] == about["capabilities"]
    props = about["settings"]["properties"]
    settings = {s["name"]: s for s in locked["settings"]}
    assert list(settings) == list(props)
    for key, prop in props.items():
        setting = settings[key]
        assert setting["kind"] == about_kind(prop), key
        if setting["kind"] == "options":
            assert [o["value"] for o in setting["options"]] == prop["enum"], key
        if key != "default_target_schema":  # the Hub's convention: the extractor's schema
            assert setting.get("value") == prop.get("default"), key
        if prop.get("secret"):
            assert setting.get("sensitive") is True, key
    for required in about["settings"].get("required", []):
        assert all(required in group for group in locked["settings_group_validation"])

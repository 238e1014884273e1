"""Write this tap's Meltano lock file from its Hub definition, as ``meltano lock`` would.

``meltano lock`` fetches a plugin's definition from Meltano Hub and stores it in
``plugins/<type>/<name>--<variant>.lock``; meltano.yml then only names the plugin, its
variant and the project's own values. This tap is not on the Hub yet, so its lock file is
written from ``hub/extractors/tap-claude-enterprise/tap-claude-enterprise.yml`` (the
definition submitted there), in the layout Meltano writes (``StandalonePlugin.canonical``:
its key order, empty values left out, ``kind: password`` as ``string`` + ``sensitive``).

    python scripts/lock_plugins.py          # rewrite the lock file
    python scripts/lock_plugins.py --check  # exit 1 if it is out of date

The other lock files (loaders, mapper, dbt) are the Hub definitions the project pins; they
change only with a plugin upgrade (``meltano lock --update`` where the Hub is reachable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
HUB_FILE = ROOT / "hub" / "extractors" / "tap-claude-enterprise" / "tap-claude-enterprise.yml"
PLUGIN_TYPE = "extractors"

# Meltano's order of a locked plugin's known keys; any other key follows, in Hub order.
PLUGIN_KEYS = (
    "plugin_type", "name", "namespace", "variant", "label", "docs", "repo", "pip_url",
    "python", "executable", "description", "logo_url", "capabilities",
    "settings_group_validation", "settings", "commands", "requires", "requires_meltano",
    "env", "supported_python_versions",
)  # fmt: skip
SETTING_KEYS = (
    "name", "aliases", "env", "env_aliases", "kind", "value", "label", "documentation",
    "description", "tooltip", "options", "oauth", "placeholder", "env_specific", "hidden",
    "sensitive",
)  # fmt: skip
EMPTY: tuple[Any, ...] = (None, [], {}, "")


def ordered(item: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """``item``'s non-empty keys: the known ones in Meltano's order, then the rest."""
    keys = [k for k in known if k in item] + [k for k in item if k not in known]
    return {k: item[k] for k in keys if item[k] not in EMPTY}


def locked_setting(setting: dict[str, Any]) -> dict[str, Any]:
    """A Hub setting as Meltano locks it (the Hub's ``password`` is a sensitive string)."""
    if setting.get("kind") == "password":
        setting = {**setting, "kind": "string", "sensitive": True}
    return ordered(setting, SETTING_KEYS)


def lock_definition(hub: dict[str, Any], plugin_type: str = PLUGIN_TYPE) -> dict[str, Any]:
    """The lock file's content for a Hub definition of one variant."""
    plugin = {"plugin_type": plugin_type, **hub}
    plugin["settings"] = [locked_setting(s) for s in hub.get("settings", [])]
    return ordered(plugin, PLUGIN_KEYS)


def lock_path(hub: dict[str, Any], plugin_type: str = PLUGIN_TYPE) -> Path:
    """Where Meltano looks for the lock file (``plugins/<type>/<name>--<variant>.lock``)."""
    return ROOT / "plugins" / plugin_type / f"{hub['name']}--{hub['variant']}.lock"


def lock_text(hub: dict[str, Any]) -> str:
    """The lock file as Meltano writes it: JSON, indent 2, a final newline."""
    return json.dumps(lock_definition(hub), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the tap's lock file, or with ``--check`` say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    hub = yaml.safe_load(HUB_FILE.read_text(encoding="utf-8"))
    path, text = lock_path(hub), lock_text(hub)
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != text:
            print(f"{path.relative_to(ROOT)} is stale: run python scripts/lock_plugins.py")
            return 1
        return 0
    if current != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

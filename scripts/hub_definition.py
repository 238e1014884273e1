"""Rewrite the settings of the Meltano Hub definition from ``tap-claude-enterprise --about``.

The Hub file (hub/extractors/tap-claude-enterprise/tap-claude-enterprise.yml) must say what
the tap says about every setting; tests/test_e2e_meltano.py and tests/test_hub.py check
that. After changing a setting in tap.py, run ``python scripts/hub_definition.py`` and
commit the result. Everything but ``settings`` is kept as it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB_FILE = ROOT / "hub" / "extractors" / "tap-claude-enterprise" / "tap-claude-enterprise.yml"
EXPANDED_OBJECTS = ("batch_config", "faker_config")  # the Hub lists their leaves
# Flat, typed columns in every target (README, "Installing from Meltano Hub").
FLATTENING_DEFAULTS = {
    "flattening_enabled": True,
    "flattening_max_depth": 3,
    "flattening_max_key_length": 64,
}


def about() -> dict[str, Any]:
    """``--about --format=json`` of the installed tap."""
    tap = Path(sys.executable).with_name("tap-claude-enterprise")
    out = subprocess.run(
        [str(tap), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def leaves(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Settings by Meltano name (dotted for the objects the Hub expands)."""
    found: dict[str, dict[str, Any]] = {}
    for name, prop in properties.items():
        if name in EXPANDED_OBJECTS or (prefix and "properties" in prop):
            found.update(leaves(prop["properties"], f"{prefix}{name}."))
        else:
            found[prefix + name] = prop
    return found


def kind(prop: dict[str, Any]) -> str:
    """The Hub's kind for a JSON-schema setting (as the Hub's own tooling derives it)."""
    if prop.get("secret"):
        return "password"
    if "enum" in prop:
        return "options"
    types = prop.get("type") or []
    types = [types] if isinstance(types, str) else types
    if not types:  # oneOf: faker_config.seed / .locale
        variants = [v.get("type") for v in prop.get("oneOf", [])]
        return "array" if "array" in variants else "string"
    if prop.get("format") in {"date", "date-time"}:
        return "date_iso8601"
    # JSON number -> integer: Meltano 4.4 cannot pass a decimal given in an env var.
    for json_type, name in (
        ("boolean", "boolean"),
        ("integer", "integer"),
        ("number", "integer"),
        ("array", "array"),
        ("object", "object"),
    ):
        if json_type in types:
            return name
    return "string"


def setting(name: str, prop: dict[str, Any], labels: dict[Any, str]) -> dict[str, Any]:
    """One Hub setting entry (option labels already in the file are kept)."""
    entry: dict[str, Any] = {"name": name, "kind": kind(prop)}
    for key, value in (("label", prop.get("title")), ("description", prop.get("description"))):
        if value is not None:
            entry[key] = value
    value = FLATTENING_DEFAULTS.get(name, prop.get("default"))
    if value is not None:
        entry["value"] = value
    if prop.get("secret"):
        entry["sensitive"] = True
    if "enum" in prop:
        entry["options"] = [{"label": labels.get(v, str(v)), "value": v} for v in prop["enum"]]
    return entry


class _Dumper(yaml.SafeDumper):
    """Block style (``|``) for text of several lines, as the Hub files write it."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def main() -> int:
    """Rewrite the settings list in place."""
    text = HUB_FILE.read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    definition = yaml.safe_load(text)
    settings = leaves(about()["settings"]["properties"])
    labels = {
        o["value"]: o["label"] for s in definition.get("settings", []) for o in s.get("options", [])
    }
    definition["settings"] = [setting(n, settings[n], labels) for n in sorted(settings)]
    body = yaml.dump(definition, Dumper=_Dumper, sort_keys=True, width=100, allow_unicode=True)
    HUB_FILE.write_text(header + body)
    print(f"{HUB_FILE.relative_to(ROOT)}: {len(settings)} settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())

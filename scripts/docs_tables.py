"""Write the generated tables of the docs: the settings and the streams.

Both come from the code, so the README never disagrees with it:

- settings: the tap's own settings declaration (``TapClaudeEnterprise.config_jsonschema``,
  what ``--about`` shows without the SDK's built-in settings);
- streams: the endpoint table (``tap_claude_enterprise.endpoints.ENDPOINTS``).

Each table sits between marker comments, ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``; only the text between them is rewritten. Also written:
``<!-- generated:stream-count -->N<!-- /generated:stream-count -->``, the number of
streams wherever a page states it.

    python scripts/docs_tables.py           # rewrite the tables in place
    python scripts/docs_tables.py --check   # exit 1 and name the stale files, change nothing

After changing a setting or an endpoint, run it and commit the result
(tests/test_docs.py fails while a table is stale).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere, or imported by the tests
    sys.path.insert(0, str(ROOT))

from tap_claude_enterprise.endpoints import ENDPOINTS, Endpoint  # noqa: E402
from tap_claude_enterprise.tap import TapClaudeEnterprise  # noqa: E402

# Every file that carries a generated block; a block missing from a file is no error.
DOC_FILES = ("README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md"))))
KEY_KINDS = {"analytics": "Analytics", "admin": "Admin"}
GROUPED_FAMILIES = {"report", "usage_cost"}  # primary key also holds the grouped dimensions


def cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    # ``<endpoint>`` would be read as an HTML tag and vanish from the rendered page.
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def own_settings() -> dict[str, dict[str, Any]]:
    """The tap's settings in declaration order, without the SDK's built-in ones.

    The SDK appends its built-ins to the class's schema in place once a tap has been
    built or ``--about`` ran, so they are taken out by name rather than assumed absent.
    """
    schema = copy.deepcopy(TapClaudeEnterprise.config_jsonschema)
    builtin: dict[str, Any] = {"properties": {}}
    TapClaudeEnterprise.append_builtin_config(builtin)
    return {
        name: prop
        for name, prop in schema["properties"].items()
        if name not in builtin["properties"]
    }


def setting_type(prop: dict[str, Any]) -> str:
    """A short type: string, date, integer, number, boolean, array, object."""
    types = prop.get("type") or ["string"]
    types = [types] if isinstance(types, str) else types
    main = next((t for t in types if t != "null"), "string")
    if prop.get("format") == "date":
        return "date"
    if main == "array":
        item = (prop.get("items") or {}).get("type") or ["string"]
        item = [item] if isinstance(item, str) else item
        return f"array of {next((t for t in item if t != 'null'), 'string')}"
    return str(main)


def settings_table() -> str:
    """The settings table (name, type, default, secret, description)."""
    required = set(TapClaudeEnterprise.config_jsonschema.get("required", []))
    rows = [
        "| Setting | Type | Default | Secret | Description |",
        "|:--|:--|:--|:--:|:--|",
    ]
    for name, prop in own_settings().items():
        default = prop.get("default")
        text = default if isinstance(default, str) else json.dumps(default)
        shown = "" if default is None else f"`{text}`"
        description = cell(prop.get("description", ""))
        if name in required:
            description = f"**Required.** {description}"
        rows.append(
            f"| `{name}` | {setting_type(prop)} | {shown} | "
            f"{'yes' if prop.get('secret') else ''} | {description} |"
        )
    return "\n".join(rows)


def primary_key(endpoint: Endpoint) -> str:
    keys = ", ".join(f"`{k}`" for k in endpoint.primary_keys)
    return f"{keys}, *grouped dimensions*" if endpoint.family in GROUPED_FAMILIES else keys


def streams_table(endpoints: Iterable[Endpoint] = ENDPOINTS) -> str:
    """The streams table (name, endpoint, primary key, replication key, keys, description)."""
    rows = [
        "| Stream | Endpoint (`/v1/organizations/analytics/...`) | Primary key "
        "| Replication key | Key kinds | Description |",
        "|:--|:--|:--|:--|:--|:--|",
    ]
    for e in endpoints:
        kinds = ", ".join(KEY_KINDS[k] for k in sorted(e.keys, key=list(KEY_KINDS).index))
        rows.append(
            f"| `{e.name}` | `/{e.path}` | {primary_key(e)} | `{e.replication_key}` "
            f"| {kinds} | {cell(e.description)} |"
        )
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_table,
    "streams": streams_table,
    "stream-count": lambda: str(len(ENDPOINTS)),
}


def render(text: str) -> str:
    """``text`` with every generated block rewritten."""
    for name, generate in GENERATORS.items():
        inline = name == "stream-count"
        body = generate() if inline else f"\n{generate()}\n"
        pattern = re.compile(
            rf"(<!-- generated:{re.escape(name)} -->)(.*?)(<!-- /generated:{re.escape(name)} -->)",
            re.DOTALL,
        )
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text


def stale_files(root: Path = ROOT) -> list[str]:
    """The doc files whose generated blocks differ from what the code says."""
    return [name for name in DOC_FILES if (root / name).exists() and _differs(root / name)]


def _differs(path: Path) -> bool:
    text = path.read_text()
    return render(text) != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale tables")
    args = parser.parse_args(argv)
    stale = stale_files()
    if args.check:
        for name in stale:
            print(f"{name}: generated tables are stale; run python scripts/docs_tables.py")
        return 1 if stale else 0
    for name in stale:
        path = ROOT / name
        path.write_text(render(path.read_text()))
        print(f"{name}: tables rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())

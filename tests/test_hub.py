"""The Hub definition passes the Meltano Hub's own CI checks.

The checks are meltano/hub's, vendored under tests/hub/ (see its README): the plugin JSON
schema with its references (``plugin_schema_validate.py``), yamllint with the Hub's
``.yamllint.yaml`` (alphabetical keys, unindented sequences), the plugin name check
(``yaml_check_names.py``) and the maintainer check (``maintainers_validate.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "hub"
CHECKS = Path(__file__).resolve().parent / "hub"
DEFINITION = HUB / "extractors" / "tap-claude-enterprise" / "tap-claude-enterprise.yml"


def hub_validator() -> Draft7Validator:
    """The extractor schema with the Hub's registry of common schemas, as its script builds it."""
    resources = []
    for folder in ("common", "plugin_definitions"):
        for source in sorted((CHECKS / "schemas" / folder).glob("*.json")):
            schema = json.loads(source.read_text())
            resources.append((schema["$id"], Resource.from_contents(schema, DRAFT7)))
    extractors = CHECKS / "schemas" / "plugin_definitions" / "extractors.schema.json"
    schema = json.loads(extractors.read_text())
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


def schema_errors(definition: dict[str, Any]) -> list[str]:
    return [error.message for error in hub_validator().iter_errors(definition)]


def definitions() -> list[Path]:
    return sorted((HUB / "extractors").glob("*/*.yml"))


def test_the_definition_passes_the_hub_json_schema() -> None:
    definition = yaml.safe_load(DEFINITION.read_text())
    assert schema_errors(definition) == []
    # The check checks: what the Hub refuses, it refuses here too.
    assert schema_errors({**definition, "config": {"flattening_enabled": True}})
    assert schema_errors({k: v for k, v in definition.items() if k != "quality"})
    bad_kind = [
        {**s, "kind": "secret"} if s["name"] == "api_key" else s for s in definition["settings"]
    ]
    assert schema_errors({**definition, "settings": bad_kind})


def test_the_definition_follows_the_hub_conventions() -> None:
    definition = yaml.safe_load(DEFINITION.read_text())
    settings = {s["name"]: s for s in definition["settings"]}
    for secret in ("api_key", "email_hash_key"):
        assert settings[secret]["kind"] == "password"
        assert settings[secret]["sensitive"] is True
    assert definition["docs"].startswith("https://")
    assert len(definition["description"]) < 80, "a short description of the platform"
    assert definition["pip_url"] == "tap-claude-enterprise", "the PyPI package"
    assert definition["logo_url"] == "/assets/logos/extractors/claude-enterprise.svg"
    assert (HUB / "logos" / "extractors" / "claude-enterprise.svg").is_file()
    # A Hub user gets flat typed columns, and is told about PGTZ where the Hub shows it.
    assert settings["flattening_enabled"]["value"] is True
    assert settings["flattening_max_depth"]["value"] == 3
    assert settings["flattening_max_key_length"]["value"] == 64
    assert "PGTZ: UTC" in definition["usage"]
    assert [s["name"] for s in definition["settings"]] == sorted(settings)


def yamllint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """yamllint with the Hub's configuration."""
    return subprocess.run(
        [sys.executable, "-m", "yamllint", "-c", str(CHECKS / "yamllint.yaml"), "-f", "parsable",
         *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


def test_yamllint_with_the_hub_config_passes() -> None:
    result = yamllint(*definitions(), HUB / "maintainers.yml", HUB / "default_variants.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_catches_unsorted_keys(tmp_path: Path) -> None:
    """Key ordering is one of the Hub's rules: a definition out of order fails."""
    unsorted = tmp_path / "tap-claude-enterprise.yml"
    name = "name: tap-claude-enterprise\n"
    unsorted.write_text(DEFINITION.read_text().replace(name, "", 1) + name)
    result = yamllint(unsorted)
    assert result.returncode != 0
    assert "key-ordering" in result.stdout


@pytest.mark.parametrize("path", definitions(), ids=lambda p: p.parent.name)
def test_plugin_names_match_their_directory(path: Path) -> None:
    """yaml_check_names.py: ``name`` is the directory's name; the file is the variant's."""
    definition = yaml.safe_load(path.read_text())
    assert definition["name"] == path.parent.name
    assert path.stem == definition["variant"]


def test_every_variant_has_a_maintainer_and_the_default_variant_exists() -> None:
    """maintainers_validate.py: each variant (lower-cased) has a maintainers.yml entry."""
    maintainers = yaml.safe_load((HUB / "maintainers.yml").read_text())
    defaults = yaml.safe_load((HUB / "default_variants.yml").read_text())
    for path in definitions():
        definition = yaml.safe_load(path.read_text())
        entry = maintainers[definition["variant"].lower()]
        assert set(entry) == {"label", "name", "url"}
        assert definition["repo"].startswith(entry["url"])
        assert defaults["extractors"][definition["name"]] == definition["variant"]

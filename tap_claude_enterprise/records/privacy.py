"""E-mail privacy: keep, hash (keyed HMAC-SHA256) or drop every e-mail address a record holds.

The rule reaches every e-mail address in every stream, wherever it sits:
- fields named like an e-mail (``email``, ``email_address``, ``user_email``...), at any depth
  (``user.email_address``, ``actor.email``, ``created_by.email_address``);
- any other text field whose whole value is an e-mail address (an API that one day puts an
  address in ``claude_tag_user_id`` or ``user_id`` does not leak it);
- the names of people (``name`` inside ``actor``, ``user``, ``created_by``): a name
  identifies a person as well as an address does. Names of projects, groups, skills or
  connectors are not personal and stay.

``hash`` replaces a value with ``hmac-sha256:<64 hex>`` of the lower-cased, trimmed value
under ``email_hash_key``: the same address gives the same value in every stream and on
every run (joins keep working), and without the key nobody can test a guessed address
against it. ``drop`` writes null, except in a primary-key column, where a null would merge
rows: there it writes the HMAC too, and without a key the sync stops with one line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from typing import Any

EMAIL_HANDLING_MODES = ("keep", "hash", "drop")
HASH_PREFIX = "hmac-sha256:"
PERSON_OBJECTS = frozenset({"actor", "user", "created_by", "creator", "owner", "member"})
PERSON_NAME_FIELDS = frozenset({"name", "display_name", "full_name"})
# Whole-value check: something@something.tld, no spaces.
_EMAIL_VALUE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class EmailPolicyError(ValueError):
    """The privacy settings cannot be applied (the message names no value)."""


def settings_errors(config: Mapping[str, Any]) -> list[str]:
    """Settings-validation messages, one line each, never quoting a value."""
    mode = config.get("email_handling") or "keep"
    if mode not in EMAIL_HANDLING_MODES:
        return [f"email_handling must be one of {', '.join(EMAIL_HANDLING_MODES)}"]
    key = config.get("email_hash_key")
    if mode == "hash" and not (isinstance(key, str) and key):
        return ["email_handling: hash needs email_hash_key (a secret of your choice)"]
    return []


def is_email_field(name: str) -> bool:
    """True for ``email``, ``email_address``, ``user_email``, ``emailAddress``..."""
    return "email" in name.lower()


def looks_like_email(value: str) -> bool:
    """True if the whole value is an e-mail address."""
    return "@" in value and _EMAIL_VALUE.fullmatch(value.strip()) is not None


class EmailPolicy:
    """Applies ``email_handling`` to records, in place; ``keep`` touches nothing.

    Settings validation (``settings_errors``) refuses ``hash`` without a key before a
    sync starts; ``digest`` refuses it again, so no address can slip through unhashed.
    """

    __slots__ = ("_key", "mode")

    def __init__(self, mode: str = "keep", key: str | None = None) -> None:
        self.mode = mode if mode in EMAIL_HANDLING_MODES else "keep"
        self._key = key.encode() if isinstance(key, str) and key else None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EmailPolicy:
        """The policy the settings ask for."""
        return cls(config.get("email_handling") or "keep", config.get("email_hash_key"))

    @property
    def active(self) -> bool:
        """False when records pass through untouched."""
        return self.mode != "keep"

    def digest(self, value: str) -> str:
        """The keyed, stable stand-in of an address (or a name)."""
        if self._key is None:
            msg = (
                "email_handling: hash needs email_hash_key"
                if self.mode == "hash"
                else "email_handling: drop found an e-mail address in a primary-key column; "
                "set email_hash_key so it can be hashed instead of merging rows"
            )
            raise EmailPolicyError(msg)
        mac = hmac.new(self._key, value.strip().lower().encode(), hashlib.sha256)
        return HASH_PREFIX + mac.hexdigest()

    def apply(self, record: dict[str, Any], keys: Collection[str] = ()) -> dict[str, Any]:
        """The record with the policy applied (the same dict, changed in place)."""
        if self.mode == "keep":
            return record
        self._walk(record, keys, person=False)
        return record

    def _replace(self, value: str, *, is_key: bool) -> str | None:
        if self.mode == "hash" or is_key:
            return self.digest(value)
        return None

    def _walk(self, obj: dict[str, Any], keys: Collection[str], *, person: bool) -> None:
        for name, value in obj.items():
            if isinstance(value, str):
                if (
                    is_email_field(name)
                    or (person and name in PERSON_NAME_FIELDS)
                    or looks_like_email(value)
                ):
                    obj[name] = self._replace(value, is_key=name in keys)
            elif isinstance(value, dict):
                self._walk(value, (), person=name in PERSON_OBJECTS)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        self._walk(item, (), person=person)
                    elif isinstance(item, str) and looks_like_email(item):
                        value[index] = self._replace(item, is_key=False)

"""Grouping dimensions of the report and usage/cost families, and their one validation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def check_group_by(
    values: Iterable[str], allowed: Sequence[str], *, setting: str, what: str
) -> list[str]:
    """``values`` in ``allowed``'s order; ValueError naming the allowed values otherwise.

    Raised before any request is made; ``what`` names the endpoints, for the message.
    """
    values = list(values)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        msg = (
            f"{setting} has {', '.join(repr(v) for v in unknown)}, which {what} cannot "
            f"group by. Allowed values: {', '.join(allowed)}."
        )
        raise ValueError(msg)
    return [d for d in allowed if d in values]

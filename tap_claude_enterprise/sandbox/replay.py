"""Serve a directory written by the tap's ``capture_dir`` (``capture.py``) back as the API.

An answer is found by endpoint and query (``beta`` ignored; the page cursor included,
so a captured chain of pages replays in order). The same request captured several
times (a 429, then its retry's 200) is answered in the captured order, the last answer
repeating once the others are used. A request the capture does not hold gets a 404
``not_found_error`` that says so.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ANALYTICS_PREFIX = "/v1/organizations/analytics/"


@dataclass(frozen=True)
class CapturedAnswer:
    """One answer as captured."""

    status: int
    headers: dict[str, str]
    body: bytes


def request_key(endpoint: str, params: dict[str, list[str]]) -> tuple:
    """What identifies a request in a capture: endpoint and query, ``beta`` aside."""
    query = sorted((k, v) for k, values in params.items() if k != "beta" for v in values)
    return (endpoint.strip("/"), tuple(query))


class Replay:
    """The answers of a capture directory, by request."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        files = sorted(self.directory.glob("*.json"))
        if not files:
            msg = f"{self.directory}: no captured answers (*.json) in this directory"
            raise ValueError(msg)
        self._answers: dict[tuple, list[CapturedAnswer]] = defaultdict(list)
        for path in files:
            record = json.loads(path.read_text(encoding="utf-8"))
            request = record["request"]
            endpoint = request["path"].split(ANALYTICS_PREFIX, 1)[-1]
            params: dict[str, list[str]] = defaultdict(list)
            for name, value in request["query"]:
                params[name].append(value)
            self._answers[request_key(endpoint, params)].append(
                CapturedAnswer(
                    status=int(record["status"]),
                    headers=dict(record.get("headers") or {}),
                    body=str(record.get("body", "")).encode("utf-8"),
                )
            )
        self._served: dict[tuple, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.files = len(files)

    def answer(self, endpoint: str, params: dict[str, list[str]]) -> CapturedAnswer | None:
        """The captured answer for this request, or None if the capture has none."""
        key = request_key(endpoint, params)
        with self._lock:
            answers = self._answers.get(key)
            if not answers:
                return None
            index = min(self._served[key], len(answers) - 1)
            self._served[key] += 1
            return answers[index]

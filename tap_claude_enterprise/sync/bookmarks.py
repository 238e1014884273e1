"""Bookmarks move only at commits: STATE says "complete up to here", never less.

The SDK advances ``replication_key_value`` in memory after every record of an
INCREMENTAL stream. Here a bookmark means "every day or window up to here is complete"
(``commit_bookmark``), so the value committed last is put back wherever the SDK may
write STATE on its own: after the stream's last record (the engine's ``get_records``
runs inside ``bookmarks_only_at_commits``) and after each BATCH file (``get_batches``).
The stream's ``STATE_MSG_FREQUENCY`` keeps it from writing STATE between records.
Public SDK hooks only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from singer_sdk import Stream
from singer_sdk.helpers.types import Context

from tap_claude_enterprise.sync import restate


class CommittedBookmarks(Stream):
    """A stream whose bookmark is the last committed one."""

    committed_bookmark: str | None = None

    @contextmanager
    def bookmarks_only_at_commits(self) -> Iterator[None]:
        """Around a stream's records: start from the incoming bookmark, end on the last commit."""
        self.committed_bookmark = self.stream_state.get("replication_key_value")
        try:
            yield
        finally:
            self.restore_committed_bookmark()

    def restore_committed_bookmark(self) -> None:
        """Undo the SDK's per-record bookmark moves since the last commit."""
        state = self.stream_state
        if self.committed_bookmark is None:
            state.pop("replication_key_value", None)
            state.pop("replication_key", None)
        else:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = self.committed_bookmark

    def get_batches(  # the SDK's types for these live in a private module
        self, batch_config: Any, context: Context | None = None
    ) -> Iterator[tuple[Any, list[str]]]:
        """The SDK's batch files; STATE after each covers committed days or windows only."""
        for batch in super().get_batches(batch_config, context):
            self.restore_committed_bookmark()
            yield batch

    def commit_bookmark(self, value: str) -> None:
        """Record that everything up to ``value`` is fetched, and emit STATE.

        Called only between complete chains, after their records were written, so an
        interrupted sync resumes where it stopped and never skips. In BATCH mode the
        SDK writes STATE after each batch file instead, once its records are in a file.
        """
        state = self.stream_state
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = self.committed_bookmark = value
        restate.mark_done(self.config, self.name, state)
        state.pop("starting_replication_value", None)
        if self.get_batch_config(self.config) is None:
            self.finalize_state_progress_markers(state)

    @staticmethod
    def stored_bookmark(state: dict[str, Any]) -> str | None:
        """The bookmark from STATE."""
        return state.get("replication_key_value")

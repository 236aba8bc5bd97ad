"""Built queues, reused while nothing they were built from has changed.

A queue is a pure function of the officer's leads and their events (consent, opt-outs, calls
made today, engagement), the instant (to the minute: calling windows and caps are set in whole
minutes), the officer's capacity and the model. An entry is reused only when no lead record was
written since it was built (a counter of lead-writing transactions) and no event arrived for
one of the officer's leads (the event seq: newer events are read through the seq index, so the check
costs the events that arrived, not the history). An opt-out therefore holds for the very next
request, as when every queue was built from scratch; the audit trail is still written per
request. Entries are per process and expire after MAX_AGE_S whatever happens.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

MAX_AGE_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class QueueKey:
    officer_id: str
    minute: str
    """The build instant to the minute, UTC ISO."""
    day: str
    model_version: str
    capacity: int


@dataclass(slots=True)
class _Entry:
    payload: dict[str, Any]
    seq: int
    """Every event with a seq up to this one was committed before the build began."""
    lead_writes: int
    built_at: float


class QueueCache:
    """A bounded LRU of built queue payloads; get() hands out copies."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[QueueKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: QueueKey, *, seq: int, lead_writes: int, events_after: Callable[[int], bool]
    ) -> dict[str, Any] | None:
        """The payload built for key if still valid; events_after(seq) -> bool tells whether an
        event for the officer's leads arrived after the entry's build began."""
        if self.max_entries <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if (
            entry is None
            or entry.lead_writes != lead_writes
            or time.monotonic() - entry.built_at > MAX_AGE_S
            or (entry.seq != seq and events_after(entry.seq))
        ):
            return None
        with self._lock:
            entry.seq = max(entry.seq, seq)  # nothing of the officer's arrived in between
            self._entries.move_to_end(key)
        return copy.deepcopy(entry.payload)

    def put(self, key: QueueKey, payload: dict[str, Any], *, seq: int, lead_writes: int) -> None:
        if self.max_entries <= 0:
            return
        entry = _Entry(copy.deepcopy(payload), seq, lead_writes, time.monotonic())
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

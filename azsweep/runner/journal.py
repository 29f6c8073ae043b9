"""An append-only journal of a sweep's state changes, durable at every line.

Each event is one JSON line, flushed and fsync'd before the call returns, written before and after
each state change (a trial proposed, its run created, its process started, its end; the sweep's
start and end). A crash at any point — SIGKILL of the driver, power loss mid-write — leaves a file
whose complete lines read back; a torn last line is ignored.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "time": time.time(), **fields}, default=str, separators=(",", ":"))
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:  # make the new directory entry durable too
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        """Every complete event, in order (a torn or garbled line is skipped)."""
        if not self.path.exists():
            return []
        events = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and "event" in event:
                events.append(event)
        return events

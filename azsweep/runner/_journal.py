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


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to tell a process from a later one that reuses its pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return fields[19]  # field 22 of /proc/<pid>/stat, counted after the command name


def same_process_alive(pid: int | None, start_time: str | None) -> bool:
    return pid is not None and start_time is not None and process_start_time(pid) == start_time


def leftover_groups(marker: str) -> set[int]:
    """Process groups with a live process whose environment holds ``marker`` (``AZSWEEP_SWEEP_NAME=<name>``).

    After a crash of the driver, this finds what its trials left running — whether or not the journal got
    to record their pids, and even when a group's leader is gone while its children live on. The marker
    makes sure an unrelated process that reuses a pid is never touched.
    """
    groups = set()
    needle = marker.encode() + b"\0"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            if fields[0] == "Z":
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle in f.read() + b"\0":
                    groups.add(int(fields[2]))
        except (OSError, IndexError, ValueError):
            continue
    return groups

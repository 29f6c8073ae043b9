"""Trial processes: bash in its own process group, output to ``user_logs/std_log.txt`` (a trial in a container:
its runtime's client, ``containers.py``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from azsweep.runner import containers

if TYPE_CHECKING:
    from azsweep.runner.record import Trial

KILL_GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL of a trial


def snapshot(code: Path | None, destination: Path, *, notes: list[str] | None = None, exclude: Iterable[Path] = ()) -> Path:
    """Copy the code folder (as Azure snapshots ``trial.code``); an empty folder when there is none.

    Symbolic links are never followed, so the copy is bounded by the folder and never loops: a link to a
    place inside the folder stays a link, made relative (the copy never points back into the live folder);
    a link to a place outside stays a link to that place, and is not copied (a note says so). Files that are
    neither regular files nor folders (sockets, FIFOs, devices) are skipped with a note. ``destination``
    and ``exclude`` are left out when they lie inside the folder. A folder over ``SNAPSHOT_NOTE_BYTES``
    gets a note with its size. Notes are appended to ``notes`` when given.
    """
    destination.mkdir(parents=True, exist_ok=True)
    if code is not None and code.is_dir():
        _copy_tree(code, destination, notes if notes is not None else [], exclude)
    elif code is not None and code.is_file():
        shutil.copy2(code, destination / code.name)
    return destination


SNAPSHOT_NOTE_BYTES = 100 * 1024 * 1024  # a code folder larger than this gets a note with its size
LINK_MIN_BYTES = 1024 * 1024  # a trial's copy of the snapshot hard-links files of at least this size
MAX_NOTED_LINKS = 5  # links (or special files) named in a note; the others are counted
_IGNORED_NAMES = ("__pycache__", ".git", ".azsweep", "mlruns")
_IGNORED_SUFFIXES = (".pyc",)


def _ignored(name: str) -> bool:
    return name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _copy_tree(code: Path, destination: Path, notes: list[str], exclude: Iterable[Path]) -> None:
    """``snapshot`` of a folder: a walk that never follows a link."""
    root = os.path.realpath(code)
    skipped = {os.path.realpath(destination), *(os.path.realpath(p) for p in exclude)}
    outside: list[str] = []
    special: list[str] = []
    size = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        relative = os.path.relpath(folder, root)
        target = destination if relative == "." else destination / relative
        target.mkdir(exist_ok=True)
        kept = []
        for name in sorted(dirs):
            path = os.path.join(folder, name)
            if _ignored(name) or path in skipped:
                continue
            if os.path.islink(path):
                files.append(name)  # a link to a folder: kept as a link, below
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = os.path.join(folder, name)
            if _ignored(name):
                continue
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                resolved = os.path.realpath(path)
                if _inside(resolved, root):
                    os.symlink(os.path.relpath(resolved, folder), target / name)
                else:
                    os.symlink(resolved, target / name)
                    outside.append(os.path.relpath(path, root))
            elif stat.S_ISREG(st.st_mode):
                shutil.copy2(path, target / name, follow_symlinks=False)
                size += st.st_size
            else:
                special.append(os.path.relpath(path, root))
    if outside:
        notes.append(
            f"code {code}: {_some(outside)} link(s) to outside the code folder, kept as links and not copied "
            "(the trials read through them what is there when they run)"
        )
    if special:
        notes.append(f"code {code}: {_some(special)} skipped: not regular files or folders")
    if size > SNAPSHOT_NOTE_BYTES:
        notes.append(
            f"code {code} is {size / 1e6:.0f} MB: it is copied once for the sweep, and each trial's copy shares its "
            f"files of {LINK_MIN_BYTES // 1024 // 1024} MiB or more through hard links (read-only) where the file system allows"
        )


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:MAX_NOTED_LINKS])
    return f"{shown} and {len(paths) - MAX_NOTED_LINKS} more" if len(paths) > MAX_NOTED_LINKS else shown


def copy_snapshot(source: Path, destination: Path) -> Path:
    """A trial's working copy of the sweep's snapshot (``snapshot`` made it: links already safe, never followed).

    Files of ``LINK_MIN_BYTES`` or more are hard links to the snapshot's, made read-only first, so a large
    code folder costs no space per trial and no trial can change what another reads; smaller files (the
    code itself) are copied, so a trial may edit them. Across file systems, or where links are refused, a copy.
    """
    destination.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return destination
    for folder, dirs, files in os.walk(source, followlinks=False):
        relative = os.path.relpath(folder, source)
        target = destination if relative == "." else destination / relative
        target.mkdir(exist_ok=True)
        for name in [d for d in dirs if os.path.islink(os.path.join(folder, d))] + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(path), target / name)
            elif stat.S_ISREG(st.st_mode) and st.st_size >= LINK_MIN_BYTES and _hard_link(path, st, target / name):
                continue
            elif stat.S_ISREG(st.st_mode):
                shutil.copy2(path, target / name, follow_symlinks=False)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return destination


def _hard_link(path: str, st: os.stat_result, link: Path) -> bool:
    """Link ``link`` to the snapshot file ``path`` (made read-only); False when the file system refuses."""
    try:
        if st.st_mode & 0o222:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o222)
        os.link(path, link)
    except OSError:  # another device (EXDEV), links not supported or too many (EMLINK), not permitted
        return False
    return True


def exit_reason(code: int | None) -> str:
    """How a trial process ended, in words."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


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


def leftover_groups(*markers: str) -> set[int]:
    """Process groups with a live process whose environment holds every one of ``markers`` (``NAME=value``).

    After a crash of the driver, this finds what its trials left running — whether or not the journal got
    to record their pids, and even when a group's leader is gone while its children live on. The marker
    makes sure an unrelated process that reuses a pid is never touched.
    """
    return set(marked_processes(*markers))


def marked_processes(*markers: str) -> dict[int, dict[int, str]]:
    """``leftover_groups`` with the marked processes of each group: pgid -> {pid: kernel start time}."""
    groups: dict[int, dict[int, str]] = {}
    needles = [marker.encode() + b"\0" for marker in markers]
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            if fields[0] == "Z":
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                environ = b"\0" + f.read() + b"\0"
                if all(b"\0" + needle in environ for needle in needles):
                    groups.setdefault(int(fields[2]), {})[int(entry.name)] = fields[19]
        except (OSError, IndexError, ValueError):
            continue
    return groups


class TrialProcess:
    """One running trial command."""

    def __init__(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        with open(log_path, "ab", buffering=0) as log:
            self.popen = subprocess.Popen(
                ["bash", "-c", command],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        self.kill_sent_at: float | None = None

    @classmethod
    def adopt(cls, pid: int) -> TrialProcess:
        """A handle on a trial process group left running by a driver that died (not our child)."""
        self = cls.__new__(cls)
        self.pid, self.kill_sent_at, self.popen = pid, None, None  # type: ignore[assignment]
        return self

    def poll(self) -> int | None:
        return self.popen.poll()

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM to the whole process group (the trial's children included)."""
        if self.kill_sent_at is None:
            self.kill_sent_at = time.monotonic()
            self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the whole process group."""
        self._signal_group(signal.SIGKILL)

    def stop(self, grace: float) -> int:
        """Terminate, wait up to ``grace`` seconds, then kill; reap and return the exit code.

        The group is killed in the end even when bash itself exited, so no child is left behind.
        """
        self.terminate()
        deadline = time.monotonic() + grace
        while self._running() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.kill()
        return self.popen.wait() if self.popen is not None else -9

    def _running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        try:  # an adopted group: alive while any member is
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def reap_group(self) -> None:
        """After the trial exited by itself: end anything it left running in its group."""
        self._signal_group(signal.SIGKILL)


class ProcessLauncher:
    """Starts each trial as ``bash -c COMMAND`` in its own process group (the production ``Launcher``).

    A thread per trial blocks until its process exits (``waitid`` with ``WNOWAIT``: the exit is noticed, the
    process is left for ``poll`` to reap), so ``wait`` returns as soon as any trial ends, not at a fixed poll.
    """

    def __init__(self) -> None:
        self._exited = threading.Event()

    def launch(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> TrialProcess:
        process = TrialProcess(command, cwd=cwd, env=env, log_path=log_path)
        threading.Thread(target=self._watch, args=(process.pid,), daemon=True, name=f"trial-{process.pid}").start()
        return process

    def _watch(self, pid: int) -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        self._exited.set()

    def wait(self, timeout: float) -> None:
        """Until a trial's process exits (since the last call), or ``timeout`` seconds."""
        self._exited.wait(timeout)
        self._exited.clear()

    def stop_leftovers(self, sweep_name: str, home: Path) -> None:
        """End every process group a stopped driver's trials of this sweep (in this home) left running.

        Found by the trials' environment (``AZSWEEP_SWEEP_NAME`` and ``AZSWEEP_HOME``), so the trials of a
        sweep with the same name in another home are never touched.
        """
        stop_marked(f"AZSWEEP_SWEEP_NAME={sweep_name}", f"AZSWEEP_HOME={home}")

    def stop_marked(self, *markers: str) -> list[int]:
        """End every process group with a live process whose environment holds all of ``markers`` (``stop_marked``)."""
        return stop_marked(*markers)


def failed_trial_line(trial: Trial) -> str:
    """One line for a failed trial: how it ended, what its log said last, and where its log is."""
    last = last_line(trial.log)
    said = f": {last}" if last else ""
    where = f"; log: {trial.log}" if trial.log else ""
    return f"{trial.name} ({exit_reason(trial.exit_code)}){said}{where}"


TRACEBACK = "Traceback (most recent call last):"
LAST_LINE_CHARS = 300
_TAIL_BYTES = 64 * 1024


def last_line(log: Path | None) -> str:
    """What a trial's log says last: for a Python crash, the exception line of the last traceback (its
    message may go on over more lines, as MLflow's do); otherwise the last non-empty line."""
    if log is None or not log.is_file():
        return ""
    with log.open("rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - _TAIL_BYTES))
        tail = f.read().decode("utf-8", errors="replace")
    lines = tail.splitlines()
    start = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip() == TRACEBACK), None)
    if start is not None:
        # after the frames (indented), the first line at the margin is the exception: "Type: message"
        exception = next((line for line in lines[start + 1 :] if line.strip() and not line[0].isspace()), None)
        if exception is not None:
            return exception.strip()[:LAST_LINE_CHARS]
    text = [line.strip() for line in lines if line.strip()]
    return text[-1][:LAST_LINE_CHARS] if text else ""


class LogFollower:
    """Reads what a job's log gained since the last read (``az ml job stream`` prints a job's log as it grows)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = 0

    def read_new(self) -> str:
        """The text appended since the last call ("" while the log does not exist)."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return ""
        end = data.rfind(b"\n") + 1  # whole lines only; the rest is read once its line ends
        self.offset += end
        return data[:end].decode("utf-8", errors="replace")

    def read_rest(self) -> str:
        """Everything not read yet, a last partial line included (once the job has ended)."""
        text = self.read_new()
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                tail = f.read()
        except OSError:
            return text
        self.offset += len(tail)
        return text + tail.decode("utf-8", errors="replace")


def stop_marked(*markers: str, grace: float = KILL_GRACE_SECONDS) -> list[int]:
    """End every process group with a live process whose environment holds all of ``markers``; their pgids.

    SIGTERM, up to ``grace`` seconds, then SIGKILL to what is left. Right before each signal, a group is
    checked to be the one found: one of the marked processes found in it is still alive (same pid, same
    kernel start time) and still in it, so the group still exists and its id cannot have been reused. The
    driver's own group is never signalled (a driver started from within a trial carries its markers). A marked
    process that is the client of a trial's container (``containers.client_of``) has its container signalled
    too, through its runtime (``<runtime> kill``): the container's processes are not the client's children.
    """
    groups = marked_processes(*markers)
    groups.pop(os.getpgrp(), None)
    boxes = containers.clients_among(pid for members in groups.values() for pid in members)
    containers.kill_each(boxes, "TERM")
    for pgid, members in groups.items():
        _signal_if_same(pgid, members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(_same_group(pgid, members) for pgid, members in groups.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    containers.kill_each(boxes)  # by name: each attempt's container has its own
    for pgid, members in groups.items():
        _signal_if_same(pgid, members, signal.SIGKILL)
    return sorted(groups)


def _same_group(pgid: int, members: Mapping[int, str]) -> bool:
    """A marked process found in group ``pgid`` is still alive and still in it."""
    for pid, start in members.items():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and fields[19] == start and int(fields[2]) == pgid:
            return True
    return False


def _signal_if_same(pgid: int, members: Mapping[int, str], sig: int) -> None:
    if _same_group(pgid, members):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

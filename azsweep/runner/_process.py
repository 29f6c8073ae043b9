"""Trial processes: bash in its own process group, output to ``user_logs/std_log.txt``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

_IGNORE = shutil.ignore_patterns("__pycache__", ".git", ".azsweep", "mlruns", "*.pyc")


def snapshot(code: Path | None, destination: Path) -> Path:
    """Copy the code folder (as Azure snapshots ``trial.code``); an empty folder when there is none."""
    if code is not None and code.is_dir():
        shutil.copytree(code, destination, ignore=_IGNORE, dirs_exist_ok=True)
    elif code is not None and code.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copy2(code, destination / code.name)
    else:
        destination.mkdir(parents=True, exist_ok=True)
    return destination


class TrialProcess:
    """One running trial command."""

    def __init__(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        with open(log_path, "ab", buffering=0) as log:
            self.popen = subprocess.Popen(
                ["bash", "-c", command], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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

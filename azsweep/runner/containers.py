"""Trials of an image-only environment, run in containers of that image (``--environment build``).

A job whose ``environment:`` is a Docker image only (nothing to build a virtual environment from) runs each
trial process as ``<runtime> run`` of the image, with docker or podman (``AZSWEEP_CONTAINER_RUNTIME``: the one
to use, a name or a path), when one can run it here. ``find`` says which, or why none can: the runtime's
``info`` answers within ``INFO_SECONDS``, the image is on this machine (else it is pulled, once), and a container
of it runs ``bash -c true``. It is asked only for a job that declares an image only under ``build``, and the
answers are kept for the life of the process.

A trial's container (``run_arguments``):

* ``--name`` from the trial's folder (home, sweep, trial) and its MLflow run, so each attempt has its own;
* ``--network host``: 127.0.0.1 is this machine (``MASTER_ADDR``, a tracking server on it);
* the trial's folder (its copy of the code, the working directory, its outputs, a home folder), its local
  inputs, and the MLflow store's folder (the SQLite file's folder, a file store) with the artifact root,
  mounted at the same paths, so every path in its variables holds inside;
* the variables azsweep gives the trial (Azure's, MLflow's, the sampled values, a rank's) passed by name,
  ``-e NAME``, their values through the client's environment, never its command line; no other variable of
  this machine's is passed, and ``HOME`` is a folder of the trial's own (``home/`` in its folder);
* the user's identity (``--user UID:GID``; rootless podman: ``--userns keep-id``; rootless docker: the
  container's root is the user already), so what it writes is the user's;
* ``--init`` (docker; podman where catatonit is installed), so a signal reaches the trial's command;
* its GPUs: ``--gpus "device=0,1"`` (docker, the NVIDIA container toolkit) or ``--device nvidia.com/gpu=0``
  per GPU (podman, CDI); inside, ``CUDA_VISIBLE_DEVICES`` counts them from 0;
* the image's Python: no overlay (``isolation.py``) is made for it.

A distributed trial runs one container per rank (``--ipc host`` added: the ranks share memory as processes
of one machine do); an ``mpi`` trial runs the image's ``mpirun`` in one container. Stopping a trial
(``ContainerTrial``) stops its container: ``<runtime> kill --signal TERM <name>``, then, after the grace,
``<runtime> kill <name>``, then the client's process group; ``process.stop_marked`` does the same for what a
stopped driver's trials left running (``clients_among``: found by the client's command line).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from azsweep.runner.layout import Settings

if TYPE_CHECKING:
    from azsweep.runner.loop import Launcher, TrialHandle

RUNTIME_VARIABLE = "AZSWEEP_CONTAINER_RUNTIME"  # the runtime to use (a name on PATH or a path), else docker, then podman
RUNTIMES = ("docker", "podman")
NAME_PREFIX = "azsweep-"  # every container azsweep starts is named so
INFO_SECONDS = 10.0  # the most ``<runtime> info`` (and ``image inspect``) may take
PULL_SECONDS = 900.0  # the most a pull of the image may take
CHECK_SECONDS = 120.0  # the most the first container of the image may take to run ``bash -c true``
KILL_SECONDS = 20.0  # the most a ``<runtime> kill`` may take
CLIENT_EXIT_SECONDS = 5.0  # after its container is killed, the client is given this long to exit by itself
ERROR_CHARS = 200  # of a runtime's error, in a note
RUNTIME_ERRORS = (125, 126, 127)  # `run`'s own failures (and a command the image lacks or cannot run)
PODMAN_INIT = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit")  # podman's --init needs one


@dataclass(frozen=True)
class Runtime:
    """A container runtime that answers: its executable, its kind (``docker`` or ``podman``), and what it needs."""

    path: str
    kind: str
    rootless: bool = False  # the runtime's root is the user (podman run by a user, docker's rootless mode)
    init: bool = True  # --init is available


@dataclass(frozen=True)
class Container:
    """Where an image-only environment's trials run: ``image`` with ``runtime``."""

    runtime: Runtime
    image: str


# -- which runtime, if any ----------------------------------------------------------------------------


def kind_of(path: str) -> str:
    """``podman`` when the executable is named so, else ``docker`` (whose command line podman also takes)."""
    return "podman" if "podman" in Path(path).name else "docker"


def find(image: str) -> tuple[Container | None, str]:
    """A runtime that runs ``image`` here, or None and why none does (one phrase, each runtime tried named)."""
    given = os.environ.get(RUNTIME_VARIABLE, "").strip()
    reasons: list[str] = []
    installed = 0
    for name in [given] if given else RUNTIMES:
        path = shutil.which(name)
        if path is None:
            reasons.append(f"{RUNTIME_VARIABLE}={given} is not an executable" if given else f"{name} is not installed")
            continue
        installed += 1
        runtime, why = probe(os.path.abspath(path))
        if runtime is None:
            reasons.append(why)
            continue
        problem = image_problem(runtime, image)
        if problem is None:
            return Container(runtime, image), ""
        reasons.append(problem)
    if not given and not installed:
        return None, "neither docker nor podman is installed"
    return None, "; ".join(reasons)


@functools.cache
def probe(path: str) -> tuple[Runtime | None, str]:
    """The runtime at ``path`` when its ``info`` answers within ``INFO_SECONDS``, else None and why (kept per process)."""
    kind = kind_of(path)
    which = "its daemon" if kind == "docker" else f"`{kind} info`"
    template = "{{.Host.Security.Rootless}}" if kind == "podman" else "{{json .SecurityOptions}}"
    try:
        done = _call([path, "info", "--format", template], INFO_SECONDS)
    except subprocess.TimeoutExpired:
        return None, f"{kind} is installed but {which} does not answer within {INFO_SECONDS:g} s"
    except OSError as exc:
        return None, f"{kind} is installed but cannot be started ({exc.strerror or exc})"
    if done.returncode != 0:
        return None, f"{kind} is installed but {which} does not answer ({_said(done)})"
    out = done.stdout.strip().lower()
    rootless = out == "true" if kind == "podman" else "rootless" in out
    init = kind == "docker" or shutil.which("catatonit") is not None or any(os.path.exists(p) for p in PODMAN_INIT)
    return Runtime(path=path, kind=kind, rootless=rootless, init=init), ""


@functools.cache
def image_problem(runtime: Runtime, image: str) -> str | None:
    """Why ``runtime`` cannot run ``image`` here (None: it can): the image is got (pulled when missing), and a
    container of it runs ``bash -c true`` with the options a trial's has. Kept per process."""
    kind = runtime.kind
    try:
        if _call([runtime.path, "image", "inspect", image], INFO_SECONDS).returncode != 0:
            pulled = _call([runtime.path, "pull", image], PULL_SECONDS)
            if pulled.returncode != 0:
                return f"{kind} cannot get the image ({_said(pulled)})"
        name = f"{NAME_PREFIX}check-{uuid.uuid4().hex[:12]}"
        done = _call(run_arguments(Container(runtime, image), "true", name=name), CHECK_SECONDS)
    except subprocess.TimeoutExpired as exc:
        return f"{kind} did not answer within {exc.timeout:g} s ({shlex.join(map(str, exc.cmd[1:3]))})"
    except OSError as exc:
        return f"{kind} cannot be started ({exc.strerror or exc})"
    if done.returncode != 0:
        remove(runtime.path, name)  # a container created but not started is not removed by --rm
        return f"{kind} is installed but cannot run the image here ({_said(done)})"
    return None


def _call(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def _said(done: subprocess.CompletedProcess[str]) -> str:
    """The last line a failed runtime command printed (its error), cut to ``ERROR_CHARS``."""
    lines = [line.strip() for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
    return lines[-1][:ERROR_CHARS] if lines else f"exit code {done.returncode}"


# -- a trial's container -----------------------------------------------------------------------------


def container_name(job_name: str, trial_folder: Path, run_id: str, rank: int | None = None) -> str:
    """The container's name: the trial's, and a digest of its folder (home, sweep, trial) and MLflow run."""
    digest = hashlib.sha256(f"{trial_folder}\0{run_id}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9_.-]", "-", job_name)[:100]
    return f"{NAME_PREFIX}{readable}-{digest}" + (f"-rank{rank}" if rank is not None else "")


def store_folder(tracking_uri: str) -> Path | None:
    """The folder of an MLflow store on this machine's disk (a SQLite file's folder, a file store); None for a server."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///") :]).parent
    if tracking_uri.startswith("file:"):
        return Path(urlparse(tracking_uri).path)
    if tracking_uri and "://" not in tracking_uri:
        return Path(tracking_uri).absolute()
    return None


def trial_mounts(trial_folder: Path, inputs: Iterable[str | None], tracking_uri: str, home: str | None) -> list[Path]:
    """What a trial's container mounts (at the same paths): its folder, its local inputs, the MLflow store's
    folder and the artifact root of the home's SQLite store (made when missing, so a run's artifacts land on
    this machine); a path inside another is left out."""
    paths = [trial_folder]
    paths += [Path(value) for value in inputs if value and os.path.isabs(value) and os.path.exists(value)]
    store = store_folder(tracking_uri)
    if store is not None and store.is_dir():
        paths.append(store)
    if home:
        artifacts = Settings(home=Path(home), tracking_uri=tracking_uri).artifacts
        artifacts.mkdir(parents=True, exist_ok=True)
        paths.append(artifacts)
    return outermost(paths)


def outermost(paths: Iterable[Path]) -> list[Path]:
    """``paths`` (made absolute, normalised) without those inside another, in their order."""
    normal = list(dict.fromkeys(Path(os.path.normpath(os.path.abspath(p))) for p in paths))
    return [p for p in normal if not any(o != p and p.is_relative_to(o) for o in normal)]


def user_arguments(runtime: Runtime) -> list[str]:
    """The options that make the container's processes the user's (files it writes in the mounts are theirs)."""
    if runtime.kind == "podman" and runtime.rootless:
        return ["--userns", "keep-id"]
    if runtime.rootless:  # rootless docker: the container's root is the user
        return []
    return ["--user", f"{os.getuid()}:{os.getgid()}"]


def gpu_arguments(runtime: Runtime, gpus: Sequence[str] | None) -> list[str]:
    """The options that give the container ``gpus`` (none: no option): docker's ``--gpus``, podman's CDI devices."""
    if not gpus:
        return []
    chosen = list(dict.fromkeys(gpus))
    if runtime.kind == "podman":
        return [arg for gpu in chosen for arg in ("--device", f"nvidia.com/gpu={gpu}")]
    return ["--gpus", f'"device={",".join(chosen)}"']  # quoted: docker reads the value as CSV


def visible_devices(gpus: Sequence[str]) -> str:
    """``CUDA_VISIBLE_DEVICES`` inside a container given ``gpus``: they are numbered from 0 there."""
    return ",".join(str(i) for i in range(len(dict.fromkeys(gpus))))


def run_arguments(
    container: Container,
    command: str,
    *,
    name: str,
    cwd: Path | None = None,
    mounts: Sequence[Path] = (),
    passed: Sequence[str] = (),
    home: Path | None = None,
    gpus: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    shared_ipc: bool = False,
) -> list[str]:
    """The client's command line: ``<runtime> run ... <image> bash -c <command>``; ``passed``: the names of the
    variables it passes (their values come from the client's environment)."""
    runtime = container.runtime
    args = [runtime.path, "run", "--rm", "--name", name]
    for key, value in (labels or {}).items():
        args += ["--label", f"{key}={value}"]
    args += ["--network", "host"]
    if shared_ipc:
        args += ["--ipc", "host"]
    if runtime.init:
        args.append("--init")
    args += user_arguments(runtime)
    for path in mounts:
        args += ["-v", f"{path}:{path}"]
    if cwd is not None:
        args += ["-w", str(cwd)]
    if home is not None and "HOME" not in passed:
        args += ["-e", f"HOME={home}"]
    for variable in passed:
        args += ["-e", variable]
    args += gpu_arguments(runtime, gpus)
    return [*args, container.image, "bash", "-c", command]


def start(
    launcher: Launcher,
    container: Container,
    command: str,
    *,
    name: str,
    cwd: Path,
    env: Mapping[str, str],
    passed: Sequence[str],
    mounts: Sequence[Path],
    home: Path,
    gpus: Sequence[str] | None,
    log_path: Path,
    labels: Mapping[str, str] | None = None,
    shared_ipc: bool = False,
) -> ContainerTrial:
    """Start ``command`` in a container of ``container.image`` through ``launcher`` (the client is the launched
    process; ``env``: its environment, holding the values of ``passed``). ``gpus``: the GPUs it is given (None:
    none, and ``CUDA_VISIBLE_DEVICES`` is not set)."""
    client_env = dict(env)
    names = [n for n in dict.fromkeys(passed) if n and "=" not in n]
    if gpus is not None:
        client_env["CUDA_VISIBLE_DEVICES"] = visible_devices(gpus)
        if "CUDA_VISIBLE_DEVICES" not in names:
            names.append("CUDA_VISIBLE_DEVICES")
    home.mkdir(parents=True, exist_ok=True)
    args = run_arguments(
        container,
        command,
        name=name,
        cwd=cwd,
        mounts=mounts,
        passed=names,
        home=home,
        gpus=gpus,
        labels=labels,
        shared_ipc=shared_ipc,
    )
    handle = launcher.launch("exec " + shlex.join(args), cwd=cwd, env=client_env, log_path=log_path)
    return ContainerTrial(handle, container.runtime.path, name)


def kill(runtime: str, name: str, signal: str | None = None) -> bool:
    """``<runtime> kill [--signal SIGNAL] <name>``; whether the runtime said it did (a container already gone: False)."""
    args = [runtime, "kill", *(["--signal", signal] if signal else []), name]
    try:
        return _call(args, KILL_SECONDS).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def remove(runtime: str, name: str) -> bool:
    """``<runtime> rm -f <name>``: the container killed and removed; whether the runtime said it did."""
    try:
        return _call([runtime, "rm", "-f", name], KILL_SECONDS).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class ContainerTrial:
    """The handle of a trial in a container: its client process (``handle``), and the container, by name."""

    def __init__(self, handle: TrialHandle, runtime: str, name: str) -> None:
        self.handle, self.runtime, self.name = handle, runtime, name
        self.pid = handle.pid
        self._asked: subprocess.Popen[bytes] | None = None  # the `kill --signal TERM` under way
        self._terminated = False

    def poll(self) -> int | None:
        return self.handle.poll()

    def terminate(self) -> None:
        """SIGTERM to the container (``<runtime> kill --signal TERM``, not waited for); without a runtime to
        ask, to the client's process group."""
        if self._terminated:
            return
        self._terminated = True
        try:
            self._asked = subprocess.Popen(
                [self.runtime, "kill", "--signal", "TERM", self.name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self.handle.terminate()

    def stop(self, grace: float) -> int:
        """SIGTERM to the container, up to ``grace`` seconds, then ``<runtime> kill``, then the client's group
        (``CLIENT_EXIT_SECONDS`` after the kill at most); the client's exit code."""
        self.terminate()
        deadline = time.monotonic() + grace
        while self.handle.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self._settle()
        kill(self.runtime, self.name)  # the container may live on when only its client ended
        deadline = time.monotonic() + CLIENT_EXIT_SECONDS
        while self.handle.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.handle.stop(0.0)

    def reap_group(self) -> None:
        """The client exited: when a signal ended it (not its container's end), kill the container too; when the
        runtime failed (``RUNTIME_ERRORS``), remove what it may have left (a container created, not started)."""
        code = self.handle.poll()
        if code is not None and code < 0:
            kill(self.runtime, self.name)
        elif code in RUNTIME_ERRORS:
            remove(self.runtime, self.name)
        self._settle()
        self.handle.reap_group()

    def _settle(self) -> None:
        """Wait for the ``kill --signal TERM`` under way (a runtime that hangs is ended)."""
        asked, self._asked = self._asked, None
        if asked is None:
            return
        try:
            asked.wait(KILL_SECONDS)
        except subprocess.TimeoutExpired:
            asked.kill()
            asked.wait()


# -- what a stopped driver left ----------------------------------------------------------------------


def client_of(pid: int) -> tuple[str, str] | None:
    """(runtime, container name) when process ``pid`` is the client of a container azsweep started, else None.

    Read from its command line, ``<runtime> run ... --name azsweep-...``; a runtime that is a script has its
    interpreter first (``python /path/docker run ...``)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None
    at = next((i for i in range(min(3, len(argv) - 1)) if argv[i + 1] == "run" and _names_runtime(argv[i])), None)
    if at is None or "--name" not in argv[at:]:
        return None
    named = argv.index("--name", at) + 1
    name = argv[named] if named < len(argv) else ""
    return (argv[at], name) if name.startswith(NAME_PREFIX) else None


def _names_runtime(path: str) -> bool:
    return any(runtime in Path(path).name for runtime in RUNTIMES)


def clients_among(pids: Iterable[int]) -> list[tuple[str, str]]:
    """(runtime, container name) of each container client among ``pids`` (``client_of``), once each."""
    return list(dict.fromkeys(c for c in map(client_of, pids) if c is not None))


def kill_each(found: Iterable[tuple[str, str]], signal: str | None = None) -> None:
    """``<runtime> kill`` (``signal``: another signal than SIGKILL) of each (runtime, container name) of ``found``."""
    for runtime, name in found:
        kill(runtime, name, signal)

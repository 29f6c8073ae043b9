"""Trials of an image-only environment in containers (``--environment build``, ``runner/containers.py``).

Most tests here check azsweep's orchestration only, not a container runtime: a stand-in ``docker`` (or
``podman``), a Python script written to ``tmp_path``, records each command line it is given and the
environment it passes, and runs the "container" as a process of this machine in a session of its own (so only
its ``kill`` command can stop it, as only the runtime can stop a real container). One end-to-end test runs a
sweep in real containers; it needs docker or podman able to run containers here, and skips otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _e2e import alive, write_sweep

from azsweep.environment_spec import EnvironmentDeclaration
from azsweep.runner import containers
from azsweep.runner.containers import Container, Runtime
from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.process import ProcessLauncher, stop_marked

FAKE_RUNTIME = r'''#!{python}
"""A stand-in container runtime: records each call, runs a "container" as a process in a session of its own."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

state = Path(os.environ["FAKE_RUNTIME_STATE"])
state.mkdir(parents=True, exist_ok=True)
kind = "podman" if "podman" in Path(sys.argv[0]).name else "docker"
setting = lambda what: os.environ.get(f"FAKE_{{kind.upper()}}_{{what}}", "")
args = sys.argv[1:]


def record(**extra):
    line = json.dumps({{"kind": kind, "argv": args, **extra}}) + "\n"
    with open(state / "calls.jsonl", "a") as f:
        f.write(line)


def fail(message, code):
    record()
    print(message, file=sys.stderr)
    sys.exit(code)


if args[0] == "info":
    if setting("INFO"):
        fail(setting("INFO"), 1)
    record()
    print("false" if kind == "podman" else "[]")
elif args[:2] == ["image", "inspect"] or args[0] == "pull":
    record()
elif args[0] in ("kill", "rm"):
    name = args[-1]
    sig = getattr(signal, "SIG" + args[args.index("--signal") + 1]) if "--signal" in args else signal.SIGKILL
    record()
    try:
        os.killpg(int((state / f"{{name}}.pid").read_text()), sig)
    except (OSError, ValueError):
        print(f"Error: No such container: {{name}}", file=sys.stderr)
        sys.exit(1)
elif args[0] == "run":
    if setting("RUN"):
        fail(setting("RUN"), 126)
    valued = {{"--name", "--label", "--network", "--ipc", "--user", "--userns", "-v", "-w", "-e", "--gpus", "--device"}}
    options, i = {{}}, 1
    while args[i].startswith("-"):
        if args[i] in valued:
            options.setdefault(args[i], []).append(args[i + 1])
            i += 2
        else:
            i += 1
    image, command = args[i], args[i + 1 :]
    env = {{"PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"}}
    for item in options.get("-e", []):
        name, equals, value = item.partition("=")
        if equals:
            env[name] = value
        elif name in os.environ:
            env[name] = os.environ[name]
    record(env={{k: v for k, v in env.items() if k != "PATH"}})
    if os.environ.get("FAKE_HIDE_MARKERS"):  # as a daemon's processes: not readable as the user's
        env = {{k: v for k, v in env.items() if not k.startswith("AZSWEEP_")}}
    name = options["--name"][0]
    box = subprocess.Popen(command, cwd=options.get("-w", [None])[0], env=env, start_new_session=True)
    (state / f"{{name}}.pid").write_text(str(box.pid))
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(box.pid, signal.SIGTERM))  # as --sig-proxy does
    code = box.wait()
    sys.exit(code if code >= 0 else 128 - code)
else:
    fail(f"unknown command {{args}}", 125)
'''


def fake_runtime(folder: Path, name: str = "docker") -> Path:
    """The stand-in runtime as ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(FAKE_RUNTIME.format(python=sys.executable))
    path.chmod(0o755)
    return path


def calls(state: Path) -> list[dict[str, Any]]:
    """What the stand-in was asked, in order."""
    log = state / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in's folder of records; ``PATH`` holds only the stand-ins (and this Python's folder)."""
    folder = tmp_path / "runtime-state"
    monkeypatch.setenv("FAKE_RUNTIME_STATE", str(folder))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}/usr/bin:/bin")
    monkeypatch.delenv(containers.RUNTIME_VARIABLE, raising=False)
    return folder


DOCKER = Runtime(path="/usr/bin/docker", kind="docker", rootless=False, init=True)
ME = f"{os.getuid()}:{os.getgid()}"


# -- the client's command line (pure) ----------------------------------------------------------------


def test_a_trial_container_mounts_passes_by_name_and_runs_bash_in_the_image(tmp_path: Path) -> None:
    args = containers.run_arguments(
        Container(DOCKER, "example.com/img:1"),
        "python train.py --lr 0.1",
        name="azsweep-s_0-abc",
        cwd=tmp_path / "code",
        mounts=[tmp_path],
        passed=["AZUREML_SWEEP_lr", "MLFLOW_RUN_ID"],
        home=tmp_path / "home",
        gpus=["2", "3"],
        labels={"azsweep.job": "s_0"},
    )
    assert args == [
        "/usr/bin/docker", "run", "--rm", "--name", "azsweep-s_0-abc", "--label", "azsweep.job=s_0",
        "--network", "host", "--init", "--user", ME, "-v", f"{tmp_path}:{tmp_path}", "-w", str(tmp_path / "code"),
        "-e", f"HOME={tmp_path / 'home'}", "-e", "AZUREML_SWEEP_lr", "-e", "MLFLOW_RUN_ID",
        "--gpus", '"device=2,3"', "example.com/img:1", "bash", "-c", "python train.py --lr 0.1",
    ]  # fmt: skip


def test_podman_takes_the_users_namespace_when_rootless_and_cdi_devices_for_gpus() -> None:
    podman = Runtime(path="/usr/bin/podman", kind="podman", rootless=True, init=False)
    args = containers.run_arguments(Container(podman, "img"), "true", name="n", gpus=["0", "1"], shared_ipc=True)
    assert args == [
        "/usr/bin/podman", "run", "--rm", "--name", "n", "--network", "host", "--ipc", "host", "--userns", "keep-id",
        "--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=1", "img", "bash", "-c", "true",
    ]  # fmt: skip
    assert containers.user_arguments(replace(podman, rootless=False)) == ["--user", ME]
    assert containers.user_arguments(replace(DOCKER, rootless=True)) == []  # rootless docker: its root is the user
    assert containers.visible_devices(["2", "3"]) == "0,1" and containers.visible_devices([]) == ""


def test_the_mounts_are_the_trial_folder_inputs_and_the_store_without_nesting(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data.csv"
    trial = home / "sweeps" / "s" / "trials" / "s_0"
    trial.mkdir(parents=True)
    data.write_text("x\n")
    store = tmp_path / "store"
    store.mkdir()
    inputs = [str(data), "azureml://x", None, "/no/such/path"]
    default = containers.trial_mounts(trial, inputs, f"sqlite:///{home}/mlflow.db", str(home))
    assert default == [data, home]  # the SQLite store's folder is the home, which holds the trial's folder
    elsewhere = containers.trial_mounts(trial, [], f"sqlite:///{store}/mlflow.db", str(home))
    assert elsewhere == [trial, store, home / "artifacts"] and (home / "artifacts").is_dir()
    assert containers.trial_mounts(trial, [], "http://127.0.0.1:5000", None) == [trial]
    assert containers.store_folder(f"file://{store}") == store and containers.store_folder("http://x") is None


def test_each_attempt_of_a_trial_has_its_own_container_name(tmp_path: Path) -> None:
    one = containers.container_name("keen_otter_1", tmp_path / "a", "run1")
    assert one.startswith("azsweep-keen_otter_1-") and one == containers.container_name("keen_otter_1", tmp_path / "a", "run1")
    assert one != containers.container_name("keen_otter_1", tmp_path / "a", "run2")
    assert one != containers.container_name("keen_otter_1", tmp_path / "b", "run1")  # another home or sweep
    assert containers.container_name("x", tmp_path, "r", rank=1).endswith("-rank1")


# -- start_process in a container --------------------------------------------------------------------


class Recorded:
    pid = os.getpid()

    def poll(self) -> int | None:
        return 0


class RecordingLauncher:
    def __init__(self) -> None:
        self.launched: list[tuple[str, Path, dict[str, str]]] = []

    def launch(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> Recorded:
        self.launched.append((command, cwd, dict(env)))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        return Recorded()


def _start(tmp_path: Path, trial: dict[str, Any], gpus: list[str] | None) -> tuple[RecordingLauncher, Any, Any]:
    from azsweep.definition import require_spec
    from azsweep.runner.inputs import ResolvedInputs
    from azsweep.runner.layout import SweepFolder
    from azsweep.runner.trial import start_process

    path = write_sweep(
        tmp_path,
        "print('hi')\n",
        {
            "trial": {"command": "python train.py --lr ${{search_space.lr}}", **trial},
            "search_space": {"lr": {"type": "choice", "values": [0.5]}},
        },
    )
    spec, _ = require_spec(path)
    home = tmp_path / ".azsweep"
    folder = SweepFolder(home, "s").trial("s_0")
    launcher = RecordingLauncher()
    base = replace(BaseEnvironment.current(), container=Container(replace(DOCKER, path="/opt/docker"), "img:1"))
    handle = start_process(
        launcher,  # type: ignore[arg-type]
        spec=spec,
        folder=folder,
        code=tmp_path / "src",
        params={"lr": 0.5},
        inputs=ResolvedInputs({}, {}),
        job_name="s_0",
        experiment_name="exp",
        workspace={"subscription_id": "sub", "resource_group_name": "rg", "workspace_name": "ws"},
        run_env={"MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db", "MLFLOW_RUN_ID": "run-7f3a", "AZSWEEP_HOME": str(home)},
        base=base,
        gpus=gpus,
    )
    return launcher, handle, folder


def test_a_trial_runs_as_the_runtimes_client_with_its_variables_passed_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZSWEEP_TEST_UNRELATED", "not for the trial")
    launcher, handle, folder = _start(tmp_path, {}, ["2"])
    [(command, cwd, env)] = launcher.launched
    argv = shlex.split(command)
    assert argv[:3] == ["exec", "/opt/docker", "run"] and argv[-4:] == ["img:1", "bash", "-c", "python train.py --lr 0.5"]
    assert argv[argv.index("--name") + 1] == handle.name and handle.name.startswith("azsweep-s_0-")
    assert ["-v", f"{tmp_path / '.azsweep'}:{tmp_path / '.azsweep'}"] == argv[argv.index("-v") : argv.index("-v") + 2]
    assert cwd == folder.code and argv[argv.index("-w") + 1] == str(folder.code)
    passed = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert f"HOME={folder.root / 'home'}" in passed and (folder.root / "home").is_dir()
    assert {"AZUREML_SWEEP_lr", "AZUREML_RUN_ID", "MLFLOW_RUN_ID", "AZSWEEP_HOME", "CUDA_VISIBLE_DEVICES"} <= set(passed)
    assert "AZSWEEP_TEST_UNRELATED" not in passed and "PATH" not in passed and "VIRTUAL_ENV" not in passed
    assert "run-7f3a" not in command  # values reach the container through the client's environment only
    assert env["MLFLOW_RUN_ID"] == "run-7f3a" and env["AZUREML_SWEEP_lr"] == "0.5"
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and argv[argv.index("--gpus") + 1] == '"device=2"'  # GPU 2 is 0 inside
    assert not folder.env.exists()  # the image's Python: no overlay


def test_a_distributed_trial_runs_a_container_per_rank(tmp_path: Path) -> None:
    launcher, handle, _ = _start(tmp_path, {"distribution": {"type": "pytorch", "process_count_per_instance": 2}}, ["0", "1"])
    assert len(launcher.launched) == 2 and len(handle.ranks) == 2
    names = [r.name for r in handle.ranks]
    assert names[0].endswith("-rank0") and names[1].endswith("-rank1")
    for rank, (command, _, env) in enumerate(launcher.launched):
        argv = shlex.split(command)
        assert argv[argv.index("--ipc") : argv.index("--ipc") + 2] == ["--ipc", "host"]
        assert "RANK" in argv and "MASTER_PORT" in argv and env["RANK"] == str(rank)
        assert argv[argv.index("--gpus") + 1] == f'"device={rank}"' and env["CUDA_VISIBLE_DEVICES"] == "0"


# -- which runtime, and why none -------------------------------------------------------------------


def test_a_runtime_that_cannot_run_containers_is_named_with_its_error(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_runtime(tmp_path / "bin", "docker")
    fake_runtime(tmp_path / "bin", "podman")
    monkeypatch.setenv("FAKE_DOCKER_INFO", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is it running?")
    monkeypatch.setenv("FAKE_PODMAN_RUN", "Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted")
    container, why = containers.find("img:1")
    assert container is None and why == (
        "docker is installed but its daemon does not answer (Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is it running?); podman is installed but cannot run the image here "
        "(Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted)"
    )
    asked = [c["argv"][:2] for c in calls(state)]
    assert asked == [["info", "--format"], ["info", "--format"], ["image", "inspect"], ["run", "--rm"], ["rm", "-f"]]
    assert containers.find("img:1") == (None, why) and len(calls(state)) == 5  # the answers are kept


def test_a_runtime_given_by_the_variable_is_the_one_used(tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_runtime(tmp_path / "bin", "docker")
    mine = fake_runtime(tmp_path / "elsewhere", "podman")
    monkeypatch.setenv(containers.RUNTIME_VARIABLE, str(mine))
    container, _ = containers.find("img:2")
    assert container is not None and (container.runtime.path, container.runtime.kind) == (str(mine), "podman")
    assert {c["kind"] for c in calls(state)} == {"podman"}
    monkeypatch.setenv(containers.RUNTIME_VARIABLE, str(tmp_path / "missing"))
    assert containers.find("img:2") == (None, f"{containers.RUNTIME_VARIABLE}={tmp_path / 'missing'} is not an executable")


def test_the_runtime_is_asked_only_for_an_image_only_environment_under_build(tmp_path: Path, state: Path) -> None:
    from azsweep.runner.environments import base_for, current_notes

    fake_runtime(tmp_path / "bin", "docker")
    image_only = EnvironmentDeclaration(label="img", image="img:3")
    named = EnvironmentDeclaration(label="azureml:AzureML-x@latest", resolvable=False)
    base_for("current", image_only, cache=tmp_path / "cache")
    base_for("build", named, cache=tmp_path / "cache")
    base_for("build", None, cache=tmp_path / "cache")
    current_notes(image_only)
    assert calls(state) == []
    base, notes = base_for("build", image_only, cache=tmp_path / "cache")
    assert base.container is not None and base.container.image == "img:3" and calls(state)
    assert notes == [
        f"note: environment 'img' is an image only (img:3): each trial runs in its own docker container of it "
        f"({tmp_path / 'bin' / 'docker'}), on the image's Python"
    ]


# -- stopping -------------------------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a signal sent a moment ago is given up to 10 s to take effect)."""
    for _ in range(500):
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def _box(state: Path, name: str) -> int:
    """The pid of the stand-in's "container" ``name``, once it started."""
    pid_file = state / f"{name}.pid"
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.02)
    raise AssertionError(f"the container {name} did not start")


@pytest.fixture
def started(tmp_path: Path, state: Path) -> Iterator[Any]:
    """``start(command, env)``: a container of the stand-in runtime through the production launcher."""
    runtime = Runtime(str(fake_runtime(tmp_path / "bin", "docker")), "docker")

    def start(command: str, env: Mapping[str, str] | None = None) -> tuple[containers.ContainerTrial, int]:
        name = containers.container_name("s_0", tmp_path / f"t{len(handles)}", "run")
        handle = containers.start(
            ProcessLauncher(),
            Container(runtime, "img"),
            command,
            name=name,
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
            passed=list(env or {}),
            mounts=[tmp_path],
            home=tmp_path / "home",
            gpus=None,
            log_path=tmp_path / f"log{len(handles)}.txt",
        )
        handles.append(handle)
        boxes.append(_box(state, name))
        return handle, boxes[-1]

    handles: list[containers.ContainerTrial] = []
    boxes: list[int] = []
    yield start
    for handle in handles:
        handle.stop(0.0)
    for box in boxes:  # whatever a failed test left
        with contextlib.suppress(OSError):
            os.killpg(box, signal.SIGKILL)


def test_stopping_a_trial_stops_its_container_term_first_then_kill(started: Any, state: Path) -> None:
    handle, box = started("trap '' TERM; sleep 300 & wait")  # ignores SIGTERM: only `kill` ends it
    assert alive(box)
    code = handle.stop(0.3)
    assert _gone(box) and code == 137  # the client reports its container's end
    kills = [c["argv"] for c in calls(state) if c["argv"][0] == "kill"]
    assert kills[0] == ["kill", "--signal", "TERM", handle.name] and kills[-1] == ["kill", handle.name]


def test_a_client_ended_by_a_signal_has_its_container_killed(started: Any, state: Path) -> None:
    handle, box = started("sleep 300")
    os.kill(handle.pid, signal.SIGKILL)  # the client only: its container lives on
    while handle.poll() is None:
        time.sleep(0.02)
    assert alive(box)
    handle.reap_group()
    assert _gone(box) and ["kill", handle.name] in [c["argv"] for c in calls(state)]


def test_what_a_stopped_driver_left_running_is_stopped_through_the_runtime(
    started: Any, state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HIDE_MARKERS", "1")  # the container's processes are not found by their environment
    markers = {"AZSWEEP_SWEEP_NAME": "s", "AZSWEEP_HOME": str(tmp_path / "home-of-s")}
    handle, box = started("trap '' TERM; sleep 300 & wait", markers)
    ended = stop_marked(*(f"{k}={v}" for k, v in markers.items()), grace=0.3)
    assert ended == [handle.pid]  # the client's process group
    assert _gone(box)
    kills = [c["argv"] for c in calls(state) if c["argv"][0] == "kill"]
    assert kills == [["kill", "--signal", "TERM", handle.name], ["kill", handle.name]]


# -- a sweep through the stand-in runtime -------------------------------------------------------------

TRAIN = """
    import argparse, os, sys, mlflow
    p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); a = p.parse_args()
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/seen.json", "w") as f:
        import json; json.dump({"env": dict(os.environ), "prefix": sys.prefix}, f)
    mlflow.log_metric("loss", a.lr)
"""


@pytest.mark.slow
def test_a_sweep_of_an_image_only_environment_runs_each_trial_in_a_container(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azsweep.runner import Settings, prepare
    from azsweep.runner.lifecycle import run_prepared

    fake_runtime(tmp_path / "bin", "docker")
    monkeypatch.setenv("AZSWEEP_TEST_UNRELATED", "not for the trials")
    path = write_sweep(
        tmp_path,
        TRAIN,
        {
            "trial": {"command": "python train.py --lr ${{search_space.lr}}", "environment": {"image": "example.invalid/x:1"}},
            "search_space": {"lr": {"type": "choice", "values": [0.1, 0.2]}},
            "sampling_algorithm": "grid",
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
        },
    )
    home = tmp_path / ".azsweep"
    settings = Settings.resolve(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    prepared = prepare(path, settings=settings, name="boxed", environment="build")
    record, _ = run_prepared(prepared)
    assert record.status.value == "Completed", (record.message, [t.reason for t in record.trials])
    assert sorted(t.score for t in record.trials) == [0.1, 0.2]
    assert any("each trial runs in its own docker container" in note for note in record.notes)
    runs = [c for c in calls(state) if c["argv"][0] == "run" and "-w" in c["argv"]]  # the trials' (not the check's)
    assert len(runs) == 2
    for trial in record.trials:
        folder = prepared.folder.trial(trial.name)
        [run] = [c for c in runs if c["argv"][c["argv"].index("-w") + 1] == str(folder.code)]
        assert trial.run_id not in json.dumps(run["argv"]) and run["env"]["MLFLOW_RUN_ID"] == trial.run_id
        seen = json.loads((folder.code / "outputs" / "seen.json").read_text())
        assert seen["env"]["AZUREML_SWEEP_lr"] == str(trial.params["lr"]) and seen["env"]["HOME"] == str(folder.root / "home")
        assert "AZSWEEP_TEST_UNRELATED" not in seen["env"] and "VIRTUAL_ENV" not in seen["env"]
        assert not folder.env.exists()


# -- real containers ---------------------------------------------------------------------------------

BASE_IMAGE = f"docker.io/library/python:{sys.version_info.major}.{sys.version_info.minor}-slim"
TEST_IMAGE_VARIABLE = "AZSWEEP_TEST_IMAGE"  # an image with bash, Python and this MLflow, used instead of building one


def _real_runtime() -> tuple[Runtime | None, str]:
    """A runtime that runs containers here, with the image to build the test's from; else None and what is missing."""
    image = os.environ.get(TEST_IMAGE_VARIABLE) or BASE_IMAGE
    reasons = []
    for name in containers.RUNTIMES:
        path = shutil.which(name)
        if path is None:
            reasons.append(f"{name} is not installed")
            continue
        runtime, why = containers.probe(path)
        if runtime is None:
            reasons.append(why)
            continue
        present = subprocess.run([path, "image", "inspect", image], capture_output=True).returncode == 0
        problem = containers.image_problem(runtime, image) if present else f"{name} has no image {image} here"
        if problem is None:
            return runtime, ""
        reasons.append(problem)
    hint = f"pull {BASE_IMAGE}, or set {TEST_IMAGE_VARIABLE} to an image with bash, Python and MLflow"
    return None, "; ".join(reasons) + f" ({hint})"


REAL, MISSING = _real_runtime()


@pytest.mark.slow
@pytest.mark.skipif(REAL is None, reason=f"no container runtime that runs containers here: {MISSING}")
def test_a_sweep_runs_in_real_containers_of_its_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from azsweep.runner import Settings, prepare
    from azsweep.runner.lifecycle import run_prepared

    assert REAL is not None
    image = os.environ.get(TEST_IMAGE_VARIABLE)
    if not image:  # MLflow on the image's Python: the trials reach azsweep's store through its tracking server
        version = metadata.version("mlflow")
        image = f"localhost/azsweep-test:mlflow-{version}"
        (tmp_path / "image").mkdir()
        recipe = f"FROM {BASE_IMAGE}\nRUN pip install --no-cache-dir mlflow=={version}\n"
        (tmp_path / "image" / "Containerfile").write_text(recipe)
        built = subprocess.run([REAL.path, "build", "-t", image, str(tmp_path / "image")], capture_output=True, text=True)
        if built.returncode != 0:
            pytest.skip(f"the test image could not be built (pip needs PyPI): {built.stderr.strip().splitlines()[-1:]}")
    monkeypatch.setenv(containers.RUNTIME_VARIABLE, REAL.path)
    path = write_sweep(
        tmp_path,
        TRAIN + "    print('in a container:', os.path.exists('/.dockerenv') or os.path.exists('/run/.containerenv'))\n",
        {
            "trial": {"command": "python train.py --lr ${{search_space.lr}}", "environment": {"image": image}},
            "search_space": {"lr": {"type": "choice", "values": [0.1, 0.2]}},
            "sampling_algorithm": "grid",
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
        },
    )
    home = tmp_path / ".azsweep"
    settings = Settings.resolve(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    prepared = prepare(path, settings=settings, name="real", environment="build")
    record, _ = run_prepared(prepared)
    assert record.status.value == "Completed", (record.message, [t.reason for t in record.trials])
    assert sorted(t.score for t in record.trials) == [0.1, 0.2]
    for trial in record.trials:
        folder = prepared.folder.trial(trial.name)
        seen = folder.code / "outputs" / "seen.json"
        assert seen.stat().st_uid == os.getuid()  # written as the user
        assert json.loads(seen.read_text())["prefix"] != sys.prefix  # the image's Python
        assert "in a container: True" in folder.log.read_text()

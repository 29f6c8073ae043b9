"""GPUs shared out among running trials, and distributed trials started rank by rank, as Azure starts them.

GPU discovery is faked by a stand-in ``nvidia-smi`` on PATH (the suite needs no GPU); the trials are real
processes. The distributed trials rendezvous over ``MASTER_ADDR:MASTER_PORT`` in pure Python; a
``torch.distributed`` (gloo, CPU) test runs where torch is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from azsweep.errors import ArgumentError
from azsweep.runner import gpus
from azsweep.runner.gpus import GpuPool
from azsweep.runner.ranks import divide_gpus, rank_environments
from azsweep.spec import DistributionSpec, TrialSpec

# -- the rules (pure) ---------------------------------------------------------------------------------


def test_whole_gpus_are_disjoint_and_cap_the_concurrency() -> None:
    pool = GpuPool(["0", "1"], 1)
    assert pool.capacity == 2
    first, second = pool.acquire(), pool.acquire()
    assert first and second and not set(first) & set(second)
    assert pool.acquire() is None
    pool.release(first)
    assert pool.acquire() == first


def test_half_a_gpu_each_puts_two_trials_on_each_gpu() -> None:
    pool = GpuPool(["0", "1"], 0.5)
    assert pool.capacity == 4
    taken = [pool.acquire() for _ in range(4)]
    assert sorted(g for t in taken for g in t or []) == ["0", "0", "1", "1"]
    assert pool.acquire() is None


def test_two_gpus_per_trial() -> None:
    pool = GpuPool(["0", "1", "2", "3", "4"], 2)
    assert pool.capacity == 2 and pool.acquire() == ["0", "1"] and pool.acquire() == ["2", "3"] and pool.acquire() is None


def test_the_gpus_to_share_out() -> None:
    assert gpus.discover({"CUDA_VISIBLE_DEVICES": "2,3", "PATH": ""}) == ["2", "3"]  # the user's restriction
    assert gpus.discover({"CUDA_VISIBLE_DEVICES": "", "PATH": ""}) == []
    assert gpus.choose(None, ["0", "1"]) == ["0", "1"]
    assert gpus.choose("none", ["0", "1"]) == [] and gpus.choose(0, ["0"]) == []
    assert gpus.choose("1", ["0", "1"]) == ["0"] and gpus.choose("1,3", []) == ["1", "3"]
    with pytest.raises(ArgumentError, match=r"^gpus: 3 GPU\(s\) asked for, 2 found \(0, 1\)$"):
        gpus.choose(3, ["0", "1"])


def test_gpus_per_trial_default_and_refusals() -> None:
    cpu = TrialSpec(command="python t.py")
    big = TrialSpec(command="python t.py", instance_type="Standard_NC24s_v3")
    assert gpus.per_trial(None, cpu, "gpu-cluster", ["0"]) == 1  # a compute named *gpu*
    assert gpus.per_trial(None, big, "my-cluster", ["0"]) == 1  # an Azure GPU size
    assert gpus.per_trial(None, cpu, "cpu-cluster", ["0"]) == 0
    assert gpus.per_trial(None, cpu, "gpu-cluster", []) == 0
    with pytest.raises(ArgumentError, match=r"^gpus_per_trial: each trial needs 3 GPU\(s\) and this machine offers 2"):
        gpus.per_trial(3, cpu, None, ["0", "1"])
    with pytest.raises(ArgumentError, match=r"^gpus_per_trial: a fraction of a GPU must be 1/k"):
        gpus.per_trial(0.3, cpu, None, ["0"])


def test_pytorch_ranks_are_numbered_as_azure_numbers_them() -> None:
    trial = TrialSpec(command="x", distribution=DistributionSpec("pytorch", process_count_per_instance=2), instance_count=2)
    envs = rank_environments(trial, [29500])
    assert [(e["RANK"], e["NODE_RANK"], e["LOCAL_RANK"]) for e in envs] == [
        ("0", "0", "0"),
        ("1", "0", "1"),
        ("2", "1", "0"),
        ("3", "1", "1"),
    ]
    assert {e["WORLD_SIZE"] for e in envs} == {"4"} and {e["MASTER_PORT"] for e in envs} == {"29500"}
    assert {e["MASTER_ADDR"] for e in envs} == {"127.0.0.1"}
    assert divide_gpus(["0", "1", "2", "3"], 2) == [["0", "1"], ["2", "3"]] and divide_gpus(["0"], 2) == [["0"], ["0"]]


def test_tensorflow_workers_and_parameter_servers_get_their_tf_config() -> None:
    trial = TrialSpec(command="x", distribution=DistributionSpec("tensorflow", worker_count=2, parameter_server_count=1))
    configs = [json.loads(e["TF_CONFIG"]) for e in rank_environments(trial, [1001, 1002, 1003])]
    cluster = {"worker": ["127.0.0.1:1001", "127.0.0.1:1002"], "ps": ["127.0.0.1:1003"]}
    assert all(c["cluster"] == cluster for c in configs)
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
        {"type": "ps", "index": 0},
    ]


# -- end to end ---------------------------------------------------------------------------------------

RECORD_GPUS = """
import os, sys, time, mlflow
start = time.time()
time.sleep(1.0)
print(f"gpus [{os.environ.get('CUDA_VISIBLE_DEVICES')}]", start, time.time())
mlflow.log_metric("loss", float(sys.argv[1]))
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a stand-in ``nvidia-smi`` listing two GPUs, first on PATH."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 0\necho 1\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / ".azsweep"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_sweep(project: Path, script: str, *, total: int, trial: dict | None = None, compute: str = "gpu-cluster") -> Path:
    (project / "src").mkdir(exist_ok=True)
    (project / "src" / "train.py").write_text(textwrap.dedent(script))
    doc = {
        "type": "sweep",
        "compute": f"azureml:{compute}",
        "experiment_name": project.name,
        "trial": {
            "code": "src",
            "command": "python train.py ${{search_space.x}}",
            "environment": "azureml:env@latest",
            **(trial or {}),
        },
        "sampling_algorithm": "grid",
        "search_space": {"x": {"type": "choice", "values": list(range(total))}},
        "objective": {"goal": "minimize", "primary_metric": "loss"},
        "limits": {"max_total_trials": total, "max_concurrent_trials": 4},
    }
    path = project / "sweep.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def azsweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "azsweep", *args], cwd=cwd, capture_output=True, text=True)


def gpu_intervals(project: Path, name: str) -> list[tuple[str, float, float]]:
    out = []
    for log in sorted((project / ".azsweep/sweeps" / name / "trials").glob("*/user_logs/std_log.txt")):
        line = next(line for line in log.read_text().splitlines() if line.startswith("gpus "))
        _, devices, start, end = line.split()
        out.append((devices.strip("[]"), float(start), float(end)))
    return out


def overlapping(intervals: list[tuple[str, float, float]]) -> int:
    """The most intervals running at one time."""
    return max(sum(1 for _, s, e in intervals if s <= t < e) for _, t, _ in intervals)


@pytest.mark.slow
def test_two_gpus_at_concurrency_4_run_two_trials_at_a_time_on_disjoint_gpus(project: Path) -> None:
    path = write_sweep(project, RECORD_GPUS, total=4)
    done = azsweep("run", str(path), "--name", "whole", "--max-concurrent-trials", "4", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "note: running 2 trial(s) at once, each with 1 of the GPU(s) 0, 1, instead of max_concurrent_trials=4" in done.stderr
    intervals = gpu_intervals(project, "whole")
    assert sorted(d for d, _, _ in intervals) == ["0", "0", "1", "1"]
    assert overlapping(intervals) <= 2
    for devices, start, end in intervals:  # no two running trials share a GPU
        assert not any(d == devices and s < end and start < e for d, s, e in intervals if (d, s, e) != (devices, start, end))
    trials = json.loads(done.stdout)["trials"]
    assert sorted(t["gpus"] for t in trials) == [["0"], ["0"], ["1"], ["1"]]  # recorded, as show reports them


@pytest.mark.slow
def test_half_a_gpu_per_trial_runs_four_at_once(project: Path) -> None:
    path = write_sweep(project, RECORD_GPUS, total=4)
    done = azsweep("run", str(path), "--name", "half", "--max-concurrent-trials", "4", "--gpus-per-trial", "0.5", cwd=project)
    assert done.returncode == 0, done.stderr
    intervals = gpu_intervals(project, "half")
    assert sorted(d for d, _, _ in intervals) == ["0", "0", "1", "1"] and overlapping(intervals) == 4


@pytest.mark.slow
def test_a_cpu_job_on_a_gpu_machine_sees_no_gpu_and_too_many_gpus_are_refused(project: Path) -> None:
    path = write_sweep(project, RECORD_GPUS, total=2, compute="cpu-cluster")
    done = azsweep("run", str(path), "--name", "cpu", cwd=project)
    assert done.returncode == 0, done.stderr
    assert [d for d, _, _ in gpu_intervals(project, "cpu")] == ["", ""]  # CUDA_VISIBLE_DEVICES empty: no GPU
    refused = azsweep("run", str(path), "--name", "big", "--gpus-per-trial", "3", cwd=project)
    assert refused.returncode == 1 and not (project / ".azsweep/sweeps/big").exists()
    assert refused.stderr.strip().splitlines()[-1] == (
        "azsweep: error: --gpus-per-trial: each trial needs 3 GPU(s) and this machine offers 2 (0, 1)"
    )


RENDEZVOUS = """
import json, os, socket, sys, time, mlflow
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
address = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
seen = {k: os.environ[k] for k in ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "CUDA_VISIBLE_DEVICES")}
print("rank variables", json.dumps(seen))
if os.environ.get("FAIL_RANK") == str(rank):
    raise SystemExit(f"rank {rank} fails on purpose")
if rank == 0:  # an all-reduce (sum of ranks + 1) over the master's address
    server = socket.create_server(address)
    total = 1
    for _ in range(world - 1):
        conn, _ = server.accept()
        total += int(conn.recv(16).decode())
        conn.close()
    print("all-reduce", total)
    mlflow.log_metric("loss", float(total))  # rank 0 logs the trial's metric
else:
    for _ in range(200):
        try:
            conn = socket.create_connection(address)
            break
        except OSError:
            time.sleep(0.05)
    conn.sendall(str(rank + 1).encode())
    conn.close()
"""


@pytest.mark.slow
def test_a_pytorch_distribution_starts_every_rank_as_one_trial(project: Path) -> None:
    distribution = {"distribution": {"type": "pytorch", "process_count_per_instance": 2}}
    path = write_sweep(project, RENDEZVOUS, total=1, trial=distribution)
    done = azsweep("run", str(path), "--name", "ddp", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    (trial,) = json.loads(done.stdout)["trials"]
    assert trial["status"] == "Completed" and trial["score"] == 3.0 and trial["intervals"] == 1  # one metric stream
    assert trial["gpus"] == ["0", "1"]  # a GPU per rank, by default on GPU compute
    logs = project / ".azsweep/sweeps/ddp/trials/ddp_0/user_logs"
    ranks = [
        json.loads(f.read_text().split("rank variables ", 1)[1].splitlines()[0])
        for f in sorted(logs.glob("std_log_process_*.txt"))
    ]
    assert [(r["RANK"], r["LOCAL_RANK"], r["NODE_RANK"], r["WORLD_SIZE"]) for r in ranks] == [
        ("0", "0", "0", "2"),
        ("1", "1", "0", "2"),
    ]
    assert [r["CUDA_VISIBLE_DEVICES"] for r in ranks] == ["0", "1"]  # the trial's GPUs divided among its ranks
    assert "all-reduce 3" in (logs / "std_log.txt").read_text()  # std_log.txt is rank 0's


@pytest.mark.slow
def test_one_failing_rank_fails_the_trial_and_stops_the_others(project: Path) -> None:
    distribution = {
        "distribution": {"type": "pytorch", "process_count_per_instance": 2},
        "environment_variables": {"FAIL_RANK": "1"},
    }
    path = write_sweep(project, RENDEZVOUS, total=1, trial=distribution, compute="cpu-cluster")
    done = azsweep("run", str(path), "--name", "broken", "--json", cwd=project)
    assert done.returncode == 1
    (trial,) = json.loads(done.stdout)["trials"]
    assert trial["status"] == "Failed" and "rank 1 fails on purpose" in trial["reason"]  # the failing rank's last line
    leftover = subprocess.run(["pgrep", "-f", "broken_0/code"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""  # rank 0, waiting for rank 1, is gone too


@pytest.mark.slow
def test_a_tensorflow_distribution_gives_each_worker_its_tf_config(project: Path) -> None:
    script = """
    import json, os, mlflow
    config = json.loads(os.environ["TF_CONFIG"])
    print("tf_config", json.dumps(config))
    if config["task"] == {"type": "worker", "index": 0}:
        mlflow.log_metric("loss", float(len(config["cluster"]["worker"])))
    """
    distribution = {"distribution": {"type": "tensorflow", "worker_count": 2}}
    path = write_sweep(project, script, total=1, trial=distribution, compute="cpu-cluster")
    done = azsweep("run", str(path), "--name", "tf", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trials"][0]["score"] == 2.0
    logs = sorted((project / ".azsweep/sweeps/tf/trials/tf_0/user_logs").glob("std_log_process_*.txt"))
    tasks = [json.loads(f.read_text().split("tf_config ", 1)[1].splitlines()[0])["task"] for f in logs]
    assert tasks == [{"type": "worker", "index": 0}, {"type": "worker", "index": 1}]


@pytest.mark.slow
def test_torch_distributed_gloo_all_reduce_on_cpu(project: Path) -> None:
    pytest.importorskip("torch", reason="torch is not installed (its CPU build is large; the rendezvous test above runs always)")
    script = """
    import mlflow, torch, torch.distributed as dist
    dist.init_process_group("gloo")
    value = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(value)
    if dist.get_rank() == 0:
        mlflow.log_metric("loss", float(value.item()))
    dist.destroy_process_group()
    """
    path = write_sweep(
        project,
        script,
        total=1,
        trial={"distribution": {"type": "pytorch", "process_count_per_instance": 2}},
        compute="cpu-cluster",
    )
    done = azsweep("run", str(path), "--name", "gloo", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trials"][0]["score"] == 3.0


@pytest.mark.parametrize(
    ("distribution", "path", "message"),
    [
        ({"distributionType": "Horovod"}, "trial.distribution.type", "must be pytorch, tensorflow or mpi (got 'horovod')"),
        (
            {"distributionType": "PyTorch", "processCountPerInstance": 0},
            "trial.distribution.process_count_per_instance",
            "must be an integer >= 1 (got 0)",
        ),
        (
            {"distributionType": "TensorFlow", "workerCount": 2, "parameterServerCount": -1},
            "trial.distribution.parameter_server_count",
            "must be an integer >= 0 (got -1)",
        ),
    ],
)
def test_the_distribution_block_is_checked(distribution: dict, path: str, message: str) -> None:
    from azsweep.spec import build_spec

    props = {
        "samplingAlgorithm": {"samplingAlgorithmType": "Random"},
        "searchSpace": {"x": ["choice", [[1, 2]]]},
        "objective": {"goal": "Minimize", "primaryMetric": "loss"},
        "limits": {"maxTotalTrials": 2},
        "trial": {"command": "python t.py ${{search_space.x}}", "distribution": distribution},
    }
    spec, problems = build_spec(props)
    assert spec is None
    assert [(p.path, p.message) for p in problems if p.severity == "error"] == [(path, message)]

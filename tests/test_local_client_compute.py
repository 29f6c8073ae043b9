"""LocalClient.compute: every compute name is this machine, described as it is."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from azure.ai.ml.entities import AmlCompute, ComputeInstance

from azsweep import LocalClient
from azsweep.errors import ArgumentError
from azsweep.local_client import Done, LocalCompute, LocalComputeOperations, Machine
from azsweep.local_client.compute import this_machine

SMI = "GPU 0: NVIDIA H200 (UUID: GPU-0b6c7d1e-aaaa)\nGPU 1: NVIDIA H200 (UUID: GPU-1c7d8e2f-bbbb)\n"


def fake_run(stdout: str = SMI, returncode: int = 0, calls: list[list[str]] | None = None) -> Any:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if calls is not None:
            calls.append(cmd)
        return subprocess.CompletedProcess(cmd, returncode, stdout=stdout, stderr="")

    return run


def test_this_machine_counts_the_gpus_nvidia_smi_lists() -> None:
    calls: list[list[str]] = []
    machine = this_machine(run=fake_run(calls=calls), which=lambda exe: "/usr/bin/nvidia-smi")
    assert calls == [["/usr/bin/nvidia-smi", "-L"]]
    assert machine.gpu_names == ("NVIDIA H200", "NVIDIA H200")
    assert machine.cores == os.cpu_count()
    assert "2 GPUs (NVIDIA H200)" in machine.describe()


def test_this_machine_without_nvidia_smi_has_no_gpu() -> None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nvidia-smi is not there: nothing to run")

    machine = this_machine(run=never, which=lambda exe: None)
    assert machine.gpu_names == ()
    assert "no GPU" in machine.describe()


def timing_out(cmd: list[str], **kwargs: Any) -> Any:
    raise subprocess.TimeoutExpired(cmd, kwargs.get("timeout", 0))


def not_runnable(cmd: list[str], **kwargs: Any) -> Any:
    raise PermissionError(13, "Permission denied", cmd[0])


@pytest.mark.parametrize(
    "run",
    [
        fake_run(stdout="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", returncode=9),
        timing_out,
        not_runnable,
    ],
    ids=["driver-error", "timeout", "not-runnable"],
)
def test_a_failing_nvidia_smi_means_no_gpu(run: Any) -> None:
    assert this_machine(run=run, which=lambda exe: "/usr/bin/nvidia-smi").gpu_names == ()


def test_memory_is_this_machines_when_it_can_be_read() -> None:
    machine = this_machine(run=fake_run(), which=lambda exe: None)
    if not hasattr(os, "sysconf"):  # Windows: not known, and not made up
        assert machine.memory_gb is None and "memory" not in machine.describe()
        return
    expected = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    assert machine.memory_gb == pytest.approx(expected)
    assert f"{expected:.1f} GiB memory" in machine.describe()


@pytest.fixture
def ops() -> LocalComputeOperations:
    return LocalComputeOperations(machine=lambda: Machine(cores=12, memory_gb=31.25, gpu_names=("NVIDIA A100",)))


def test_get_returns_this_machine_under_the_name_asked_for(
    ops: LocalComputeOperations, capsys: pytest.CaptureFixture[str]
) -> None:
    compute = ops.get("cpu-cluster")
    assert isinstance(compute, LocalCompute)
    assert (compute.name, compute.type, compute.size, compute.provisioning_state) == (
        "cpu-cluster",
        "local",
        "local",
        "Succeeded",
    )
    assert (compute.cores, compute.memory_gb, compute.gpus, compute.gpu_names) == (12, 31.2, 1, ["NVIDIA A100"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "'cpu-cluster'" in out and "local runs use this machine" in out
    ops.get("cpu-cluster")
    assert capsys.readouterr().out == ""  # said once per name


def test_begin_create_or_update_returns_a_finished_poller_and_says_nothing_is_created(
    ops: LocalComputeOperations, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = AmlCompute(name="cpu-cluster", size="STANDARD_DS3_V2", min_instances=0, max_instances=4, tier="Dedicated")
    poller = ops.begin_create_or_update(asked)
    assert isinstance(poller, Done) and poller.done() and poller.status() == "Succeeded"
    compute = poller.result()
    assert compute.name == "cpu-cluster" and compute.size == "local" and compute.cores == 12
    out = capsys.readouterr().out.strip()
    assert "AmlCompute STANDARD_DS3_V2, not created" in out and "12 CPU cores" in out and "1 GPU (NVIDIA A100)" in out
    seen: list[Any] = []
    poller.add_done_callback(seen.append)
    assert seen == [poller]
    assert ops.begin_create_or_update(ComputeInstance(name="ci", size="Standard_DS11_v2")).result().name == "ci"


def test_list_is_one_local_compute(ops: LocalComputeOperations) -> None:
    assert [c.name for c in ops.list()] == ["local"]
    assert [c.name for c in ops.list(compute_type="local")] == ["local"]
    assert ops.list(compute_type="AmlCompute") == []


@pytest.mark.parametrize("value", [None, "", "a/b"])
def test_get_with_no_usable_name_names_the_argument(ops: LocalComputeOperations, value: Any) -> None:
    with pytest.raises(ArgumentError, match=r"^name: expected a job name"):
        ops.get(value)


def test_begin_create_or_update_takes_a_compute_entity(ops: LocalComputeOperations) -> None:
    with pytest.raises(ArgumentError, match=r"^compute: expected an azure.ai.ml compute .*got 'cpu-cluster'"):
        ops.begin_create_or_update("cpu-cluster")


def test_the_client_has_the_compute_group(tmp_path: Any) -> None:
    client = LocalClient(home=tmp_path)
    assert client.compute.get("anything").cores == os.cpu_count()

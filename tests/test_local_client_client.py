"""LocalClient as MLClient: construction, create_or_update dispatch, and the groups that need Azure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml import MLClient, command
from azure.ai.ml.entities import (
    AmlCompute,
    BatchEndpoint,
    Data,
    Environment,
    ManagedOnlineEndpoint,
    Model,
    Workspace,
)
from azure.ai.ml.sweep import Choice

import azsweep
from azsweep import LocalClient
from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client import Done, LocalCompute, UnsupportedOperations
from azsweep.local_client.unsupported import REASONS


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalClient:
    monkeypatch.chdir(tmp_path)
    return LocalClient(home=tmp_path / "home")


def sweep_node() -> Any:
    job = command(code=".", command="python train.py ${{inputs.x}}", environment="env@latest", inputs={"x": 1})
    return job(x=Choice([1, 2])).sweep(primary_metric="loss", goal="minimize", max_total_trials=2)


def test_the_one_line_change_takes_mlclients_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / "from-env"))
    client = LocalClient(object(), "<SUBSCRIPTION_ID>", "<RESOURCE_GROUP>", "<AML_WORKSPACE_NAME>")
    assert client.home == tmp_path / "from-env"
    client = LocalClient(
        credential=object(), subscription_id="s", resource_group_name="r", workspace_name="w", home=tmp_path / "h"
    )
    assert client.home == tmp_path / "h"
    assert LocalClient.from_config(credential=object(), path="config.json").home == tmp_path / "from-env"
    assert azsweep.LocalClient is LocalClient


def test_create_or_update_sends_a_sweep_to_jobs(client: LocalClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(client.jobs, "create_or_update", lambda job, **kwargs: calls.append((job, kwargs)) or "started")
    node = sweep_node()
    assert client.create_or_update(node, experiment_name="e") == "started"
    assert client.create_or_update("sweep.yml") == "started"
    poller = client.begin_create_or_update(node)
    assert isinstance(poller, Done) and poller.result() == "started"
    assert calls == [(node, {"experiment_name": "e"}), ("sweep.yml", {}), (node, {})]


def test_create_or_update_sends_environments_data_and_computes_to_their_groups(client: LocalClient, tmp_path: Path) -> None:
    env = client.create_or_update(Environment(name="sklearn-env", image="python:3.11"))
    assert isinstance(env, Environment) and env.version == "1"
    assert client.environments.get("sklearn-env", version="1").image == "python:3.11"
    (tmp_path / "iris.csv").write_text("a\n")
    data = client.create_or_update(Data(name="iris", path="iris.csv", type="uri_file"))
    assert isinstance(data, Data) and data.path == str(tmp_path / "iris.csv")
    compute = client.begin_create_or_update(AmlCompute(name="cpu-cluster", size="STANDARD_DS3_V2")).result()
    assert isinstance(compute, LocalCompute) and compute.name == "cpu-cluster" and compute.size == "local"
    assert client.create_or_update(AmlCompute(name="gpu-cluster")).name == "gpu-cluster"


@pytest.mark.parametrize(
    ("entity", "operation"),
    [
        (ManagedOnlineEndpoint(name="ep"), "online_endpoints.begin_create_or_update"),
        (BatchEndpoint(name="bep"), "batch_endpoints.begin_create_or_update"),
        (Workspace(name="ws"), "workspaces.begin_create_or_update"),
    ],
)
def test_entities_of_groups_that_need_azure_are_refused_by_operation(client: LocalClient, entity: Any, operation: str) -> None:
    with pytest.raises(AzsweepError, match=rf"^LocalClient\.{operation}: .*; use MLClient \(or azsweep submit\) for this step$"):
        client.begin_create_or_update(entity)


def test_create_or_update_of_a_model_goes_to_the_models_group(client: LocalClient) -> None:
    model = Model(name="run-model-example", path="azureml://jobs/x/outputs/artifacts/paths/m/", type="custom_model")
    with pytest.raises(AzsweepError, match=r"^LocalClient\.models\.create_or_update: no local job named 'x' in "):
        client.create_or_update(model)
    with pytest.raises(AzsweepError, match=r"^LocalClient\.models\.share: not available locally"):
        client.models.share("run-model-example", "1", share_with_name="m", share_with_version="1", registry_name="r")


def test_anything_else_is_one_error_naming_its_type(client: LocalClient) -> None:
    with pytest.raises(ArgumentError, match=r"^entity: LocalClient.create_or_update takes a sweep or command job, .* got 42$"):
        client.create_or_update(42)
    with pytest.raises(ArgumentError, match=r"^entity: LocalClient.begin_create_or_update takes .* got a dict$"):
        client.begin_create_or_update({"name": "x"})
    with pytest.raises(ArgumentError, match=r"^tags: LocalClient.create_or_update takes keyword arguments for jobs only"):
        client.create_or_update(Environment(name="e", image="i"), tags={"a": "b"})


def test_online_endpoints_example_message(client: LocalClient) -> None:
    endpoints = client.online_endpoints  # getting the group works, as in a notebook
    with pytest.raises(AzsweepError) as info:
        endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="ep"))
    assert str(info.value) == (
        "LocalClient.online_endpoints.begin_create_or_update: online endpoints need a real Azure ML workspace; "
        "use MLClient (or azsweep submit) for this step"
    )


def mlclient_groups() -> list[str]:
    return sorted(
        name
        for name in dir(MLClient)
        if isinstance(getattr(MLClient, name), property)
        and name not in ("subscription_id", "resource_group_name", "workspace_name")
        and name not in ("jobs", "compute", "environments", "data", "models")
    )


@pytest.mark.parametrize("group", mlclient_groups())
def test_every_other_mlclient_group_is_there_and_refuses_each_operation(client: LocalClient, group: str) -> None:
    ops = getattr(client, group)
    assert isinstance(ops, UnsupportedOperations) and getattr(client, group) is ops
    real = getattr(MLClient, group).fget.__annotations__["return"]  # the class of MLClient's group
    operations = [n for n in dir(real) if not n.startswith("_") and callable(getattr(real, n))]
    assert operations
    for name in operations:
        method = getattr(ops, name)  # getting it never fails
        with pytest.raises(AzsweepError, match=rf"^LocalClient\.{group}\.{name}: "):
            method("x")


def test_the_refused_groups_listed_are_mlclients() -> None:
    assert set(REASONS) <= set(mlclient_groups())


def test_names_mlclient_lacks_are_attribute_errors(client: LocalClient) -> None:
    with pytest.raises(AttributeError, match="'LocalClient' has no attribute 'online_endpoint'"):
        client.online_endpoint  # noqa: B018
    with pytest.raises(AttributeError, match=r"nor has MLClient\.online_endpoints"):
        client.online_endpoints.begin_create  # noqa: B018
    assert not hasattr(client.online_endpoints, "_repr_html_")  # notebooks probe private names


@pytest.mark.parametrize("name", ["subscription_id", "resource_group_name", "workspace_name"])
def test_workspace_fields_are_refused(client: LocalClient, name: str) -> None:
    with pytest.raises(AzsweepError, match=rf"^LocalClient\.{name}: local runs have no Azure ML workspace"):
        getattr(client, name)


def test_other_job_operations_are_refused_by_name(client: LocalClient) -> None:
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.download: no local job named 'some-job' in "):
        client.jobs.download("some-job", download_path=".")
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.validate: azsweep\.validate\(job\) checks a sweep locally"):
        client.jobs.validate(object())
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.archive: not available for local jobs"):
        client.jobs.archive("some-job")
    with pytest.raises(AzsweepError, match=r"^LocalClient\.compute\.begin_delete: local runs use this machine"):
        client.compute.begin_delete("cpu-cluster")

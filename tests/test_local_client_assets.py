"""LocalClient.environments and LocalClient.data: versioned records under the home folder, with Azure ML's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.ai.ml.entities import BuildContext, Data, Environment

from azsweep import LocalClient
from azsweep.errors import ArgumentError, AzsweepError

CONDA = "name: sklearn-env\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.8\n  - scikit-learn=0.24.2\n"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalClient:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "conda.yaml").write_text(CONDA)
    return LocalClient(home=tmp_path / "home")


def sklearn_env(**changes: object) -> Environment:
    fields: dict[str, object] = {
        "name": "sklearn-env",
        "description": "Custom environment for sklearn image classification",
        "conda_file": "env/conda.yaml",
        "image": IMAGE,
    }
    fields.update(changes)
    return Environment(**fields)  # type: ignore[arg-type]


# -- environments --------------------------------------------------------------------------------


def test_an_environment_is_recorded_as_json_per_name_and_version(client: LocalClient) -> None:
    env = client.environments.create_or_update(sklearn_env())
    assert isinstance(env, Environment)
    assert (env.name, env.version, env.image) == ("sklearn-env", "1", IMAGE)
    assert env.conda_file["dependencies"] == ["python=3.8", "scikit-learn=0.24.2"]
    path = client.home / "assets" / "environments" / "sklearn-env" / "1.json"
    record = json.loads(path.read_text())
    assert record["image"] == IMAGE and record["conda_file"]["name"] == "sklearn-env"
    assert record["description"] == "Custom environment for sklearn image classification"
    assert env.properties["azsweep.record"] == str(path)


def test_without_a_version_the_same_definition_keeps_its_version_and_a_changed_one_gets_the_next(
    client: LocalClient, tmp_path: Path
) -> None:
    """As the sklearn notebook does: the same environment twice, then with one more conda dependency."""
    assert client.environments.create_or_update(sklearn_env()).version == "1"
    again = client.environments.create_or_update(sklearn_env(description="same image and conda file"))
    assert again.version == "1" and again.description == "same image and conda file"
    (tmp_path / "env" / "conda.yaml").write_text(CONDA + "  - scikit-learn-intelex\n")
    changed = client.environments.create_or_update(sklearn_env())
    assert changed.version == "2" and "scikit-learn-intelex" in changed.conda_file["dependencies"]
    assert client.environments.get("sklearn-env", version="1").conda_file["dependencies"][-1] == "scikit-learn=0.24.2"
    assert client.environments.get("sklearn-env", label="latest").version == "2"
    assert [e.version for e in client.environments.list("sklearn-env")] == ["2", "1"]


def test_an_automatic_version_follows_the_highest_integer_version(client: LocalClient) -> None:
    client.environments.create_or_update(sklearn_env(version="7"))
    client.environments.create_or_update(sklearn_env(version="beta", image="other:1"))
    assert client.environments.create_or_update(sklearn_env(image="other:2")).version == "8"


def test_latest_is_the_version_created_last_not_the_highest(client: LocalClient) -> None:
    client.environments.create_or_update(sklearn_env(version="5"))
    client.environments.create_or_update(sklearn_env(version="2", image="other:2"))
    assert client.environments.get("sklearn-env", label="latest").version == "2"
    client.environments.create_or_update(sklearn_env(version="5", description="updated"))  # an update is no new version
    assert client.environments.get("sklearn-env", label="latest").version == "2"


def test_a_recorded_version_does_not_change(client: LocalClient) -> None:
    client.environments.create_or_update(sklearn_env(version="1"))
    with pytest.raises(AzsweepError, match=r"environments.create_or_update: environment sklearn-env:1 is already recorded"):
        client.environments.create_or_update(sklearn_env(version="1", image="other:1"))
    assert client.environments.get("sklearn-env", version="1").image == IMAGE


def test_jobs_can_name_an_environment_as_name_version_or_name_at_latest(client: LocalClient) -> None:
    first = client.environments.create_or_update(sklearn_env())
    client.environments.create_or_update(sklearn_env(image="other:2"))
    assert client.environments.resolve(f"{first.name}:{first.version}").image == IMAGE
    assert client.environments.resolve("azureml:sklearn-env:1").image == IMAGE
    assert client.environments.resolve("sklearn-env@latest").image == "other:2"
    assert client.environments.resolve("azureml:sklearn-env@latest").version == "2"
    with pytest.raises(
        ArgumentError, match=r"'sklearn-env' names no version; write 'sklearn-env:<version>' or 'sklearn-env@latest'"
    ):
        client.environments.resolve("sklearn-env")


def test_get_follows_mlclients_rules_for_version_and_label(client: LocalClient) -> None:
    client.environments.create_or_update(sklearn_env())
    with pytest.raises(ArgumentError, match=r"^version: give version=\.\.\. or label='latest'"):
        client.environments.get("sklearn-env")
    with pytest.raises(ArgumentError, match=r"^label: give version or label, not both"):
        client.environments.get("sklearn-env", version="1", label="latest")
    with pytest.raises(ArgumentError, match=r"^label: the only label is 'latest' \(got 'prod'\)"):
        client.environments.get("sklearn-env", label="prod")
    with pytest.raises(AzsweepError, match=r"no local environment sklearn-env:9 .*recorded versions: 1"):
        client.environments.get("sklearn-env", version="9")
    with pytest.raises(AzsweepError, match=r"no local environment other@latest .*environments.create_or_update"):
        client.environments.get("other", label="latest")


def test_list_without_a_name_is_the_latest_version_of_each(client: LocalClient) -> None:
    assert client.environments.list() == []
    client.environments.create_or_update(sklearn_env())
    client.environments.create_or_update(sklearn_env(image="other:2"))
    client.environments.create_or_update(Environment(name="torch-env", image="pytorch:2"))
    assert sorted((e.name, e.version) for e in client.environments.list()) == [("sklearn-env", "2"), ("torch-env", "1")]


def test_a_build_context_is_recorded_with_an_absolute_path(client: LocalClient, tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    env = client.environments.create_or_update(Environment(name="built", build=BuildContext(path="docker")))
    assert env.build is not None and env.build.path == str(tmp_path / "docker")


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ("sklearn-env", r"^environment: expected an azure.ai.ml.entities.Environment, got 'sklearn-env'"),
        (Environment(name="no-image", conda_file={"dependencies": ["python=3.10"]}), r"^environment.image: .*needs an image"),
        (Environment(name="bad/name", image="x"), r"^environment.name: expected letters, digits"),
    ],
)
def test_environment_argument_errors_name_the_argument(client: LocalClient, environment: object, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        client.environments.create_or_update(environment)  # type: ignore[arg-type]
    assert not (client.home / "assets").exists()


def test_a_corrupt_record_is_reported_with_its_path(client: LocalClient) -> None:
    client.environments.create_or_update(sklearn_env())
    path = client.home / "assets" / "environments" / "sklearn-env" / "1.json"
    path.write_text("{not json")
    with pytest.raises(AzsweepError, match=r"1.json: not a readable environment record"):
        client.environments.get("sklearn-env", version="1")


# -- data ----------------------------------------------------------------------------------------


def test_a_local_file_is_recorded_with_its_absolute_path(client: LocalClient, tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_text("a,b\n1,2\n")
    data = client.data.create_or_update(Data(name="iris", path="iris.csv", type="uri_file", description="Iris"))
    assert isinstance(data, Data)
    assert (data.name, data.version, data.type, data.path) == ("iris", "1", "uri_file", str(tmp_path / "iris.csv"))
    record = json.loads((client.home / "assets" / "data" / "iris" / "1.json").read_text())
    assert record["path"] == str(tmp_path / "iris.csv") and record["description"] == "Iris"


def test_data_without_a_version_always_gets_the_next_one(client: LocalClient, tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_text("a,b\n")
    (tmp_path / "folder").mkdir()
    assert client.data.create_or_update(Data(name="iris", path="iris.csv", type="uri_file")).version == "1"
    assert client.data.create_or_update(Data(name="iris", path="iris.csv", type="uri_file")).version == "2"
    assert client.data.create_or_update(Data(name="iris", path="folder", type="uri_folder")).version == "3"
    assert client.data.get("iris", label="latest").type == "uri_folder"
    assert client.data.resolve("azureml:iris:1").path == str(tmp_path / "iris.csv")
    assert [d.version for d in client.data.list("iris")] == ["3", "2", "1"]
    assert [(d.name, d.version) for d in client.data.list()] == [("iris", "3")]


def test_a_recorded_data_version_keeps_its_path(client: LocalClient, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a\n")
    (tmp_path / "b.csv").write_text("b\n")
    client.data.create_or_update(Data(name="d", version="1", path="a.csv", type="uri_file"))
    updated = client.data.create_or_update(
        Data(name="d", version="1", path="a.csv", type="uri_file", description="now described")
    )
    assert updated.description == "now described"
    with pytest.raises(
        AzsweepError, match=r"data asset d:1 is already recorded for .*a.csv \(uri_file\).*none for the next one \(2\)"
    ):
        client.data.create_or_update(Data(name="d", version="1", path="b.csv", type="uri_file"))


@pytest.mark.parametrize(
    ("path", "kind", "message"),
    [
        ("missing.csv", "uri_file", r"^data.path: '.*missing.csv' does not exist"),
        ("https://azuremlexamples.blob.core.windows.net/datasets/iris.csv", "uri_file", r"^data.path: .* is not a local path"),
        ("azureml://datastores/workspaceblobstore/paths/iris.csv", "uri_file", r"^data.path: .* is not a local path"),
        ("folder", "uri_file", r"^data.path: '.*folder' is not a file as uri_file needs; give type='uri_folder'"),
        ("iris.csv", "uri_folder", r"^data.path: '.*iris.csv' is not a folder as uri_folder needs; give type='uri_file'"),
        ("folder", "mltable", r"^data.type: local data assets are uri_file or uri_folder \(got 'mltable'\)"),
    ],
)
def test_data_errors_name_the_argument(client: LocalClient, tmp_path: Path, path: str, kind: str, message: str) -> None:
    (tmp_path / "iris.csv").write_text("a\n")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ArgumentError, match=message):
        client.data.create_or_update(Data(name="d", path=path, type=kind))
    assert client.data.list() == []


def test_data_get_follows_mlclients_rules(client: LocalClient) -> None:
    with pytest.raises(ArgumentError, match=r"^version: give version=\.\.\. or label='latest'"):
        client.data.get("iris")
    with pytest.raises(AzsweepError, match=r"no local data asset iris:1 in .*data.create_or_update"):
        client.data.get("iris", version="1")


def test_other_environment_and_data_operations_are_refused_by_name(client: LocalClient) -> None:
    with pytest.raises(AzsweepError, match=r"^LocalClient.environments.archive: environments are only recorded locally"):
        client.environments.archive("sklearn-env", version="1")
    with pytest.raises(AzsweepError, match=r"^LocalClient.data.mount: data assets are only recorded locally"):
        client.data.mount("azureml:iris:1")
    with pytest.raises(AttributeError, match="nor has MLClient.data"):
        client.data.no_such_method  # noqa: B018

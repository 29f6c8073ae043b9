"""Submission to Azure ML, offline: the exact PUT azsweep sends equals the one azure-ai-ml sends itself.

Every ``MLClient`` here has a fake credential and a recording azure-core transport (as in
``shared/docs/azure-probes/mlclient_offline_capture.py``): nothing leaves the machine. The recorder
answers azure-ai-ml's code lookup by content hash ("already uploaded", with an id derived from the
hash, so two submissions of the same folder get the same ``codeId``) and echoes the job PUT back.

Git properties (``mlflow.source.git.*``, ``azureml.git.*``) that azure-ai-ml adds when it runs in a
git checkout may differ between calls (e.g. the dirty flag): ``comparable`` removes those fields, and
only those, before bodies are compared.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.ai.ml import MLClient, command, load_job
from azure.ai.ml import sweep as azure_sweep
from azure.ai.ml.constants._common import GitProperties
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.core.pipeline.transport import HttpTransport

import azsweep
from azsweep import sweep as our_sweep
from azsweep.cli import main
from azsweep.definition import load_spec
from azsweep.errors import DefinitionError, SubmitError
from azsweep.spec import build_spec
from azsweep.submission import bridge
from azsweep.submission.dry_run import _Response, dry_run  # the offline HTTP response the dry run answers with
from azsweep.submission.from_local import from_local

SUB, RG, WS = "00000000-0000-0000-0000-000000000000", "rg-parity", "ws-parity"
ARM = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted(ROOT.glob("samples/*/sweep.yml"))
GIT_KEYS = {v for k, v in vars(GitProperties).items() if k.startswith("PROP_")}


# --- the offline MLClient -----------------------------------------------------------------------


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo("fake-token", int(time.time()) + 3600)


class RaisingCredential(FakeCredential):
    """What DefaultAzureCredential raises on a machine where nobody signed in."""

    MESSAGE = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:\n"
        "\tEnvironmentCredential: EnvironmentCredential authentication unavailable.\n"
        "\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable.\n"
        "\tAzureCliCredential: Azure CLI not found on path\n"
        "To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/x."
    )

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError(self.MESSAGE)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        raise ClientAuthenticationError(self.MESSAGE)


class Recorder(HttpTransport):
    """Records every request; answers code lookups, environment registrations and the job PUT."""

    def __init__(self, fail: BaseException | None = None, status: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail, self.status = fail, status

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> _Response:
        raw = request.data if request.data is not None else getattr(request, "body", None)
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode()
        body = json.loads(raw) if raw else None
        self.requests.append({"method": request.method, "url": request.url, "body": body})
        if self.fail is not None:
            raise self.fail
        path = request.url.split("?")[0].split("management.azure.com")[1]
        if self.status is not None:
            return _Response(request, self.status, {"error": {"code": "AuthorizationFailed", "message": "not allowed"}})
        digest = re.search(r"hash=([0-9a-f]+)", request.url)
        if request.method == "GET" and digest:
            arm_id = re.sub(r"/codes/[^/]+/versions$", f"/codes/code-{digest.group(1)[:16]}/versions/1", path)
            return _Response(request, 200, {"value": [{"id": arm_id, "name": "1", "properties": {"codeUri": "x"}}]})
        if request.method == "GET" and "/codes/" in path:
            return _Response(request, 200, {"id": path, "name": "1", "properties": {"codeUri": "x"}})
        if request.method == "PUT":
            answer = {**copy.deepcopy(body), "id": path, "name": path.rsplit("/", 1)[1]}
            if "/jobs/" in path:
                answer["properties"]["status"] = "NotStarted"
                answer["properties"]["services"] = {"Studio": {"endpoint": f"https://ml.azure.com/runs/{answer['name']}"}}
            return _Response(request, 201, answer)
        return _Response(request, 404, {"error": {"code": "NotFound", "message": "offline"}})

    @property
    def puts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "PUT" and "/jobs/" in r["url"]]


def client(transport: Recorder, credential: Any = None) -> MLClient:
    return MLClient(credential or FakeCredential(), SUB, RG, WS, transport=transport)


def comparable(request: dict[str, Any]) -> dict[str, Any]:
    """The request with azure-ai-ml's git properties removed (they may differ between calls); nothing else changed."""
    out = copy.deepcopy(request)
    props = (out.get("body") or {}).get("properties", {}).get("properties")
    if isinstance(props, dict):
        for key in GIT_KEYS & set(props):
            del props[key]
    return out


def sent_by_azure_ai_ml(job: Any) -> Recorder:
    t = Recorder()
    client(t).jobs.create_or_update(job)
    return t


def sent_by_azsweep(job: Any, **kwargs: Any) -> Recorder:
    t = Recorder()
    azsweep.submit(job, ml_client=client(t), **kwargs)
    return t


def _calls(t: Recorder) -> list[tuple[str, str]]:
    """Method and URL of each request; the name azure-ai-ml draws at random for anonymous code is masked."""
    return [(r["method"], re.sub(r"/codes/[0-9a-f-]{36}/", "/codes/<anonymous>/", r["url"])) for r in t.requests]


def assert_same_put(ours: Recorder, theirs: Recorder) -> dict[str, Any]:
    assert len(ours.puts) == len(theirs.puts) == 1
    assert _calls(ours) == _calls(theirs)
    mine, azure = comparable(ours.puts[0]), comparable(theirs.puts[0])
    assert mine["url"] == azure["url"]
    assert mine["body"] == azure["body"]
    return mine


@pytest.fixture(autouse=True)
def fixed_job_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-ai-ml names an unnamed job at random; both sides of a comparison get the same name."""
    monkeypatch.setattr("azure.ai.ml.entities._job.to_rest_functions.generate_job_name", lambda: "parity_job")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any request through azure-core's real transport fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request reached azure-core's network transport")

    monkeypatch.setattr("azure.core.pipeline.transport.RequestsTransport.send", refuse)


# --- the definitions: every distribution, algorithm, policy and limit ---------------------------

BASE: dict[str, Any] = {
    "type": "sweep",
    "experiment_name": "parity",
    "display_name": "parity sweep",
    "tags": {"team": "ml"},
    "trial": {
        "code": f"azureml:{ARM}/codes/src/versions/1",
        "command": "python train.py --lr ${{search_space.lr}} --opt ${{search_space.opt}} --data ${{inputs.data}} "
        "--epochs ${{inputs.epochs}} --flag ${{inputs.flag}} --out ${{outputs.model}}",
        "environment": f"azureml:{ARM}/environments/env/versions/3",
        "environment_variables": {"MY_VAR": "1"},
    },
    "inputs": {"data": {"type": "uri_file", "path": "https://example.com/iris.csv"}, "epochs": 8, "flag": True},
    "outputs": {"model": {"type": "uri_folder"}},
    "compute": f"azureml:{ARM}/computes/cpu-cluster",
    "sampling_algorithm": "random",
    "search_space": {
        "lr": {"type": "uniform", "min_value": 0.01, "max_value": 0.9},
        "opt": {"type": "choice", "values": ["sgd", "adam"]},
    },
    "objective": {"goal": "minimize", "primary_metric": "loss"},
    "limits": {"max_total_trials": 20, "max_concurrent_trials": 4},
}
ALL_DISTRIBUTIONS = {
    "c": {"type": "choice", "values": [1, 2.5, "x"]},
    "r": {"type": "randint", "upper": 5},
    "u": {"type": "uniform", "min_value": -1, "max_value": 1},
    "lu": {"type": "loguniform", "min_value": -9.2, "max_value": -0.7},
    "qu": {"type": "quniform", "min_value": 16, "max_value": 256, "q": 16},
    "qlu": {"type": "qloguniform", "min_value": 0, "max_value": 3, "q": 1},
    "n": {"type": "normal", "mu": 0, "sigma": 1},
    "ln": {"type": "lognormal", "mu": 0, "sigma": 0.5},
    "qn": {"type": "qnormal", "mu": 5, "sigma": 1, "q": 0.5},
    "qln": {"type": "qlognormal", "mu": 1, "sigma": 0.5, "q": 1},
}
ALL_COMMAND = "python train.py " + " ".join(f"--{k} ${{{{search_space.{k}}}}}" for k in ALL_DISTRIBUTIONS)
CASES: dict[str, dict[str, Any]] = {
    "all-ten-distributions": {"search_space": ALL_DISTRIBUTIONS, "trial.command": ALL_COMMAND, "inputs": {}, "outputs": {}},
    "conditional-choice": {
        "search_space.opt": {
            "type": "choice",
            "values": [{"name": "sgd", "momentum": {"type": "uniform", "min_value": 0.5, "max_value": 0.99}}, {"name": "adam"}],
        }
    },
    "random-seeded-logbase": {"sampling_algorithm": {"type": "random", "seed": 7, "logbase": 10}},
    "sobol": {"sampling_algorithm": {"type": "random", "rule": "sobol", "seed": 123}},
    "grid": {"sampling_algorithm": "grid", "search_space.lr": {"type": "choice", "values": [0.01, 0.1]}},
    "bayesian": {
        "sampling_algorithm": "bayesian",
        "limits.max_concurrent_trials": 2,
        "search_space.opt": {"type": "quniform", "min_value": 1, "max_value": 4, "q": 1},
    },
    "bandit-slack-factor": {
        "early_termination": {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 2, "delay_evaluation": 5}
    },
    "bandit-slack-amount": {"early_termination": {"type": "bandit", "slack_amount": 0.2, "evaluation_interval": 1}},
    "median-stopping": {"early_termination": {"type": "median_stopping", "evaluation_interval": 1, "delay_evaluation": 3}},
    "truncation-selection": {
        "early_termination": {
            "type": "truncation_selection",
            "truncation_percentage": 20,
            "evaluation_interval": 1,
            "delay_evaluation": 2,
        }
    },
    "timeouts": {"limits": {"max_total_trials": 1000, "max_concurrent_trials": 10, "timeout": 7200, "trial_timeout": 600}},
    "maximize": {"objective": {"goal": "maximize", "primary_metric": "val-accuracy"}},
}


def write_case(folder: Path, changes: dict[str, Any], name: str = "sweep.yml") -> Path:
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_case(tmp_path / request.param, CASES[request.param])


def runner_view(spec: Any) -> dict[str, Any]:
    """What the local runner takes from a spec: search space, algorithm, objective, limits, policy, command."""
    return {
        "search_space": spec.search_space,
        "algorithm": spec.algorithm,
        "objective": spec.objective,
        "limits": spec.limits,
        "policy": spec.policy,
        "command": spec.trial.command,
        "environment_variables": dict(spec.trial.environment_variables),
        "experiment_name": spec.experiment_name,
    }


# --- parity -------------------------------------------------------------------------------------


def test_the_cases_cover_every_distribution_algorithm_and_policy():
    assert {d["type"] for d in ALL_DISTRIBUTIONS.values()} == {
        "choice",
        "randint",
        "uniform",
        "loguniform",
        "quniform",
        "qloguniform",
        "normal",
        "lognormal",
        "qnormal",
        "qlognormal",
    }
    algorithms = {
        str(
            c.get("sampling_algorithm", {}).get("rule")
            if isinstance(c.get("sampling_algorithm"), dict)
            else c.get("sampling_algorithm")
        )
        for c in CASES.values()
    }
    assert {"sobol", "grid", "bayesian"} <= algorithms
    policies = {c["early_termination"]["type"] for c in CASES.values() if "early_termination" in c}
    assert policies == {"bandit", "median_stopping", "truncation_selection"}


def test_yaml_put_equals_azure_ai_ml_put_and_the_runner_spec_equals_the_body(case: Path):
    ours = sent_by_azsweep(case)
    put = assert_same_put(ours, sent_by_azure_ai_ml(load_job(case)))
    assert put["url"] == f"https://management.azure.com{ARM}/jobs/parity_job?api-version=2024-01-01-preview"
    local, _ = load_spec(case)
    decoded, problems = build_spec(put["body"]["properties"])
    assert local is not None and decoded is not None, problems
    assert runner_view(local) == runner_view(decoded)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_every_sample_put_equals_azure_ai_ml_put(path: Path):
    """From the repository root (a git checkout: azure-ai-ml adds git properties, removed before comparing)."""
    ours = sent_by_azsweep(path)
    put = assert_same_put(ours, sent_by_azure_ai_ml(load_job(path)))
    assert put["body"]["properties"]["trial"]["codeId"].endswith("/versions/1")  # uploaded code, resolved the same way
    local, _ = load_spec(path)
    decoded, problems = build_spec(put["body"]["properties"])
    assert local is not None and decoded is not None, problems
    assert runner_view(local) == runner_view(decoded)


def test_set_overrides_are_applied_by_load_job_as_az_ml_does(tmp_path: Path):
    path = write_case(tmp_path, {})
    overrides = [
        {"limits.max_total_trials": "5"},
        {"search_space.lr.max_value": "0.5"},
        {"compute": f"azureml:{ARM}/computes/gpu"},
    ]
    ours = sent_by_azsweep(path, params_override=overrides)
    put = assert_same_put(ours, sent_by_azure_ai_ml(load_job(path, params_override=overrides)))
    props = put["body"]["properties"]
    assert props["limits"]["maxTotalTrials"] == 5
    assert props["searchSpace"]["lr"] == ["uniform", [0.01, 0.5]]
    assert props["computeId"].endswith("/computes/gpu")


def test_parse_set_keeps_text_as_az_ml_does_and_parses_json_lists():
    assert bridge.parse_set(["limits.max_total_trials=5", "display_name=a=b", 'search_space.opt.values=["a", 1]']) == [
        {"limits.max_total_trials": "5"},
        {"display_name": "a=b"},
        {"search_space.opt.values": ["a", 1]},
    ]
    with pytest.raises(azsweep.AzsweepError, match="expected PATH=VALUE"):
        bridge.parse_set(["limits.max_total_trials"])


def _base_command(distributions: Any) -> Any:
    job = command(
        code=f"{ARM}/codes/src/versions/1",
        environment=f"{ARM}/environments/env/versions/3",
        compute=f"{ARM}/computes/cpu-cluster",
        inputs={"lr": 0.1, "opt": "sgd", "epochs": 8},
        command="python train.py --lr ${{inputs.lr}} --opt ${{inputs.opt}} --epochs ${{inputs.epochs}}",
        experiment_name="parity",
    )
    return job(lr=distributions.LogUniform(-6, -1), opt=distributions.Choice(["sgd", "adam"])).sweep(
        primary_metric="loss",
        goal="minimize",
        sampling_algorithm=distributions.RandomSamplingAlgorithm(rule="sobol", seed=3),
        max_total_trials=12,
        max_concurrent_trials=3,
        timeout=3600,
        trial_timeout=600,
        early_termination_policy=distributions.BanditPolicy(slack_factor=0.2, evaluation_interval=1, delay_evaluation=3),
    )


def _sweep_job(distributions: Any) -> Any:
    trial = command(
        code=f"{ARM}/codes/src/versions/1",
        environment=f"{ARM}/environments/env/versions/3",
        command="python train.py --lr ${{search_space.lr}} --q ${{search_space.q}}",
    )
    return distributions.SweepJob(
        trial=trial,
        compute=f"{ARM}/computes/cpu-cluster",
        experiment_name="parity",
        search_space={"lr": distributions.Uniform(0.01, 0.9), "q": distributions.QNormal(5, 1, 0.5)},
        sampling_algorithm=distributions.RandomSamplingAlgorithm(seed=1),
        objective=distributions.Objective(goal="maximize", primary_metric="acc"),
        limits=distributions.SweepJobLimits(max_total_trials=8, max_concurrent_trials=2),
        early_termination=distributions.MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2),
    )


@pytest.mark.parametrize("build", [_base_command, _sweep_job], ids=["sweep-node", "SweepJob"])
def test_python_objects_azsweep_and_azure_ai_ml_send_identical_bodies(build: Any):
    ours = sent_by_azsweep(build(our_sweep))
    theirs = sent_by_azsweep(build(azure_sweep))
    direct = sent_by_azure_ai_ml(build(azure_sweep))
    assert_same_put(ours, theirs)
    put = assert_same_put(ours, direct)
    assert put["body"]["properties"]["jobType"] == "Sweep"


def test_returns_the_created_job_with_name_status_and_studio_url(tmp_path: Path):
    t = Recorder()
    created = azsweep.submit(write_case(tmp_path, {}), ml_client=client(t))
    assert created.name == "parity_job"
    assert str(getattr(created.status, "value", created.status)) == "NotStarted"
    assert created.studio_url.startswith("https://ml.azure.com/runs/parity_job")


# --- checks first -------------------------------------------------------------------------------


def test_a_definition_with_errors_sends_nothing(tmp_path: Path):
    path = write_case(tmp_path, {"limits.max_total_trials": 5000})
    t = Recorder()
    with pytest.raises(DefinitionError) as err:
        azsweep.submit(path, ml_client=client(t))
    assert "limits.max_total_trials" in str(err.value)
    assert t.requests == []


def test_a_python_object_with_errors_sends_nothing():
    job = _sweep_job(our_sweep)
    job.search_space["lr"] = our_sweep.Uniform(5, 1)
    t = Recorder()
    with pytest.raises(DefinitionError, match="search_space.lr"):
        azsweep.submit(job, ml_client=client(t))
    assert t.requests == []


def test_force_skips_the_checks_and_sends(tmp_path: Path):
    path = write_case(tmp_path, {"limits.max_total_trials": 5000})
    t = sent_by_azsweep(path, force=True)
    assert t.puts[0]["body"]["properties"]["limits"]["maxTotalTrials"] == 5000


@pytest.mark.parametrize("force", [False, True])
def test_a_yaml_load_job_refuses_is_one_line_per_field_and_sends_nothing(tmp_path: Path, force: bool):
    path = write_case(tmp_path, {"limits.max_total_trials": "many"})
    t = Recorder()
    with pytest.raises(DefinitionError) as err:
        azsweep.submit(path, ml_client=client(t), force=force)
    assert t.requests == []
    assert [p.path for p in err.value.problems if p.severity == "error"] == ["limits.max_total_trials"]
    assert "Traceback" not in str(err.value) and len(str(err.value).splitlines()) == 1


@pytest.mark.parametrize("force", [False, True])
def test_compute_local_is_refused_with_one_line(tmp_path: Path, force: bool):
    path = write_case(tmp_path, {"compute": "local"})
    t = Recorder()
    with pytest.raises(DefinitionError) as err:
        azsweep.submit(path, ml_client=client(t), force=force)
    assert t.requests == []
    message = str(err.value)
    assert len(message.splitlines()) == 1 and "compute: local cannot be submitted" in message and "azsweep run" in message


# --- what goes wrong on the way: one line each ---------------------------------------------------


@pytest.fixture
def no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-core retries a failed connection 3 times with back-off; the tests need not wait for it."""
    import azure.core.pipeline.policies._retry as retry

    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)


def test_unreachable_endpoint_is_one_line(tmp_path: Path, no_retry_wait: None):
    t = Recorder(
        fail=ServiceRequestError(
            "<urllib3.connection.HTTPSConnection object at 0x7f00>: Failed to establish a "
            "new connection: [Errno -3] Temporary failure in name resolution"
        )
    )
    with pytest.raises(SubmitError) as err:
        azsweep.submit(write_case(tmp_path, {}), ml_client=client(t))
    message = str(err.value)
    assert message.startswith("cannot reach Azure (management.azure.com): Failed to establish a new connection")
    assert "object at 0x" not in message and "HTTPS_PROXY" in message and len(message.splitlines()) == 1


def test_a_credential_that_raises_is_one_line_naming_what_was_tried(tmp_path: Path):
    t = Recorder()
    with pytest.raises(SubmitError) as err:
        azsweep.submit(write_case(tmp_path, {}), ml_client=client(t, RaisingCredential()))
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert "tried EnvironmentCredential, ManagedIdentityCredential, AzureCliCredential" in message
    assert "Azure CLI not found on path" in message and "az login" in message
    assert t.requests == []


def test_without_ml_client_default_azure_credential_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None):
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", RaisingCredential)
    with pytest.raises(SubmitError, match="cannot sign in to Azure: DefaultAzureCredential tried"):
        azsweep.submit(write_case(tmp_path, {}), subscription_id=SUB, resource_group_name=RG, workspace_name=WS)


def test_a_refused_request_is_one_line_naming_the_workspace(tmp_path: Path):
    t = Recorder(status=403)
    with pytest.raises(SubmitError) as err:
        azsweep.submit(write_case(tmp_path, {}), ml_client=client(t))
    message = str(err.value)
    assert message.startswith("Azure ML refused the request (403 AuthorizationFailed): not allowed")
    assert f"workspace {WS}" in message and len(message.splitlines()) == 1


def test_missing_workspace_details_name_the_flags_and_config_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = write_case(tmp_path / "defs", {})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SubmitError) as err:
        azsweep.submit(path, resource_group_name=RG)
    message = str(err.value)
    assert "missing --subscription, --workspace" in message and "config.json" in message
    assert len(message.splitlines()) == 1


def test_submit_rejects_unknown_keywords_and_both_client_and_workspace(tmp_path: Path):
    with pytest.raises(TypeError, match="workspace"):
        azsweep.submit(write_case(tmp_path, {}), workspace="ws")
    with pytest.raises(TypeError, match="not both"):
        azsweep.submit(write_case(tmp_path, {}), ml_client=client(Recorder()), workspace_name=WS)


def test_config_json_is_found_where_mlclient_from_config_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(
        json.dumps({"subscription_id": SUB, "resource_group": "rg-azureml", "workspace_name": "ws-azureml"})
    )
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (tmp_path / "a" / "config.json").write_text(json.dumps({"Scope": f"{ARM}"}))
    monkeypatch.chdir(work)
    theirs = MLClient.from_config(FakeCredential())
    found = bridge.resolve_workspace()
    assert (
        (found.subscription_id, found.resource_group_name, found.workspace_name)
        == (theirs.subscription_id, theirs.resource_group_name, theirs.workspace_name)
        == (SUB, "rg-azureml", "ws-azureml")
    )
    assert found.source == str(tmp_path / ".azureml" / "config.json")
    assert bridge.resolve_workspace(workspace_name="other").workspace_name == "other"  # arguments win over the file


# --- the CLI --------------------------------------------------------------------------------------


def _last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_cli_missing_workspace_is_one_line_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any):
    path = write_case(tmp_path / "defs", {})
    monkeypatch.chdir(tmp_path)
    assert main(["submit", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert _last_line(err).startswith("azsweep: error: no Azure ML workspace given")


def test_cli_credential_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, no_network: None):
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", RaisingCredential)
    path = write_case(tmp_path, {})
    assert main(["submit", str(path), "--subscription", SUB, "-g", RG, "-w", WS]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2  # the check, then the error
    assert _last_line(err).startswith("azsweep: error: cannot sign in to Azure")


def test_cli_unreachable_endpoint_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, no_retry_wait: None):
    t = Recorder(fail=ServiceRequestError("Failed to establish a new connection: [Errno 111] Connection refused"))
    monkeypatch.setattr(bridge, "build_client", lambda ws, credential=None, **kw: client(t))
    assert main(["submit", str(write_case(tmp_path, {})), "--subscription", SUB, "-g", RG, "-w", WS]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert _last_line(err) == (
        "azsweep: error: cannot reach Azure (management.azure.com): Failed to establish a new "
        "connection: [Errno 111] Connection refused; check the network connection and proxy "
        "settings (HTTPS_PROXY), then retry"
    )


def test_cli_dry_run_applies_set(tmp_path: Path, capsys: Any, no_network: None):
    path = write_case(tmp_path, {})
    assert main(["submit", str(path), "--dry-run", "--json", "--set", "limits.max_total_trials=7", "tags.run=ci"]) == 0
    props = json.loads(capsys.readouterr().out)["body"]["properties"]
    assert props["limits"]["maxTotalTrials"] == 7 and props["tags"] == {"team": "ml", "run": "ci"}


def test_cli_invalid_definition_prints_each_problem_and_sends_nothing(tmp_path: Path, capsys: Any):
    path = write_case(tmp_path, {"limits.max_total_trials": 0, "search_space.lr.min_value": 2})
    assert main(["submit", str(path), "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: limits.max_total_trials" in captured.err and "error: search_space.lr" in captured.err
    assert _last_line(captured.err).endswith("invalid (2 errors): nothing was sent")


def test_cli_usage_errors(capsys: Any, tmp_path: Path):
    assert main(["submit"]) == 2
    assert main(["submit", "x.yml", "--from-local", "n"]) == 2
    assert main(["submit", "x.yml", "--dry-run", "--stream"]) == 2
    assert main(["submit", "x.yml", "--keep-local-overrides"]) == 2


class FakeJobs:
    def __init__(self, final: str) -> None:
        self.final, self.streamed = final, []

    def create_or_update(self, job: Any) -> Any:
        return type("Job", (), {"name": "cloud_sweep_1", "status": "NotStarted", "studio_url": "https://ml.azure.com/runs/x"})()

    def stream(self, name: str) -> None:
        self.streamed.append(name)

    def get(self, name: str) -> Any:
        return type("Job", (), {"name": name, "status": self.final})()


@pytest.mark.parametrize(("final", "code"), [("Completed", 0), ("Failed", 1)])
def test_cli_stream_waits_like_az_ml_job_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, final: str, code: int
):
    jobs = FakeJobs(final)
    monkeypatch.setattr(bridge, "build_client", lambda ws, credential=None, **kw: type("C", (), {"jobs": jobs})())
    path = write_case(tmp_path, {})
    assert main(["submit", str(path), "--subscription", SUB, "-g", RG, "-w", WS, "--stream"]) == code
    out = capsys.readouterr().out
    assert jobs.streamed == ["cloud_sweep_1"]
    assert "submitted cloud_sweep_1 to workspace ws-parity" in out and f"cloud_sweep_1: {final}" in out


# --- dry run ------------------------------------------------------------------------------------


def test_dry_run_prints_the_exact_put_without_network(case: Path, capsys: Any, no_network: None):
    assert main(["submit", str(case), "--dry-run", "--json", "--subscription", SUB, "-g", RG, "-w", WS]) == 0
    shown = json.loads(capsys.readouterr().out)
    put = comparable(sent_by_azure_ai_ml(load_job(case)).puts[0])
    assert shown["valid"] and shown["exact"] and shown["method"] == "PUT"
    assert shown["url"] == put["url"]
    assert comparable({"body": shown["body"]})["body"] == put["body"]


def _without_code_name(body: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["properties"]["trial"]["codeId"] = re.sub(r"/codes/[^/]+/", "/codes/*/", out["properties"]["trial"]["codeId"])
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_dry_run_of_a_sample_with_local_code_shows_the_real_body(path: Path, capsys: Any, no_network: None):
    assert main(["submit", str(path), "--dry-run"]) == 0
    captured = capsys.readouterr()
    first, _, rest = captured.out.partition("\n")
    method, url = first.split(" ", 1)
    put = comparable(sent_by_azure_ai_ml(load_job(path)).puts[0])
    assert method == "PUT" and url.endswith("/jobs/parity_job?api-version=2024-01-01-preview")
    assert "/subscriptions/SUBSCRIPTION_ID/resourceGroups/RESOURCE_GROUP/" in url  # placeholders, said so
    assert "no workspace given" in captured.err and "trial.code src: azure-ai-ml hashed it" in captured.err
    body = comparable({"body": json.loads(rest)})["body"]
    expected = json.loads(
        json.dumps(put["body"]).replace(
            ARM,
            "/subscriptions/SUBSCRIPTION_ID/resourceGroups/RESOURCE_GROUP/"
            "providers/Microsoft.MachineLearningServices/workspaces/"
            "WORKSPACE_NAME",
        )
    )
    assert _without_code_name(body) == _without_code_name(expected)


@pytest.mark.parametrize("build", [_base_command, _sweep_job], ids=["sweep-node", "SweepJob"])
def test_dry_run_of_a_python_object_shows_its_put_and_leaves_it_unchanged(
    build: Any, monkeypatch: pytest.MonkeyPatch, no_network: None
):
    monkeypatch.chdir(ROOT / "samples" / "quickstart")  # objects resolve ./src against the folder they were built in
    job = build(our_sweep)
    job.trial.code = "./src"  # a local folder: create_or_update replaces it with the uploaded asset's id
    result = dry_run(job, subscription_id=SUB, resource_group_name=RG, workspace_name=WS)
    assert result.exact and job.trial.code == "./src" and not job.properties
    expected = build(azure_sweep)
    expected.trial.code = "./src"
    put = comparable(sent_by_azure_ai_ml(expected).puts[0])
    assert result.url == put["url"]
    assert _without_code_name(comparable({"body": result.body})["body"]) == _without_code_name(put["body"])


def test_a_missing_code_folder_is_one_line_and_sends_nothing(tmp_path: Path):
    path = write_case(tmp_path, {"trial.code": "no-such-folder"})
    t = Recorder()
    with pytest.raises(DefinitionError) as err:
        azsweep.submit(path, ml_client=client(t))
    assert len(str(err.value).splitlines()) == 1 and "no-such-folder" in str(err.value)
    assert t.puts == []


def test_dry_run_of_local_inputs_and_an_inline_environment_says_what_would_be_uploaded(tmp_path: Path, no_network: None):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print(1)\n")
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / "conda.yml").write_text("name: x\ndependencies: [python=3.11]\n")
    path = write_case(
        tmp_path,
        {
            "trial.code": "src",
            "trial.environment": {"image": "python:3.11", "conda_file": "conda.yml"},
            "inputs.data": {"type": "uri_file", "path": "./data.csv"},
        },
    )
    result = dry_run(path)
    assert result.exact
    props = result.body["properties"]
    assert props["inputs"]["data"]["uri"] == "azureml://datastores/workspaceblobstore/paths/LocalUpload/azsweep-dry-run/data.csv"
    assert "/environments/CliV2AnonymousEnvironment/versions/" in props["trial"]["environmentId"]
    notes = "\n".join(result.notes)
    assert "data.csv is uploaded to datastore workspaceblobstore" in notes
    assert "registers the inline environment" in notes and "trial.code src" in notes


def test_dry_run_that_needs_the_workspace_shows_the_unresolved_body_and_says_so(tmp_path: Path, no_network: None):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM python:3.11\n")
    path = write_case(tmp_path, {"trial.environment": {"build": {"path": "docker"}}})
    result = dry_run(path)
    assert not result.exact
    assert any("not exact" in n and "/datastores/" in n for n in result.notes)
    assert result.body["properties"]["searchSpace"]["lr"] == ["uniform", [0.01, 0.9]]


# --- --from-local -------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}")
    return tmp_path / "home"


LOCAL = {
    "inputs": {"epochs": 8, "flag": True},
    "trial.command": "python train.py --lr ${{search_space.lr}} "
    "--opt ${{search_space.opt}} --epochs ${{inputs.epochs}} --out ${{outputs.model}}",
}  # nothing to download


def _record_local_run(definition: Any, name: str, **overrides: Any) -> Any:
    """What ``azsweep run`` records before its trials start (definition.json), without running trials."""
    from azsweep.runner import prepare

    prepared = prepare(definition, name=name, **overrides)
    prepared.write_definition()
    return prepared


def test_from_local_submits_the_original_yaml_without_local_overrides(home: Path, tmp_path: Path):
    path = write_case(tmp_path / "defs", LOCAL)
    _record_local_run(path, "local_a", max_total_trials=3, inputs={"epochs": "2"})
    local = from_local("local_a")
    assert local.job == str(path.resolve()) and local.params_override == []
    assert any(
        "not submitted, local-only overrides of the local run: limits.max_total_trials=3, inputs.epochs=2" in n
        for n in local.notes
    )
    assert_same_put(sent_by_azsweep(local.job), sent_by_azure_ai_ml(load_job(path)))


def test_from_local_keeps_the_local_overrides_when_asked(home: Path, tmp_path: Path):
    path = write_case(tmp_path / "defs", LOCAL)
    _record_local_run(path, "local_b", max_total_trials=3, inputs={"epochs": "2"})
    local = from_local("local_b", keep_local_overrides=True)
    props = sent_by_azsweep(local.job, params_override=local.params_override).puts[0]["body"]["properties"]
    assert props["limits"]["maxTotalTrials"] == 3 and props["inputs"]["epochs"]["value"] == "2"


def test_from_local_rebuilds_the_definition_that_ran_when_the_file_changed(home: Path, tmp_path: Path):
    path = write_case(tmp_path / "defs", LOCAL)
    original = sent_by_azure_ai_ml(load_job(path))
    _record_local_run(path, "local_c")
    write_case(tmp_path / "defs", {**LOCAL, "limits.max_total_trials": 99})
    local = from_local("local_c")
    assert not isinstance(local.job, str)
    assert any("changed since it ran (differs in: limits)" in n for n in local.notes)
    assert_same_put(sent_by_azsweep(local.job), original)


def test_from_local_of_a_sample_with_local_code_rebuilt_sends_the_same_put(home: Path):
    path = SAMPLES[0]
    prepared = _record_local_run(path, "local_d")
    data = json.loads(prepared.folder.definition.read_text())
    data["source_path"] = str(path.parent / "gone.yml")  # the file is gone: rebuilt from the record
    prepared.folder.definition.write_text(json.dumps(data))
    local = from_local("local_d")
    assert any("no longer exists" in n for n in local.notes)
    assert_same_put(sent_by_azsweep(local.job), sent_by_azure_ai_ml(load_job(path)))


def test_from_local_of_a_python_sweep_with_kept_overrides(home: Path):
    _record_local_run(_sweep_job(our_sweep), "local_e", max_total_trials=2, max_concurrent_trials=1)
    local = from_local("local_e", keep_local_overrides=True)
    assert any("defined in Python" in n for n in local.notes)
    props = sent_by_azsweep(local.job).puts[0]["body"]["properties"]
    expected = sent_by_azure_ai_ml(_sweep_job(azure_sweep)).puts[0]["body"]["properties"]
    assert props["limits"] == {**expected["limits"], "maxTotalTrials": 2, "maxConcurrentTrials": 1}
    assert {k: v for k, v in props.items() if k != "limits"} == {k: v for k, v in expected.items() if k != "limits"}


def test_from_local_of_a_smoke_run_leaves_its_limits_out(home: Path, tmp_path: Path, capsys: Any, no_network: None):
    path = write_case(tmp_path / "defs", LOCAL)
    _record_local_run(path, "local_f", smoke=True)  # 2 trials, 2 at once, short timeouts
    assert main(["submit", "--from-local", "local_f", "--dry-run", "--json"]) == 0
    captured = capsys.readouterr()
    assert "not submitted, local-only overrides of the smoke run: limits.max_total_trials=2" in captured.err
    assert "limits.trial_timeout=300" in captured.err
    assert json.loads(captured.out)["body"]["properties"]["limits"] == {
        "maxConcurrentTrials": 4,
        "maxTotalTrials": 20,
        "jobLimitsType": "Sweep",
    }


def test_from_local_unknown_name_is_one_line(home: Path, capsys: Any):
    assert main(["submit", "--from-local", "nope", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and _last_line(err).startswith("azsweep: error: no local sweep named 'nope'")


def test_from_local_rebuilt_refuses_set(home: Path, capsys: Any):
    _record_local_run(_sweep_job(our_sweep), "local_g")
    assert main(["submit", "--from-local", "local_g", "--dry-run", "--set", "limits.max_total_trials=3"]) == 1
    assert "--set needs the sweep's YAML file" in capsys.readouterr().err


def test_readme_snippets_use_real_flags():
    text = (ROOT / "README.md").read_text()
    for flag in ("--dry-run", "--from-local", "--smoke", "--set"):
        assert flag in text
    workflow = (ROOT / ".github" / "workflows" / "validate-sweeps-example.yml").read_text()
    assert "azsweep validate" in workflow and "azsweep run --smoke" in workflow
    assert yaml.safe_load(workflow)["jobs"]

"""Submitting a pipeline with a sweep step: the dry run's PUT is azure-ai-ml's own for the same pipeline.

Each side registers the pipeline's anonymous components and looks its code up by hash; the names azure-ai-ml
draws at random for them (and so the component versions, which hash the component with its code's id)
are masked before comparing. Everything else of every request is compared: method, URL and body.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml import Input, MLClient, load_component, load_job
from azure.ai.ml.dsl import pipeline
from azure.ai.ml.sweep import Choice, Uniform
from azure.core.credentials import AccessToken, AccessTokenInfo
from test_submit import RG, SUB, WS, Recorder, comparable

import azsweep
from azsweep.submission.dry_run import _Response, dry_run

EXAMPLE = Path(__file__).parent / "azure_examples" / "pipeline-sweep"


class UserToken:
    """A signed-in user's credential, as azure-ai-ml needs one for a pipeline: it decodes the Azure ML token and
    checks its audience before sending it with the job."""

    def _token(self, scopes: tuple[str, ...]) -> str:
        def part(claims: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none'})}.{part({'aud': scopes[0].removesuffix('/.default'), 'tid': 't'})}.sig"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token(scopes), 2_000_000_000)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token(scopes), 2_000_000_000)


def masked(value: Any) -> Any:
    """``value`` (a request's URL or body) with the random names of anonymous code and components masked."""
    text = json.dumps(value, sort_keys=True)
    text = re.sub(r"/codes/[^/?\"]+", "/codes/<anonymous>", text)
    text = re.sub(r"/components/azureml_anonymous/versions/[0-9a-f-]{36}", "/components/azureml_anonymous/versions/<v>", text)
    return json.loads(text)


def requests(recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests that carry the job: component registrations and the job PUT (git properties removed)."""
    return [masked(comparable(r)) for r in recorded if r["method"] == "PUT"]


class Workspace(Recorder):
    """The offline workspace of ``tests/test_submit.py``, which also has the compute cluster a node names."""

    def send(self, request: Any, **kwargs: Any) -> Any:
        path = request.url.split("?")[0].split("management.azure.com")[1]
        if request.method == "GET" and re.search(r"/computes/[^/]+$", path):
            self.requests.append({"method": "GET", "url": request.url, "body": None})
            cluster = {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_DS3_V2"}}
            return _Response(request, 200, {"id": path, "name": path.rsplit("/", 1)[1], "properties": cluster})
        return super().send(request, **kwargs)


def sent_by_azure_ai_ml(job: Any) -> list[dict[str, Any]]:
    recorder = Workspace()
    MLClient(UserToken(), SUB, RG, WS, transport=recorder).jobs.create_or_update(job)
    return requests(recorder.requests)


def shown_by_dry_run(job: Any) -> list[dict[str, Any]]:
    shown = dry_run(job, subscription_id=SUB, resource_group_name=RG, workspace_name=WS)
    assert shown.exact and shown.problems == [], (shown.notes, shown.problems)
    return requests([{"method": r.method, "url": r.url, "body": r.body} for r in shown.requests])


@pytest.fixture(autouse=True)
def fixed_job_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("azure.ai.ml.entities._job.to_rest_functions.generate_job_name", lambda: "parity_pipeline")


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shutil.copytree(EXAMPLE, tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    yield tmp_path / "p"


def test_microsofts_pipeline_yaml_dry_run_sends_what_azure_ai_ml_sends(example: Path) -> None:
    ours, theirs = shown_by_dry_run(str(example / "pipeline.yml")), sent_by_azure_ai_ml(load_job(example / "pipeline.yml"))
    assert [re.search(r"/(components|jobs)/", r["url"]).group(1) for r in theirs] == ["components", "components", "jobs"]  # type: ignore[union-attr]
    assert ours == theirs
    job = theirs[-1]["body"]["properties"]
    assert job["jobType"] == "Pipeline" and set(job["jobs"]) == {"sweep_step", "predict_step"}
    # the registry environment goes to Azure as written, inside the registered component
    assert theirs[0]["body"]["properties"]["componentSpec"]["environment"] == (
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
    )


def notebook_pipeline() -> Any:
    """The 1c notebook's pipeline, as its cell builds it (its blob input kept: nothing is read)."""
    train, score = load_component(source="./train.yml"), load_component(source="./predict.yml")

    @pipeline()
    def pipeline_with_hyperparameter_sweep() -> None:
        """Tune hyperparameters using sample components."""
        train_model = train(
            data=Input(type="uri_file", path="wasbs://datasets@azuremlexamples.blob.core.windows.net/iris.csv"),
            c_value=Uniform(min_value=0.5, max_value=0.9),
            kernel=Choice(["rbf", "linear", "poly"]),
            coef0=Uniform(min_value=0.1, max_value=1),
            degree=3,
            gamma="scale",
            shrinking=False,
            probability=False,
            tol=0.001,
            cache_size=1024,
            verbose=False,
            max_iter=-1,
            decision_function_shape="ovr",
            break_ties=False,
            random_state=42,
        )
        sweep_step = train_model.sweep(
            primary_metric="training_f1_score", goal="minimize", sampling_algorithm="random", compute="cpu-cluster"
        )
        sweep_step.set_limits(max_total_trials=20, max_concurrent_trials=10, timeout=7200)
        score_data = score(model=sweep_step.outputs.model_output, test_data=sweep_step.outputs.test_data)  # noqa: F841 (names the node)

    job = pipeline_with_hyperparameter_sweep()
    job.settings.default_compute = "cpu-cluster"
    return job


def test_the_notebooks_sdk_pipeline_dry_run_sends_what_azure_ai_ml_sends(example: Path) -> None:
    ours, theirs = shown_by_dry_run(notebook_pipeline()), sent_by_azure_ai_ml(notebook_pipeline())
    assert ours == theirs
    nodes = theirs[-1]["body"]["properties"]["jobs"]
    assert nodes["score_data"]["inputs"]["model"]["value"] == "${{parent.jobs.sweep_step.outputs.model_output}}"


def test_submitting_a_pipeline_sends_what_azure_ai_ml_sends(example: Path) -> None:
    recorder = Workspace()
    azsweep.submit(str(example / "pipeline.yml"), ml_client=MLClient(UserToken(), SUB, RG, WS, transport=recorder))
    assert requests(recorder.requests) == sent_by_azure_ai_ml(load_job(example / "pipeline.yml"))


def test_checking_an_sdk_pipeline_leaves_it_as_written_and_submitting_it_sends_what_azure_ai_ml_sends(example: Path) -> None:
    """azure-ai-ml's ``Sweep._to_job`` rewrites the trial component's command in place; azsweep's checks read the
    sweep node through it, and must leave the component as it was (else azure-ai-ml refuses the pipeline:
    "Invalid data binding expression: search_space.c_value")."""
    job = notebook_pipeline()
    assert [p for p in azsweep.validate(job) if p.severity == "error"] == []
    command = job.jobs["sweep_step"].trial.command
    assert "--C ${{inputs.c_value}}" in command and "search_space" not in command
    recorder = Workspace()
    azsweep.submit(job, ml_client=MLClient(UserToken(), SUB, RG, WS, transport=recorder))
    assert requests(recorder.requests) == sent_by_azure_ai_ml(notebook_pipeline())

"""Build the sweep of sweep.yml with azure.ai.ml objects and run it locally with azsweep's LocalClient.

This is an Azure ML sweep script; only the client differs. Run it with ``python run_sweep.py``
(``--max-total-trials 4`` for a quick try).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from azure.ai.ml import Output, command
from azure.ai.ml.sweep import Choice, LogUniform, RandomSamplingAlgorithm

from azsweep import LocalClient

HERE = Path(__file__).resolve().parent


def build_sweep():
    """The sweep job of sweep.yml: same search space, sampling, objective and limits."""
    job = command(
        code=str(HERE / "src"),
        command=(
            "python train.py --C ${{inputs.C}} --gamma ${{inputs.gamma}} --kernel ${{inputs.kernel}}"
            " --test-size ${{inputs.test_size}} --model-dir ${{outputs.model}}"
        ),
        environment="AzureML-sklearn-1.5@latest",
        inputs={"C": 1.0, "gamma": 0.01, "kernel": "rbf", "test_size": 0.25},
        outputs={"model": Output(type="uri_folder")},
        compute="cpu-cluster",
        experiment_name="azsweep-sklearn-digits",
        display_name="sklearn-digits-svc",
    )
    # LogUniform bounds are exponents: C in [0.1, 1000], gamma in [1e-4, 10].
    sweep_job = job(
        C=LogUniform(min_value=math.log(0.1), max_value=math.log(1000)),
        gamma=LogUniform(min_value=math.log(1e-4), max_value=math.log(10)),
        kernel=Choice(values=["rbf", "poly", "sigmoid"]),
    ).sweep(
        primary_metric="val_accuracy",
        goal="Maximize",
        sampling_algorithm=RandomSamplingAlgorithm(rule="sobol", seed=7),
        max_total_trials=16,
        max_concurrent_trials=2,
        timeout=900,
        trial_timeout=120,
    )
    sweep_job.experiment_name = "azsweep-sklearn-digits"
    sweep_job.display_name = "sklearn-digits-svc"
    sweep_job.description = "Tune an SVC on scikit-learn's bundled digits dataset (no download); one trial takes about a second."
    return sweep_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-total-trials", type=int, default=None, help="override limits.max_total_trials")
    args = parser.parse_args()

    sweep_job = build_sweep()
    if args.max_total_trials is not None:
        sweep_job.set_limits(max_total_trials=args.max_total_trials)

    # On Azure, this is the only line that differs:
    #   ml_client = MLClient(DefaultAzureCredential(), subscription_id, resource_group, workspace)
    ml_client = LocalClient()

    returned = ml_client.jobs.create_or_update(sweep_job)
    print(f"submitted {returned.name} ({returned.status})")
    ml_client.jobs.stream(returned.name)

    finished = ml_client.jobs.get(returned.name)
    print(f"{finished.name}: {finished.status}")
    print(f"best trial: {finished.properties['best_child_run_id']} (val_accuracy {finished.properties['score']})")


if __name__ == "__main__":
    main()

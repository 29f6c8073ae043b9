"""The sweep step's trial: loss = (x - offset)^2; writes a "model" naming its x into its output folder."""

import argparse
import os
import pathlib

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--a")
parser.add_argument("--b")
parser.add_argument("--x", type=int)
parser.add_argument("--model")
args = parser.parse_args()
offset = int(pathlib.Path(args.b, "b.txt").read_text())
mlflow.log_metric("loss", float((args.x - offset) ** 2))
text = pathlib.Path(args.a, "a.txt").read_text()
swept = os.environ.get("AZUREML_SWEEP_x")  # noqa: SIM112 - Azure's variable name keeps the input's case
pathlib.Path(args.model, "model.txt").write_text(f"x={args.x} sweep_env={swept} a={text}")

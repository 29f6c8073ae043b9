"""The last step: reads the best trial's model folder and writes the pipeline's report."""

import argparse
import pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--model")
parser.add_argument("--out")
args = parser.parse_args()
model = pathlib.Path(args.model, "model.txt").read_text()
pathlib.Path(args.out, "report.txt").write_text("report of " + model)

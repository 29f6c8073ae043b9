"""The first preparation step: greets the pipeline's raw text file into its output folder."""

import argparse
import pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--raw")
parser.add_argument("--greeting")
parser.add_argument("--out")
args = parser.parse_args()
text = pathlib.Path(args.raw).read_text().strip()
pathlib.Path(args.out, "a.txt").write_text(f"{args.greeting} {text}")
print("prep_a wrote", args.out)

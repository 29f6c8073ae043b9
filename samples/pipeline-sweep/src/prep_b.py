"""The second preparation step: writes the offset the sweep step's loss is measured against."""

import argparse
import pathlib
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--offset")
parser.add_argument("--out")
parser.add_argument("--fail", default="no")
args = parser.parse_args()
if args.fail == "yes":
    sys.exit("prep_b: asked to fail")
pathlib.Path(args.out, "b.txt").write_text(args.offset)

"""Train a support-vector classifier on scikit-learn's bundled digits dataset and log its accuracy.

Written like an Azure ML training script: it never calls ``mlflow.start_run``. On Azure (and under
azsweep) the run already exists and is named by the ``MLFLOW_RUN_ID`` environment variable, so
``mlflow.log_metric`` logs into it. Run directly, mlflow starts a run by itself.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import mlflow
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, required=True, help="regularization: larger fits the training set harder")
    parser.add_argument("--gamma", type=float, required=True, help="kernel coefficient for rbf, poly and sigmoid")
    parser.add_argument("--kernel", type=str, choices=["rbf", "poly", "sigmoid"], required=True)
    parser.add_argument("--test-size", type=float, default=0.25, help="fraction of the data held out for validation")
    parser.add_argument("--model-dir", type=Path, default=Path("outputs"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(f"SVC(C={args.C!r}, gamma={args.gamma!r}, kernel={args.kernel!r})", flush=True)

    X, y = load_digits(return_X_y=True)  # 1,797 8x8 images shipped with scikit-learn: no download
    X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=args.test_size, random_state=0, stratify=y)

    began = time.perf_counter()
    model = SVC(C=args.C, gamma=args.gamma, kernel=args.kernel).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - began
    train_accuracy = model.score(X_train, y_train)
    val_accuracy = model.score(X_val, y_val)

    mlflow.log_metric("train_accuracy", train_accuracy)
    mlflow.log_metric("fit_seconds", fit_seconds)
    mlflow.log_metric("val_accuracy", val_accuracy)
    print(f"train_accuracy={train_accuracy:.4f} val_accuracy={val_accuracy:.4f} ({fit_seconds:.2f} s)", flush=True)

    args.model_dir.mkdir(parents=True, exist_ok=True)
    with open(args.model_dir / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    print(f"saved {args.model_dir / 'model.pkl'}", flush=True)


if __name__ == "__main__":
    main()

"""A synthetic "training" run: a loss curve per epoch that depends smoothly on the hyperparameters.

It behaves like an Azure ML training script: it never calls ``mlflow.start_run``. On Azure (and
under azsweep) the run already exists and is named by the ``MLFLOW_RUN_ID`` environment variable,
so ``mlflow.log_metric`` logs into it. Run directly, mlflow starts a run by itself.

The best region is near learning_rate 0.03, momentum 0.9, 2 layers, with adam slightly ahead of sgd.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import zlib
from pathlib import Path

import mlflow
import numpy as np

EPOCH_SECONDS = 0.15  # each epoch takes at least this long, to look like training


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--momentum", type=float, required=True)
    parser.add_argument("--optimizer", type=str, choices=["sgd", "adam"], required=True)
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs"))
    return parser.parse_args()


def final_loss(lr: float, momentum: float, optimizer: str, layers: int) -> float:
    """The loss this configuration converges to: too large a step is unstable, the rest are smooth bowls."""
    loss = 0.15
    loss += 0.6 * max(0.0, math.log10(lr / 0.03)) ** 2
    loss += 2.0 * (momentum - 0.9) ** 2
    loss += 0.05 * (layers - 2) ** 2
    loss -= 0.03 if optimizer == "adam" else 0.0
    return loss


def convergence_rate(lr: float, momentum: float, optimizer: str) -> float:
    """How fast the curve falls per epoch: slowly with a small step, saturating above lr 0.03."""
    step = math.sqrt(lr / 0.03 * (1.0 + momentum) / 1.9)
    return 1.4 * step / (1.0 + step) + (0.1 if optimizer == "adam" else 0.0)


def main() -> None:
    args = parse_args()
    hyperparameters = {
        "learning_rate": args.learning_rate,
        "momentum": args.momentum,
        "optimizer": args.optimizer,
        "layers": args.layers,
    }
    print(f"training with {hyperparameters} for {args.epochs} epochs", flush=True)

    # Small noise, seeded by the configuration: the same hyperparameters give the same curve.
    rng = np.random.default_rng(zlib.crc32(json.dumps(hyperparameters, sort_keys=True).encode()))
    floor = final_loss(args.learning_rate, args.momentum, args.optimizer, args.layers)
    rate = convergence_rate(args.learning_rate, args.momentum, args.optimizer)
    start_loss = 2.5
    val_loss = start_loss
    for epoch in range(1, args.epochs + 1):
        began = time.perf_counter()
        clean = floor + (start_loss - floor) * math.exp(-rate * epoch)
        val_loss = clean * (1 + 0.02 * rng.standard_normal())
        train_loss = clean * (0.9 + 0.02 * rng.standard_normal())
        mlflow.log_metric("train_loss", train_loss, step=epoch)
        mlflow.log_metric("val_loss", val_loss, step=epoch)
        print(f"epoch {epoch}/{args.epochs}: train_loss={train_loss:.4f} val_loss={val_loss:.4f}", flush=True)
        time.sleep(max(0.0, EPOCH_SECONDS - (time.perf_counter() - began)))

    args.output_dir.mkdir(parents=True, exist_ok=True)
    model = {
        "hyperparameters": hyperparameters,
        "weights": rng.standard_normal(args.layers + 1).round(4).tolist(),
        "val_loss": val_loss,
    }
    (args.output_dir / "model.json").write_text(json.dumps(model, indent=2))
    print(f"saved {args.output_dir / 'model.json'} (final val_loss {val_loss:.4f})", flush=True)


if __name__ == "__main__":
    main()

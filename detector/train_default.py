"""Train the shipped default model: ``python -m detector.train_default [--out PATH]``.

The live control loop needs a detector before it has any history of its own.
Because every feature is fleet-relative (peer and self views on log values),
a model trained on synthetic *healthy* fleets transfers to a real pool of any
size and load level.  This script draws fleets of 3 to 8 nodes with the eight
live metrics (``detector.synth``: varying load with bursts, load-balancer
imbalance, heavy-tailed noise), one after another in time so that fleets never
share a window, and fits a seeded ``NodeDetector`` on them.  Same seed, same
library versions → the same model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from detector.model import DEFAULT_MODEL, NodeDetector
from detector.synth import healthy_fleet

DEFAULT_PATH = Path(__file__).resolve().parent / "models" / DEFAULT_MODEL
STEP_SECONDS = 15.0


def training_fleets(seed: int = 20261126, fleets: int = 12, steps: int = 1500) -> pd.DataFrame:
    frames = []
    start = pd.Timestamp("2026-01-01")
    for k in range(fleets):
        n_nodes = 3 + k % 6  # 3..8
        frames.append(
            healthy_fleet(
                n_nodes=n_nodes,
                steps=steps,
                step_seconds=STEP_SECONDS,
                start=start,
                seed=seed + k,
                node_prefix=f"train{k}-node-",
            )
        )
        start += pd.Timedelta(seconds=STEP_SECONDS * (steps + 100))
    return pd.concat(frames, ignore_index=True)


def train(seed: int = 20261126) -> NodeDetector:
    # offsets are per node name; synthetic names mean nothing for a live pool
    return NodeDetector(
        learn_offsets=False,
        offset_windows=None,  # as shipped: live figures (benchmarks/detector_live.py) stand
        threshold_quantile=0.999,
        immediate_ratio=None,  # a drain needs k of n windows, never one blip
        random_state=seed % (2**31),
    ).fit(training_fleets(seed))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args(argv)
    model = train(args.seed)
    path = model.save(args.out)
    meta = model.metadata_
    print(
        f"saved {path} ({path.stat().st_size // 1024} KiB): {meta['training_rows']} node-windows, "
        f"threshold {model.threshold_:.4f}, metrics {', '.join(model.metrics_)}"
    )


if __name__ == "__main__":
    main()

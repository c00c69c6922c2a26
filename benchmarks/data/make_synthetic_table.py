"""Write the synthetic tabular benchmark shipped with nasctl: `synthetic_search_space.json` and
`synthetic_table.csv` beside this script. Deterministic: running it again gives the same bytes.

    python benchmarks/data/make_synthetic_table.py [--out DIR]

The space is one cell of three layers (four candidate ops each, with optional skip inputs) and a
learning rate: 8 * 12 * 12 * 3 = 3456 architectures. The "accuracy" is a known function of the
choices, so the optimum is known and the search is not trivial:

- each op has a quality that depends on its depth (sep_conv3x3 is best at the top, conv5x5 in the
  middle, max_pool3x3 never);
- each op prefers a learning rate, and pays for the distance to it (in decades);
- skip connections interact with the ops: a long skip x -> h3 helps only when both lower layers
  convolve, a dense h1 -> h2 helps unless h1 pools; two pools in a row, or three 5x5 convs, hurt;
- Gaussian noise (sigma 0.003, seeded) on every entry, as from a training run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
from nasctl.tuners import SearchSpace

BLOCK = "synthetic/Net.forward/cell"
OPS = ["conv3x3(c)", "conv5x5(c)", "sep_conv3x3(c)", "max_pool3x3()"]
CONV3, CONV5, SEP, POOL = OPS
SEARCH_SPACE = {
    BLOCK: {"_type": "mutable_layer", "_value": {
        "h1": {"layer_choice": OPS, "optional_inputs": ["x"], "optional_input_size": [0, 1]},
        "h2": {"layer_choice": OPS, "optional_inputs": ["x", "h1"], "optional_input_size": [0, 1]},
        "h3": {"layer_choice": OPS, "optional_inputs": ["x", "h1", "h2"], "optional_input_size": 1},
    }},
    "synthetic/learning_rate/choice": {"_type": "choice", "_value": [0.1, 0.03, 0.01]},
}
QUALITY = {"h1": {CONV3: 0.010, CONV5: 0.006, SEP: 0.014, POOL: 0.000},
           "h2": {CONV3: 0.012, CONV5: 0.018, SEP: 0.010, POOL: 0.002},
           "h3": {CONV3: 0.008, CONV5: 0.012, SEP: 0.020, POOL: -0.004}}
PREFERRED_LR = {CONV3: 0.03, CONV5: 0.01, SEP: 0.03, POOL: 0.1}
LR_EFFECT = {0.1: -0.010, 0.03: 0.004, 0.01: 0.000}
NOISE_SIGMA = 0.003
SEED = 2024


def accuracy(arch: dict, noise: float) -> float:
    """The synthetic accuracy of an architecture (see the module docstring)."""
    cell, lr = arch[BLOCK], arch["synthetic/learning_rate/choice"]
    ops = {layer: cell[layer]["chosen_layer"] for layer in ("h1", "h2", "h3")}
    inputs = {layer: cell[layer]["chosen_inputs"] for layer in ("h1", "h2", "h3")}
    acc = 0.80 + LR_EFFECT[lr]
    for layer, op in ops.items():
        acc += QUALITY[layer][op]
        acc -= 0.008 * abs(math.log10(lr) - math.log10(PREFERRED_LR[op]))
    convolving = ops["h1"] != POOL and ops["h2"] != POOL
    if inputs["h3"] == ["x"]:
        acc += 0.012 if convolving else -0.004
    elif inputs["h3"] == ["h1"]:
        acc += 0.004
    if "h1" in inputs["h2"]:
        acc += 0.006 if ops["h1"] != POOL else -0.003
    elif "x" in inputs["h2"]:
        acc += 0.003
    if inputs["h1"]:
        acc += 0.002 if ops["h1"] == SEP else -0.002
    if (ops["h1"] == POOL and ops["h2"] == POOL) or (ops["h2"] == POOL and ops["h3"] == POOL):
        acc -= 0.020
    if sum(op == CONV5 for op in ops.values()) == 3:
        acc -= 0.015
    return round(acc + noise, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    space = SearchSpace(SEARCH_SPACE)
    rng = np.random.default_rng(SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "synthetic_search_space.json").write_text(json.dumps(SEARCH_SPACE, indent=2) + "\n", encoding="utf-8")
    names = [d.name for d in space.dimensions]
    with (args.out / "synthetic_table.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*names, "accuracy"])
        for point in space.enumerate():
            arch = space.to_architecture(point)
            cells = [d.value(c) if d.part == "chosen_layer" else json.dumps(d.value(c))
                     for d, c in zip(space.dimensions, point, strict=True)]
            writer.writerow([*cells, f"{accuracy(arch, float(rng.normal(0.0, NOISE_SIGMA))):.4f}"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Discovery benchmark: oracle calls each acquisition strategy needs vs random search.

Prints JSON: for each strategy, the oracle calls needed to find 90 % of the true
top-10 (mean and 2.5-97.5 percentile interval over seeds), the discovery
acceleration factor (random's mean calls / the strategy's) and the final surrogate MAE.

Ground truth: ``--ground-truth FILE.npz`` with arrays ``X`` (descriptors) and ``y``
(oracle values, e.g. EMT mixing energies of every candidate, minimised); without it a
*synthetic* 7-element alloy space (3003 compositions, regular-solution-like energies,
see ``alloyscreen.surrogates.benchmarking.synthetic_alloy_space``) is used.

    python benchmarks/discovery.py [--ground-truth F.npz] [--seeds 10] [--batch 10] [--n-init 10]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.benchmarking import simulate_campaign, summarize, synthetic_alloy_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ground-truth", help="npz file with arrays X and y")
    parser.add_argument("--direction", default="minimize", choices=["minimize", "maximize"])
    parser.add_argument("--strategies", nargs="+", default=["random", "greedy", "ucb", "ei", "thompson"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--diversity", default="maxmin", choices=["maxmin", "kmeans", "none"])
    args = parser.parse_args()

    if args.ground_truth:
        data = np.load(args.ground_truth)
        X, y, source = data["X"], data["y"], args.ground_truth
    else:
        _, X, y = synthetic_alloy_space()
        source = "synthetic_alloy_space(n_elements=7, parts=8, seed=0)"
    objective = Objective("y", args.direction)
    traces, timings = [], {}
    for strategy in args.strategies:
        start = time.perf_counter()
        for seed in range(args.seeds):
            traces.append(
                simulate_campaign(
                    X,
                    y,
                    strategy,
                    batch=args.batch,
                    n_init=args.n_init,
                    seed=seed,
                    objective=objective,
                    top_k=args.top_k,
                    diversity=args.diversity,
                )
            )
        timings[strategy] = round(time.perf_counter() - start, 1)
    summary = summarize(traces)
    for strategy, entry in summary.items():
        entry["wall_s_all_seeds"] = timings[strategy]
    print(
        json.dumps(
            {
                "benchmark": "discovery",
                "ground_truth": source,
                "n_candidates": int(y.shape[0]),
                "n_descriptors": int(X.shape[1]),
                "target": f"calls to label 90% of the true top-{args.top_k}",
                "batch": args.batch,
                "n_init": args.n_init,
                "diversity": args.diversity,
                "seeds": args.seeds,
                "strategies": summary,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Pareto discovery benchmark: oracle calls to find the true Pareto front, Pareto active learning vs random.

Two objectives on the EMT ground truth of ``benchmarks/discovery.py`` (2107 fcc
compositions of Al, Cu, Ag, Au, Ni, Pd, Pt): minimise the EMT mixing energy
(learned by the surrogate ensemble, labelled by the oracle) and minimise the
raw-material cost (USD/kg, known exactly for every candidate). Each round is selected
as a multi-objective campaign does it: the learned objective's acquisition and minus
the cost are ranked into Pareto fronts, taken front by front
(:func:`alloyscreen.surrogates.benchmarking.simulate_pareto_campaign`).

Prints JSON: the true Pareto front (size, members), and for each strategy the oracle
calls needed to label 90 % of it (mean, bootstrap 95 % interval of the mean, per seed),
the acceleration factor vs random (random's mean calls / the strategy's) and wall time.

    python benchmarks/pareto_discovery.py [--seeds 10] [--batch 10] [--n-init 10] [--limit N] [--quick]

``--quick`` (a check of the script, not a figure): as ``discovery.py --quick``, the EMT
ground truth of the first 12 compositions built in a throwaway data directory, one
seed, batch 2, 5 initial labels.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from discovery import QUICK, bootstrap_mean_interval, emt_problem
from emt_ground_truth import ELEMENTS
from scratch import scratch_database

from alloyscreen.descriptors import Compositions
from alloyscreen.descriptors.properties import composition_properties
from alloyscreen.surrogates.benchmarking import simulate_pareto_campaign, summarize
from alloyscreen.surrogates.pareto import pareto_fronts

KAPPA = {"ucb": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=["random", "ucb", "greedy", "ei"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--diversity", default="maxmin", choices=["maxmin", "kmeans", "none"])
    parser.add_argument("--limit", type=int, help="EMT ground truth: its first N compositions only")
    parser.add_argument("--quick", action="store_true",
                        help="throwaway data dir, ground truth built there (12 compositions), 1 seed, small batches")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(**{key: QUICK[key] for key in ("seeds", "batch", "n_init", "limit")})
        args = parser.parse_args()
        with scratch_database("pareto_discovery"):
            run(args)
    else:
        run(args)


def run(args) -> None:
    """Print the benchmark's JSON."""
    start = time.perf_counter()
    X, y, provenance = emt_problem("both", args.limit)
    fractions, _, _ = emt_problem("fractions", args.limit)
    cost = composition_properties(["cost"], Compositions.from_dense(ELEMENTS, fractions))[:, 0]
    front = np.flatnonzero(pareto_fronts(np.column_stack([-y, -cost])) == 0)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    traces, timings = [], {}
    for strategy in args.strategies:
        began = time.perf_counter()
        options = {"kappa": KAPPA[strategy]} if strategy in KAPPA else {}
        for seed in seeds:
            traces.append(simulate_pareto_campaign(X, y, -cost, strategy, batch=args.batch, n_init=args.n_init,
                                                   seed=seed, diversity=args.diversity, **options))
        timings[strategy] = round(time.perf_counter() - began, 1)
    summary = summarize(traces)
    for strategy, entry in summary.items():
        calls = np.array([t.calls_to_target or t.calls[-1] for t in traces if t.strategy == strategy], dtype=float)
        entry["calls_mean_bootstrap_95"] = bootstrap_mean_interval(calls)
        entry["calls_per_seed"] = calls.astype(int).tolist()
        entry["wall_s_all_seeds"] = timings[strategy]
        if strategy in KAPPA:
            entry["kappa"] = KAPPA[strategy]
    by_cost = front[np.argsort(cost[front])]
    print(json.dumps({
        "benchmark": "pareto_discovery",
        "ground_truth": provenance,
        "objectives": ["mixing_energy_per_atom (eV/atom), minimised, learned",
                       "cost (USD/kg), minimised, exact from the composition"],
        "n_candidates": int(y.shape[0]),
        "n_descriptors": int(X.shape[1]),
        "true_front_size": int(front.size),
        "true_front": [{"composition": {e: float(x) for e, x in zip(ELEMENTS, fractions[i], strict=True) if x > 0},
                        "mixing_energy_per_atom": round(float(y[i]), 4), "cost_usd_per_kg": round(float(cost[i]), 2)}
                       for i in by_cost],
        "target": f"calls to label 90% of the true Pareto front ({int(np.ceil(0.9 * front.size))} of {front.size})",
        "batch": args.batch, "n_init": args.n_init, "diversity": args.diversity,
        "seeds": list(seeds),
        "strategies": summary,
        "wall_s": round(time.perf_counter() - start, 1),
    }, indent=2))


if __name__ == "__main__":
    main()

"""Discovery benchmark: oracle calls each acquisition strategy needs vs random search.

Ground truth (default): EMT mixing energies of all 2107 fcc compositions of Al, Cu, Ag,
Au, Ni, Pd, Pt with 2-4 components on a 1/8 grid (``benchmarks/emt_ground_truth.py``:
32-atom random solid solutions, vc-relaxed, through the project's calculation cache,
assembled into a cached ``.npz``; the first run computes it: 20 min on 2 shared cores).
``--ground-truth FILE.npz`` (arrays ``X`` and ``y``) or ``--synthetic`` replace it.

``--fidelities``: the two-fidelity benchmark instead. Ground truth
(``benchmarks/fidelity_table.py``): every composition of the same 7-element space
as an 8-atom random solid solution, labelled by EMT (vc-relaxed: the cheap
fidelity) and by CHGNet (vc-relaxed: the expensive one), with CHGNet's static
energy of the unrelaxed cell as the zero-shot ranker; each mixing energy
against the same calculator's vc-relaxed elements. Core-hours per calculation
are the medians measured while building it. Two spaces: all 2107 compositions
(with Al, where EMT is misleading) and the 1050 without Al. For each, over the
seeds: the expensive calls (and core-hours) each strategy of
:mod:`alloyscreen.surrogates.fidelity_benchmarking` spends to label 90 % of the
expensive top-10.

Prints JSON: for each strategy the oracle calls needed to find 90 % of the true
top-k (mean, 2.5-97.5 percentile interval over seeds, bootstrap 95 % interval of the
mean), the discovery acceleration factor vs random (random's mean calls / the
strategy's) at the target and on the way (1, k/2 found), the final surrogate MAE,
and the ground truth's provenance.

    python benchmarks/discovery.py [--seeds 10] [--batch 10] [--n-init 10] [--features both] [--limit N]
    python benchmarks/discovery.py --fidelities [--seeds 10] [--share 0.5]

``--quick`` (a check of the script, not a figure): everything in a throwaway data
directory (embedded database and ``.npz`` caches removed afterwards), one seed,
batch 2, 5 initial labels, top-2. The EMT ground truth is built there from scratch
for its first 12 compositions (``--limit``); with ``--fidelities``, the two-fidelity
table of ``QUICK_FIDELITY_SPACE`` (Al, Cu, Ni, Pd binaries; 18 compositions as 4-atom
1x1x1 cells, relaxed to 0.2 eV/Å; CHGNet runs, on one torch thread: where another
process shares the cores, CHGNet's threads waiting on each other make its small cells
about 30 times slower): about 16 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from emt_ground_truth import TARGET, load_or_build
from fidelity_table import SUPERCELL, fidelity_table
from scipy.stats import spearmanr
from scratch import scratch_database
from threadpoolctl import threadpool_limits

from alloyscreen.descriptors import Compositions, featurize
from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.benchmarking import simulate_campaign, summarize, synthetic_alloy_space
from alloyscreen.surrogates.fidelity_benchmarking import STRATEGIES, TwoFidelityProblem, simulate_fidelities

FEATURES = ("fractions", "descriptors", "both")
ELEMENTS = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
FIDELITY_SPACE = {"elements": ELEMENTS, "n_components": [2, 4], "sampling": {"kind": "grid", "step": 0.125},
                  "prototype": "fcc"}
FIDELITIES = {"emt": ("emt", "vc-relax"), "chgnet_static": ("chgnet", "static"), "chgnet": ("chgnet", "vc-relax")}
# --quick: binaries of 4 elements (18 compositions, 9 without Al), the EMT ground truth's first 12, small campaigns
QUICK_FIDELITY_SPACE = {"elements": ["Al", "Cu", "Ni", "Pd"], "n_components": 2,
                        "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"}
QUICK = {"seeds": 1, "batch": 2, "n_init": 5, "top_k": 2, "limit": 12, "ladder_cheap_calls": 4}
QUICK_FIDELITY_CELLS = (1, 1, 1)  # 4 atoms: every composition of a 1/4 grid exactly
QUICK_FIDELITY_SETTINGS = {"fmax": 0.2}  # eV/Å, every calculator: the relaxations of a check, not of a figure


def descriptors(elements: list[str], fractions: np.ndarray, features: str) -> np.ndarray:
    """Fractions, composition descriptors (finite columns) or both, side by side."""
    blocks = []
    if features in ("fractions", "both"):
        blocks.append(fractions)
    if features in ("descriptors", "both"):
        table = featurize(Compositions.from_dense(elements, fractions))
        blocks.append(table.values[:, np.all(np.isfinite(table.values), axis=0)])
    return np.column_stack(blocks)


def emt_problem(features: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return (X, y, provenance) of the EMT ground truth (its first ``limit`` compositions) with ``features``."""
    start = time.perf_counter()
    arrays, provenance = load_or_build(limit)
    keep = np.isfinite(arrays["y"])
    elements = [str(e) for e in arrays["elements"]]
    provenance.update(n_dropped_failed=int((~keep).sum()), target=TARGET,
                      ground_truth_wall_s=round(time.perf_counter() - start, 2))
    return descriptors(elements, arrays["fractions"][keep], features), arrays["y"][keep], provenance


def calls_to_find(trace, j: int) -> int | None:
    """Return the oracle calls after which ``j`` true top-k candidates were labelled (None if never)."""
    return next((c for c, f in zip(trace.calls, trace.found, strict=True) if f >= j), None)


def bootstrap_mean_interval(values: np.ndarray, seed: int = 0, n: int = 10_000) -> list[float]:
    """Return the bootstrap 2.5 and 97.5 percentiles of the mean of ``values``."""
    draws = np.random.default_rng(seed).choice(values, size=(n, values.size)).mean(axis=1)
    return [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def fidelity_problems(features: str, quick: bool = False) -> tuple[dict[str, TwoFidelityProblem], dict]:
    """The two-fidelity problems (with Al, without Al) of ``FIDELITY_SPACE`` (quick: the small one) and their source."""
    space = QUICK_FIDELITY_SPACE if quick else FIDELITY_SPACE
    elements = space["elements"]
    stem = "two_fidelity_discovery_small" if quick else "two_fidelity_discovery"
    cells, settings = (QUICK_FIDELITY_CELLS, QUICK_FIDELITY_SETTINGS) if quick else (SUPERCELL, None)
    with threadpool_limits(1):
        table = fidelity_table(space, FIDELITIES, stem, cells, settings)
    ok = np.all([np.isfinite(table[name]) for name in FIDELITIES], axis=0)
    hours = {name: float(np.nanmedian(table[f"{name}_core_hours"])) for name in FIDELITIES}
    without_al = table["fractions"][:, elements.index("Al")] == 0
    problems = {}
    for name, rows in (("with_al", ok), ("without_al", ok & without_al)):
        problems[name] = TwoFidelityProblem(
            descriptors(elements, table["fractions"][rows], features), table["emt"][rows], table["chgnet"][rows],
            hours["emt"], hours["chgnet"], table["chgnet_static"][rows], hours["chgnet_static"])
    spearman = {name: round(float(spearmanr(p.cheap, p.expensive).statistic), 3) for name, p in problems.items()}
    relaxed = f"vc-relaxed to {settings['fmax']} eV/Å" if settings else "vc-relaxed"
    return problems, {
        "space": space, "cells": f"{4 * int(np.prod(cells))}-atom random solid solutions ({'x'.join(map(str, cells))} "
                                 f"fcc cells, seed 0), Vegard lattice",
        "cheap": f"EMT mixing energy (eV/atom), {relaxed}", "expensive": f"CHGNet mixing energy (eV/atom), {relaxed}",
        "ranker": "CHGNet static mixing energy of the unrelaxed cell, a line fitted on the expensive labels",
        "core_hours_per_calculation_median": hours, "n_failed_dropped": int((~ok).sum()),
        "cheap_vs_expensive_spearman": spearman}


def run_fidelities(args) -> None:
    """Print the two-fidelity benchmark's JSON."""
    if args.quick:
        import torch

        torch.set_num_threads(1)
    problems, provenance = fidelity_problems(args.features, args.quick)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results = {}
    for space, problem in problems.items():
        results[space] = {"n_candidates": len(problem.expensive)}
        for strategy in STRATEGIES:
            start = time.perf_counter()
            with threadpool_limits(1):
                traces = [simulate_fidelities(problem, strategy, seed=seed, batch=args.batch, n_init=args.n_init,
                                              top_k=args.top_k, share=args.share,
                                              ladder_cheap_calls=args.ladder_cheap_calls) for seed in seeds]
            calls = np.array([t.calls_to_target or t.expensive_calls[-1] for t in traces], dtype=float)
            hours = np.array([t.core_hours_to_target or t.core_hours[-1] for t in traces])
            results[space][strategy] = {
                "expensive_calls_mean": round(float(calls.mean()), 1),
                "expensive_calls_mean_bootstrap_95": [round(v, 1) for v in bootstrap_mean_interval(calls)],
                "core_hours_mean": round(float(hours.mean()), 4),
                "core_hours_mean_bootstrap_95": [round(v, 4) for v in bootstrap_mean_interval(hours)],
                "censored": int(sum(t.calls_to_target is None for t in traces)),
                "expensive_calls_per_seed": calls.astype(int).tolist(),
                "wall_s_all_seeds": round(time.perf_counter() - start, 1)}
            print(f"  {space} {strategy}: {calls.mean():.1f} expensive calls", file=sys.stderr, flush=True)
    print(json.dumps({
        "benchmark": "two-fidelity discovery", "ground_truth": provenance,
        "target": f"expensive calls to label 90% of the expensive top-{args.top_k}",
        "batch": args.batch, "n_init": args.n_init, "share": args.share,
        "ladder_cheap_calls": args.ladder_cheap_calls, "seeds": list(seeds), "spaces": results}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--ground-truth", help="npz file with arrays X and y instead of the EMT ground truth")
    source.add_argument("--synthetic", action="store_true", help="synthetic 7-element space instead of EMT")
    parser.add_argument("--features", default="both", choices=FEATURES, help="EMT ground truth descriptors")
    parser.add_argument("--direction", default="minimize", choices=["minimize", "maximize"])
    parser.add_argument("--strategies", nargs="+", default=["random", "greedy", "ucb", "ei", "thompson"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--diversity", default="maxmin", choices=["maxmin", "kmeans", "none"])
    source.add_argument("--fidelities", action="store_true", help="the two-fidelity benchmark (EMT, CHGNet)")
    parser.add_argument("--share", type=float, default=0.5, help="multi: core-hour share of the expensive fidelity")
    parser.add_argument("--ladder-cheap-calls", type=int, default=200, help="ladder: cheap labels before checks")
    parser.add_argument("--limit", type=int, help="EMT ground truth: its first N compositions only")
    parser.add_argument("--quick", action="store_true",
                        help="throwaway data dir, ground truth built there (12 compositions), 1 seed, small batches")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(**QUICK)  # what is given explicitly still counts
        args = parser.parse_args()
        with scratch_database("discovery"):
            run(args)
    else:
        run(args)


def run(args) -> None:
    """Print the benchmark's JSON (the two-fidelity one with ``--fidelities``)."""
    if args.fidelities:
        run_fidelities(args)
        return
    if args.ground_truth:
        data = np.load(args.ground_truth)
        X, y, provenance = data["X"], data["y"], {"file": args.ground_truth}
    elif args.synthetic:
        _, X, y = synthetic_alloy_space()
        provenance = {"synthetic": "synthetic_alloy_space(n_elements=7, parts=8, seed=0)"}
    else:
        X, y, provenance = emt_problem(args.features, args.limit)
    objective = Objective("y", args.direction)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    traces, timings = [], {}
    for strategy in args.strategies:
        start = time.perf_counter()
        for seed in seeds:
            traces.append(simulate_campaign(X, y, strategy, batch=args.batch, n_init=args.n_init, seed=seed,
                                            objective=objective, top_k=args.top_k, diversity=args.diversity))
        timings[strategy] = round(time.perf_counter() - start, 1)
    summary = summarize(traces)
    milestones = sorted({1, args.top_k // 2})
    on_the_way = {s: {j: np.mean([calls_to_find(t, j) for t in traces if t.strategy == s]) for j in milestones}
                  for s in summary}
    for strategy, entry in summary.items():
        calls = np.array([t.calls_to_target or t.calls[-1] for t in traces if t.strategy == strategy], dtype=float)
        entry["calls_mean_bootstrap_95"] = bootstrap_mean_interval(calls)
        entry["calls_per_seed"] = calls.astype(int).tolist()
        if "random" in on_the_way:
            entry["acceleration_vs_random_at_found"] = {
                str(j): round(on_the_way["random"][j] / on_the_way[strategy][j], 2) for j in milestones
            }
        entry["wall_s_all_seeds"] = timings[strategy]
    print(json.dumps({
        "benchmark": "discovery",
        "ground_truth": provenance,
        "n_candidates": int(y.shape[0]),
        "n_descriptors": int(X.shape[1]),
        "mae_of_predicting_the_mean": float(np.mean(np.abs(y - y.mean()))),
        "features": args.features if not (args.ground_truth or args.synthetic) else "given",
        "target": f"calls to label 90% of the true top-{args.top_k}",
        "batch": args.batch, "n_init": args.n_init, "diversity": args.diversity,
        "seeds": list(seeds),
        "strategies": summary,
    }, indent=2))


if __name__ == "__main__":
    main()

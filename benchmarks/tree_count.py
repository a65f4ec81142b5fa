"""How many boosted trees a campaign's XGBoost ensemble needs: held-out quality, calibration and fit time.

Ground truth: the EMT mixing energies (vc-relaxed 8-atom random cells, eV/atom)
of the 2107 Al-Cu-Ag-Au-Ni-Pd-Pt fcc compositions of the two-fidelity
discovery benchmark (``fidelity_table``, cached; the first run builds it).
Features: the full descriptor set, as a campaign uses by default. For each
tree count and label count, over the seeds: random labelled rows, the ensemble
(5 members) fitted as a campaign round fits it (5-fold CV calibration of the
spread, then all labels), evaluated on every other composition.

Prints JSON: per ``trees/labels`` the mean held-out Spearman, MAE (eV/atom),
Gaussian NLL and 95% interval coverage with the calibrated spread, the fitted
spread scale, and the fit's wall time (s, calibration included).

    python benchmarks/tree_count.py [--seeds 6] [--trees 300 150 100] [--labels 10 20 50 100] [--learner xgboost]

``--quick`` (a check of the script, not a figure): the EMT column of the table of
``discovery.QUICK_FIDELITY_SPACE`` (Al, Cu, Ni, Pd binaries; 18 compositions) computed from scratch in a
throwaway data directory (embedded database and ``.npz`` removed afterwards); 150 trees, 10 labels,
one seed.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from discovery import FIDELITIES, FIDELITY_SPACE, QUICK_FIDELITY_SPACE, descriptors
from fidelity_table import fidelity_table
from scipy.stats import spearmanr
from scratch import scratch_database

from alloyscreen.surrogates.calibration import gaussian_nll, interval_coverage
from alloyscreen.surrogates.crossval import fit_calibrated
from alloyscreen.surrogates.ensemble import EnsembleRegressor

TREE_PARAMETER = {"xgboost": "n_estimators", "catboost": "iterations"}


def held_out(X: np.ndarray, y: np.ndarray, learner: str, trees: int, labels: int, seed: int) -> list[float]:
    """Spearman, MAE, NLL, 95% coverage, spread scale and fit seconds of one calibrated fit on ``labels`` rows."""
    rows = np.random.default_rng(seed).choice(y.size, labels, replace=False)
    rest = np.setdiff1d(np.arange(y.size), rows)
    model = EnsembleRegressor(learner, 5, learner_params={TREE_PARAMETER[learner]: trees}, random_state=seed)
    start = time.perf_counter()
    fit_calibrated(model, X[rows], y[rows], n_splits=5, seed=seed)
    seconds = time.perf_counter() - start
    mean, std = model.predict(X[rest], return_std=True)
    residuals = y[rest] - mean
    return [spearmanr(mean, y[rest]).statistic, float(np.mean(np.abs(residuals))), gaussian_nll(residuals, std),
            interval_coverage(residuals, std).p95, model.std_scale, seconds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--trees", type=int, nargs="+", default=[300, 150, 100])
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--learner", choices=sorted(TREE_PARAMETER), default="xgboost")
    parser.add_argument("--quick", action="store_true",
                        help="EMT labels of an 18-composition space computed in a throwaway data dir, 150 trees, "
                             "10 labels, one seed")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(seeds=1, trees=[150], labels=[10])  # what is given explicitly still counts
        args = parser.parse_args()
        with scratch_database("tree_count"):
            run(args, fidelity_table(QUICK_FIDELITY_SPACE, {"emt": FIDELITIES["emt"]}, "tree_count_quick"),
                QUICK_FIDELITY_SPACE["elements"])
    else:
        run(args, fidelity_table(FIDELITY_SPACE, FIDELITIES, "two_fidelity_discovery"), FIDELITY_SPACE["elements"])


def run(args, table: dict[str, np.ndarray], elements: list[str]) -> None:
    """Print the benchmark's JSON for the EMT labels of ``table`` (fractions of ``elements``)."""
    finite = np.isfinite(table["emt"])
    X, y = descriptors(elements, table["fractions"][finite], "descriptors"), table["emt"][finite]
    names = ["spearman", "mae_ev_per_atom", "nll", "coverage_95", "std_scale", "fit_s"]
    results = {}
    for trees in args.trees:
        for labels in args.labels:
            mean = np.mean([held_out(X, y, args.learner, trees, labels, seed) for seed in range(args.seeds)], axis=0)
            results[f"{trees}/{labels}"] = {name: round(float(v), 4) for name, v in zip(names, mean, strict=True)}
    print(json.dumps({"benchmark": "tree_count", "learner": args.learner, "seeds": args.seeds,
                      "compositions": int(y.size), "features": int(X.shape[1]),
                      "label": "EMT mixing energy, vc-relaxed 8-atom random fcc cells (eV/atom)",
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()

"""Ranking quality against label count: trees, zero-shot CHGNet, a trained matgl ensemble and a Δ model.

Ground truth: every candidate of a 7-element fcc space (Al, Cu, Ag, Au, Ni, Pd,
Pt; 2-3 components; grid step 1/8: 882 compositions), each an 8-atom random
solid solution (2x1x1 conventional cells, exact counts, seed 0) at its Vegard
lattice. The label is its EMT mixing energy (vc-relaxed, against vc-relaxed
elemental references): the oracle of the campaign's cheap stage. CHGNet's
mixing energy of the same unrelaxed cell (static, against CHGNet's vc-relaxed
references) is the zero-shot ranker's value. Every calculation goes through
:func:`alloyscreen.validation.maker.validate` (the project's calculation cache);
the assembled table is cached as an ``.npz`` under ``<data_dir>/benchmarks``.

For each label count n (20, 50, 100, 200) and seed, n candidates are labelled
at random and the rest held out; on the held-out candidates the script reports
Spearman's rank correlation and the MAE (eV/atom) of:
- ``trees``: the XGBoost ensemble on the composition descriptors;
- ``chgnet``: zero-shot CHGNet mapped onto the labels by a line fitted on the n
  labels (:class:`~alloyscreen.surrogates.potential.CalibratedPotential`);
- ``gnn``: a matgl MEGNet ensemble trained on the n labelled (unrelaxed) cells;
- ``delta``: the same ensemble trained on label minus calibrated CHGNet, added to it;
also over the held-out candidates without Al (where EMT and CHGNet agree best).

    python benchmarks/ranking_quality.py [--seeds 3] [--gnn-seeds 2] [--epochs 20] [--counts 20 50 100 200]

``--quick`` (a check of the script, not a figure): the table of ``QUICK_SPACE`` (Al, Cu, Ni,
Pd binaries, 18 compositions) computed from scratch in a throwaway data directory; 10 labels,
one seed, networks of one epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

import numpy as np
from fidelity_table import SUPERCELL, fidelity_table, structure
from scipy.stats import spearmanr
from scratch import scratch_database
from threadpoolctl import threadpool_limits

from alloyscreen.descriptors import Compositions, featurize
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.gnn import GnnEnsemble
from alloyscreen.surrogates.potential import CalibratedPotential

ELEMENTS = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
SPACE = {"elements": ELEMENTS, "n_components": [2, 3], "sampling": {"kind": "grid", "step": 0.125},
         "prototype": "fcc"}
FIDELITIES = {"emt": ("emt", "vc-relax"), "chgnet": ("chgnet", "static")}
QUICK_SPACE = {"elements": ["Al", "Cu", "Ni", "Pd"], "n_components": 2, "sampling": {"kind": "grid", "step": 0.25},
               "prototype": "fcc"}


def _scores(y: np.ndarray, predicted: np.ndarray, subset: np.ndarray) -> dict[str, float]:
    return {"spearman": round(float(spearmanr(y, predicted).statistic), 3),
            "mae": round(float(np.mean(np.abs(y - predicted))), 4),
            "spearman_without_al": round(float(spearmanr(y[subset], predicted[subset]).statistic), 3)}


def evaluate(table: dict[str, np.ndarray], n: int, seed: int, epochs: int | None,
             elements: list[str]) -> dict[str, dict[str, float]]:
    """Held-out scores of each ranker trained on ``n`` random labels (``epochs`` None: no networks)."""
    y, chgnet, fractions = table["emt"], table["chgnet"], table["fractions"]
    train = np.random.default_rng(seed).choice(len(y), n, replace=False)
    test = np.setdiff1d(np.arange(len(y)), train)
    without_al = fractions[test, elements.index("Al")] == 0
    X = featurize(Compositions.from_dense(elements, fractions)).values
    trees = EnsembleRegressor("xgboost", 5, random_state=seed).fit(X[train], y[train])
    line = CalibratedPotential().fit(chgnet[train], y[train])
    calibrated = line.predict_moments(chgnet)[0]
    rows = {"trees": _scores(y[test], trees.predict(X[test]), without_al),
            "chgnet": _scores(y[test], calibrated[test], without_al)}
    if epochs:
        structures = [structure(elements, row) for row in fractions]
        train_cells, test_cells = [structures[i] for i in train], [structures[i] for i in test]
        gnn = GnnEnsemble(n_members=2, max_epochs=epochs, random_state=seed, element_types=tuple(elements))
        rows["gnn"] = _scores(y[test], gnn.fit(train_cells, y[train]).predict(test_cells), without_al)
        delta = GnnEnsemble(n_members=2, max_epochs=epochs, random_state=seed, element_types=tuple(elements))
        delta.fit(train_cells, y[train] - calibrated[train])
        rows["delta"] = _scores(y[test], calibrated[test] + delta.predict(test_cells), without_al)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the trees and CHGNet rows")
    parser.add_argument("--gnn-seeds", type=int, default=2, help="seeds that also train the networks")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of each network")
    parser.add_argument("--quick", action="store_true",
                        help="18 compositions computed in a throwaway data dir, 10 labels, 1 seed, 1 epoch")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(counts=[10], seeds=1, gnn_seeds=1, epochs=1)  # what is given explicitly still counts
        args = parser.parse_args()
        with scratch_database("ranking_quality"):
            run(args, QUICK_SPACE, "two_fidelity_quick")
    else:
        run(args, SPACE, "two_fidelity")


def run(args, space: dict, stem: str) -> None:
    """Print the benchmark's JSON for the candidates of ``space`` (table cached as ``stem``)."""
    elements = space["elements"]
    start = time.perf_counter()
    with threadpool_limits(1), contextlib.redirect_stdout(sys.stderr):  # banners of the libraries: not the JSON
        table = fidelity_table(space, FIDELITIES, stem)
        ok = np.isfinite(table["emt"]) & np.isfinite(table["chgnet"])
        table = {key: value[ok] for key, value in table.items()}
        without_al = table["fractions"][:, elements.index("Al")] == 0
        results = {}
        for n in args.counts:
            runs = [evaluate(table, n, seed, args.epochs if seed < args.gnn_seeds else None, elements)
                    for seed in range(args.seeds)]
            results[n] = {name: {metric: round(float(np.mean([run[name][metric] for run in runs if name in run])), 3)
                                 for metric in runs[0][name]} | {"runs": sum(name in run for run in runs)}
                          for name in runs[0]}
    print(json.dumps({
        "space": space, "cells": f"8-atom random solid solutions ({SUPERCELL} fcc cells), Vegard lattice",
        "label": "EMT mixing energy (eV/atom), vc-relaxed; CHGNet: static mixing energy of the same cell",
        "n_candidates": int(len(table["emt"])), "n_without_al": int(without_al.sum()),
        "zero_shot_chgnet_vs_emt_spearman": round(float(spearmanr(table["emt"], table["chgnet"]).statistic), 3),
        "zero_shot_chgnet_vs_emt_spearman_without_al": round(float(spearmanr(
            table["emt"][without_al], table["chgnet"][without_al]).statistic), 3),
        "held_out_by_label_count": results, "wall_s": round(time.perf_counter() - start, 1),
    }, indent=1))


if __name__ == "__main__":
    main()

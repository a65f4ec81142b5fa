"""What the calibration rule costs in coverage: the spread's scale refitted every round, or by the rule.

The rule (:func:`alloyscreen.campaign.round.models.calibration_due`): a campaign's
surrogate refits its spread's scale by 5-fold cross-validation on its first
calibrated model, for its final model and once the labels have grown by a
quarter since the scale in force was fitted; in between it reuses that scale.

Ground truth: the EMT mixing energies (vc-relaxed 8-atom random cells, eV/atom)
of the 2107 Al-Cu-Ag-Au-Ni-Pd-Pt fcc compositions of the two-fidelity discovery
benchmark: its EMT column, built here alone (``fidelity_table`` with the EMT
fidelity only: the same cells and calculations, cached; the first run computes
them). Features: the full descriptor set. Per seed, labels arrive in a random
order, ``--start`` and then ``--batch`` a round (a round also at each ``--labels``
count), one round past the largest ``--labels`` (so that the models evaluated are
not the final one, which the rule always refits). Each round's model (the campaign's default XGBoost ensemble, 5
members, seeded by round) is cross-validated; at each ``--labels`` count it is
fitted on all labels and its 95% intervals are checked on every unlabelled
composition, with the scale fitted that round (every round) and with the scale
the rule keeps.

Prints JSON: per label count the mean held-out 95% coverage and Gaussian NLL of
both, the labels the rule's scale was fitted on (per seed), the rounds' label
counts and those at which the rule cross-validates (every round does each time).

    python benchmarks/calibration_rule.py [--seeds 3] [--labels 20 50 100 200] [--start 10] [--batch 10]

``--quick`` (a check of the script, not a figure): the EMT column of
``discovery.QUICK_FIDELITY_SPACE`` (18 compositions) from scratch in a throwaway data
directory, 50 trees, labels 7 and 11 (start 7, batch 2), one seed.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from discovery import FIDELITIES, FIDELITY_SPACE, QUICK_FIDELITY_SPACE, descriptors
from fidelity_table import fidelity_table
from scratch import scratch_database

from alloyscreen.campaign.round.models import RECALIBRATE_GROWTH, calibration_due
from alloyscreen.surrogates.calibration import fit_std_scale, gaussian_nll, interval_coverage
from alloyscreen.surrogates.crossval import cross_val_fits
from alloyscreen.surrogates.ensemble import EnsembleRegressor


def rounds(args) -> list[int]:
    """Labels of each model round: ``start``, then ``batch`` more a round (and a round at each of ``labels``), one
    round past the largest ``labels``."""
    return sorted(set(range(args.start, max(args.labels) + args.batch + 1, args.batch)) | set(args.labels))


def refits(schedule: list[int]) -> list[int]:
    """The label counts at which the rule refits the scale, over ``schedule`` (its last round is the final one)."""
    done: list[int] = []
    for index, n in enumerate(schedule):
        if calibration_due(n, done[-1] if done else None, final=index == len(schedule) - 1):
            done.append(n)
    return done


def one_campaign(X: np.ndarray, y: np.ndarray, args, seed: int) -> dict[int, dict]:
    """Per evaluated label count: coverage and NLL with each scale, and the labels the rule's scale came from."""
    order = np.random.default_rng(seed).permutation(y.size)
    schedule, due = rounds(args), set(refits(rounds(args)))
    calibrated_at, kept_scale, out = None, 1.0, {}
    for index, n in enumerate(schedule):
        train, rest = order[:n], order[n:]
        model = EnsembleRegressor("xgboost", 5, learner_params={"n_estimators": args.trees}, random_state=seed + index)
        fits = cross_val_fits(model, X[train], y[train], n_splits=5, seed=seed)
        scale = fit_std_scale(y[train] - fits.mean, fits.std)  # every round's
        if n in due:
            calibrated_at, kept_scale = n, scale
        if n in args.labels:
            mean, std = model.fit(X[train], y[train]).predict(X[rest], return_std=True)  # std_scale 1: the raw spread
            residuals = y[rest] - mean
            out[n] = {"every_round": [interval_coverage(residuals, scale * std).p95,
                                      gaussian_nll(residuals, scale * std)],
                      "rule": [interval_coverage(residuals, kept_scale * std).p95,
                               gaussian_nll(residuals, kept_scale * std)],
                      "rule_calibrated_at": calibrated_at}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--start", type=int, default=10, help="labels of the first model round")
    parser.add_argument("--batch", type=int, default=10, help="labels added per round")
    parser.add_argument("--trees", type=int, default=150, help="trees per member (the campaign default)")
    parser.add_argument("--quick", action="store_true",
                        help="18 compositions from scratch, 50 trees, labels 7 and 11, start 7, batch 2, one seed")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(seeds=1, labels=[7, 11], start=7, batch=2, trees=50)  # what is given explicitly counts
        args = parser.parse_args()
        with scratch_database("calibration_rule"):
            run(args, fidelity_table(QUICK_FIDELITY_SPACE, {"emt": FIDELITIES["emt"]}, "calibration_rule_quick"),
                QUICK_FIDELITY_SPACE["elements"])
    else:
        run(args, fidelity_table(FIDELITY_SPACE, {"emt": FIDELITIES["emt"]}, "two_fidelity_emt"),
            FIDELITY_SPACE["elements"])


def run(args, table: dict[str, np.ndarray], elements: list[str]) -> None:
    """Print the benchmark's JSON for the EMT labels of ``table`` (fractions of ``elements``)."""
    finite = np.isfinite(table["emt"])
    X, y = descriptors(elements, table["fractions"][finite], "descriptors"), table["emt"][finite]
    runs = [one_campaign(X, y, args, seed) for seed in range(args.seeds)]
    results = {}
    for n in sorted(args.labels):
        every = np.mean([r[n]["every_round"] for r in runs], axis=0)
        rule = np.mean([r[n]["rule"] for r in runs], axis=0)
        results[str(n)] = {"coverage_95_every_round": round(float(every[0]), 4),
                           "coverage_95_rule": round(float(rule[0]), 4),
                           "nll_every_round": round(float(every[1]), 4), "nll_rule": round(float(rule[1]), 4),
                           "rule_scale_fitted_at_labels": [r[n]["rule_calibrated_at"] for r in runs]}
    print(json.dumps({"benchmark": "calibration_rule", "growth": RECALIBRATE_GROWTH, "seeds": args.seeds,
                      "compositions": int(y.size), "features": int(X.shape[1]), "start": args.start,
                      "batch": args.batch, "trees": args.trees,
                      "label": "EMT mixing energy, vc-relaxed 8-atom random fcc cells (eV/atom)",
                      "rounds": rounds(args), "rule_refits_at": refits(rounds(args)),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()

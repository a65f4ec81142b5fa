"""Site models of an adsorbate on random alloy surfaces: how many sites they need, how large a surface, how fast.

Sites (``--adsorbate``, default H): the adsorbate on its registry site kind
(H and O: the fcc hollow; OH and CO: on top; see
:mod:`alloyscreen.catalysis.adsorbates`) of random (111) slabs (``--size`` x ``--size``, 4
layers, the bottom 2 fixed, 10 Å vacuum), one slab per composition drawn at
random (flat Dirichlet) from the pool (default Ag, Au, Cu, Pd, Pt: every
element CHGNet treats), every fcc site of each slab. Each slab is labelled by
the project's own ``AdsorptionMaker`` flow (clean slab, gas molecules, one
relaxation per site; positions relaxed) on the embedded database in a
throwaway data dir, so every calculation is a first run and is stored with its
provenance. A site whose adsorbate settled on another site (``moved``) is left out.
Features: the site's zones (:mod:`alloyscreen.structures.surface`).

Oracle: ``--calculator chgnet`` (default). EMT is not fit for H adsorption
(its ΔE_H barely depends on the metal: -0.46 eV on Au against -0.52 eV on Pt,
3x3x4 slabs); ``--calculator emt`` only checks the script.

Measured:

- ``pure_metals``: the site energy (ΔG; ΔE for CO) on each pool metal's pure
  (111) slab of the same shape; for H also its HER activity and its rank
  (1 = most active), the volcano of the oracle used;
- ``learning_curve``: held-out MAE of the site energy (eV) of the calibrated tree ensemble
  (XGBoost, 5 members) and of the piecewise-linear baseline of Batchelor et
  al. (Joule 3, 834 (2019)) against the number of training sites (``--train``;
  those larger than the data are skipped), mean over ``--splits`` random
  splits, always on the same held-out 20 % of the sites;
- ``surface_size`` (H only): the spread (standard deviation over 10 seeds) of the HER
  activity (:func:`alloyscreen.catalysis.activity.her_activity`, per site in
  units of k0) the tree model predicts for the equimolar composition on
  simulated surfaces of 10^2, 10^3 and 10^4 sites;
- ``speed``: site calculations per second (wall, the whole flow of a slab
  divided by its calculations) and simulated-surface site predictions per
  second.

    python benchmarks/site_model.py [--adsorbate H] [--calculator chgnet] [--slabs 60] [--size 3] [--quick]

``--quick`` (a check of the script, not a figure): EMT, 6 slabs of 2 x 2,
training sizes 8 and 12, one split, surfaces of 10^2 and 10^3 sites.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

import numpy as np
from scratch import scratch_database

from alloyscreen.catalysis.activity import her_activity
from alloyscreen.catalysis.adsorbates import ADSORBATES, Adsorbate
from alloyscreen.structures import make_slab
from alloyscreen.structures.surface import site_feature_names, zone_features
from alloyscreen.surrogates.crossval import fit_calibrated
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.sites import PiecewiseLinearSiteModel, surface_energies
from alloyscreen.validation.adsorption import AdsorptionMaker
from alloyscreen.validation.maker import ValidationMaker

POOL = ["Ag", "Au", "Cu", "Pd", "Pt"]
HELD_OUT = 0.2


def label_slabs(adsorbate: Adsorbate, calculator: str, n_slabs: int, size: int,
                seed: int) -> tuple[list[dict], float, int]:
    """Label ``n_slabs`` random slabs; return the site rows of their labels, the wall time and the calculations."""
    from alloyscreen.campaign.engine.execution import run_here
    from alloyscreen.db.client import get_database

    rng = np.random.default_rng(seed)
    maker = AdsorptionMaker(validation=ValidationMaker(calculator=calculator), site_kinds=[adsorbate.site_kind],
                            pool=POOL, prop=adsorbate.prop)
    started, calculations = time.perf_counter(), 0
    for index in range(n_slabs):
        counts = rng.multinomial(4 * size * size, rng.dirichlet(np.ones(len(POOL))))  # exact on the slab
        composition = {element: n / counts.sum() for element, n in zip(POOL, counts, strict=True) if n}
        slab = make_slab(composition, "fcc", size=(size, size), layers=4, fixed_layers=2, vacuum=10.0, seed=index)
        flow = maker.make(slab.structure, candidate_id=f"slab-{index}")
        run_here(flow)
        calculations += len(flow.jobs) - 1
    labels = get_database()["labels"].find({"property": adsorbate.prop, "candidate_id": {"$regex": "^slab-"}})
    rows = [row for label in labels for row in label["details"]["sites"] if row["energy"] is not None]
    return rows, time.perf_counter() - started, calculations


def pure_metals(adsorbate: Adsorbate, calculator: str, size: int) -> dict[str, dict[str, float]]:
    """Each pool metal's (111) surface: its site's energy (eV); for H its HER activity, ranked (1 = most active)."""
    from alloyscreen.campaign.engine.execution import run_here

    maker = AdsorptionMaker(validation=ValidationMaker(calculator=calculator), site_kinds=[adsorbate.site_kind],
                            max_sites=1, prop=adsorbate.prop)
    found = {}
    for metal in POOL:
        slab = make_slab({metal: 1.0}, "fcc", size=(size, size), layers=4, fixed_layers=2, vacuum=10.0)
        flow = maker.make(slab.structure, candidate_id=f"pure-{metal}")
        outcome = run_here(flow)[flow.jobs[-1].uuid][1].output
        found[metal] = {f"{adsorbate.prop}_ev": outcome.value}
        if adsorbate.name == "H":
            found[metal]["her_activity"] = float(her_activity(np.array([outcome.value])))
    if adsorbate.name == "H":
        for rank, metal in enumerate(sorted(found, key=lambda m: -found[m]["her_activity"]), start=1):
            found[metal]["rank"] = rank
    return found


def curve(X: np.ndarray, y: np.ndarray, sizes: list[int], splits: int) -> list[dict]:
    """Held-out MAE of the trees and the baseline per training size (mean over ``splits`` draws)."""
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    held = order[: max(2, int(HELD_OUT * len(y)))]
    pool = order[len(held):]
    rows = []
    for n in sizes:
        if n > len(pool):
            continue
        trees, linear = [], []
        for split in range(splits):
            train = np.random.default_rng(split).choice(pool, n, replace=False)
            model = EnsembleRegressor(random_state=split)
            fit_calibrated(model, X[train], y[train])
            trees.append(float(np.abs(model.predict(X[held]) - y[held]).mean()))
            baseline = PiecewiseLinearSiteModel(n_elements=len(POOL)).fit(X[train], y[train])
            linear.append(float(np.abs(baseline.predict(X[held]) - y[held]).mean()))
        rows.append({"training_sites": n, "held_out_sites": len(held), "trees_mae_ev": float(np.mean(trees)),
                     "piecewise_linear_mae_ev": float(np.mean(linear))})
    return rows


def surface_size(X: np.ndarray, y: np.ndarray, sides: list[int]) -> tuple[list[dict], float]:
    """Spread of the predicted HER activity of the equimolar composition over 10 surfaces per size; predictions/s."""
    model = EnsembleRegressor()
    fit_calibrated(model, X, y)
    equimolar = dict.fromkeys(POOL, 1 / len(POOL))
    rows, rate = [], 0.0
    for side in sides:
        started = time.perf_counter()
        activities = [float(her_activity(surface_energies(model, equimolar, POOL, "fcc", side, seed).mean(axis=0)))
                      for seed in range(10)]
        rate = 10 * side * side / (time.perf_counter() - started)
        rows.append({"sites": side * side, "activity_mean": float(np.mean(activities)),
                     "activity_std": float(np.std(activities))})
    return rows, rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adsorbate", default="H", choices=list(ADSORBATES))
    parser.add_argument("--calculator", default="chgnet")
    parser.add_argument("--slabs", type=int, default=60)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--train", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a check of the script: EMT, 6 slabs of 2 x 2")
    args = parser.parse_args(argv)
    sides = [10, 32, 100]
    if args.quick:
        args.calculator, args.slabs, args.size, args.train, args.splits, sides = "emt", 6, 2, [8, 12], 1, [10, 32]
    adsorbate = ADSORBATES[args.adsorbate]
    with scratch_database("site_model"), contextlib.redirect_stdout(sys.stderr):  # CHGNet's banners: stdout: JSON
        metals = pure_metals(adsorbate, args.calculator, args.size)
        rows, wall, calculations = label_slabs(adsorbate, args.calculator, args.slabs, args.size, args.seed)
    stayed = [row for row in rows if not row["moved"]]
    X, y = zone_features([row["site"] for row in stayed], POOL), np.array([row["energy"] for row in stayed])
    size_rows, predictions_per_s = surface_size(X, y, sides) if adsorbate.name == "H" else ([], None)
    print(json.dumps({
        "benchmark": "site_model", "calculator": args.calculator, "adsorbate": adsorbate.name,
        "site_kind": adsorbate.site_kind, "label": adsorbate.prop,
        "pool": POOL, "slabs": args.slabs, "slab_size": args.size, "sites": len(rows), "moved": len(rows) - len(stayed),
        "features": site_feature_names(POOL), "energy_range_ev": [float(y.min()), float(y.max())],
        "pure_metals": metals, "learning_curve": curve(X, y, args.train, args.splits), "surface_size": size_rows,
        "speed": {"site_calculations_per_s": calculations / wall, "calculations": calculations, "label_wall_s": wall,
                  "surface_predictions_per_s": predictions_per_s},
    }, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])

"""How well the DFT core-hour model predicts the calculations of a cache (issue 23, item 6).

Without ``--data-dir``: a throwaway embedded database in a fresh data directory
under /tmp, filled first with tiny real pw.x calculations (``RUNS``: fcc Cu
cells of 1, 2 and 4 atoms and a 1-atom Ni, 20-30 Ry, several k-point meshes,
static and relaxed, with and without spin; ``--quick``: the five 1- and 2-atom
Cu scf runs, seconds). With ``--data-dir DIR``: the calculations already cached
there, nothing run (``ALLOYSCREEN_DATA_DIR`` is set to DIR; the embedded
server of DIR is started if needed).

For each DFT calculator with at least two cached calculations it prints the
error of the estimate, |ln(estimate / measured core-hours)|, median and max:
``leave_one_out`` (each calculation estimated by the model fitted to all the
others: what a plan says before a new calculation) and ``prior`` (the model
with no cached calculation), the factors ``exp(error)``, and the coefficients
fitted to all of them (:mod:`alloyscreen.validation.cost`). Every completed
calculation counts here (``--min-core-seconds``, default 0), also those under
a core-minute that plans leave out of their fit (``MIN_FIT_CORE_HOURS``: start-up
and load, not scaling); ``n_used_by_plans`` says how many plans would use.
The tiny runs measure mostly that start-up: their errors say how well the fit
works, not what a large cell's estimate is worth.

    python benchmarks/dft_cost_estimate.py [--quick] [--data-dir DIR] [--min-core-seconds S]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from alloyscreen.validation.cost import (
    FEATURES,
    MIN_FIT_CORE_HOURS,
    CostModel,
    is_dft,
    leave_one_out,
    prior_check,
    training_set,
)
from alloyscreen.validation.registry import CALCULATORS

# (element, supercell of the 1-atom fcc cell, mode, settings): tiny and varied in every feature of the model
QUICK = [("Cu", [1, 1, 1], "static", {"ecutwfc": 20.0, "ecutrho": 160.0, "kpts": mesh}) for mesh in
         ([2, 2, 2], [4, 4, 4], [6, 6, 6])] + [
    ("Cu", [2, 1, 1], "static", {"ecutwfc": 20.0, "ecutrho": 160.0, "kpts": mesh}) for mesh in ([2, 2, 2], [4, 4, 4])]
RUNS = QUICK + [
    ("Cu", [1, 1, 1], "static", {"ecutwfc": 30.0, "ecutrho": 240.0, "kpts": [6, 6, 6]}),
    ("Cu", [2, 2, 1], "static", {"ecutwfc": 25.0, "ecutrho": 200.0, "kpts": [3, 3, 3]}),
    ("Cu", [2, 2, 1], "static", {"ecutwfc": 25.0, "ecutrho": 200.0, "kpts": [3, 3, 3], "spin": True}),
    ("Cu", [1, 1, 1], "vc-relax", {"ecutwfc": 25.0, "ecutrho": 200.0, "kspacing": 0.8}),
    ("Cu", [2, 1, 1], "relax", {"ecutwfc": 25.0, "ecutrho": 200.0, "kpts": [4, 4, 4]}),
    ("Ni", [1, 1, 1], "static", {"ecutwfc": 30.0, "ecutrho": 240.0, "kpts": [4, 4, 4]}),
    ("Ni", [1, 1, 1], "static", {"ecutwfc": 30.0, "ecutrho": 240.0, "kpts": [6, 6, 6]}),
]
LATTICE = {"Cu": 3.61, "Ni": 3.52}  # fcc lattice constants (Å)


def _cell(element: str, repeats: list[int]) -> Structure:
    a = LATTICE[element] / 2**0.5
    primitive = Structure(Lattice.from_parameters(a, a, a, 60, 60, 60), [element], [[0, 0, 0]])
    return primitive.make_supercell(repeats, in_place=False)


def run_tiny(runs: list[tuple[str, list[int], str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run (or reuse) ``runs`` with pw.x through the calculation cache; return what each took."""
    from alloyscreen.validation.maker import validate

    done = []
    for element, repeats, mode, settings in runs:
        cell = _cell(element, repeats)
        document, reused = validate(cell, "qe", {"conv_thr": 1e-6, **settings}, mode)
        done.append({"formula": cell.formula.replace(" ", ""), "mode": mode, "kpts": document.settings["kpts"],
                     "ecutwfc": document.settings["ecutwfc"], "spin": document.settings["spin"],
                     "status": document.status, "reused": reused, "core_hours": document.core_hours})
    return done


def _errors(values: np.ndarray) -> dict[str, float]:
    """Median and max of |ln(estimate/measured)|, and as factors."""
    return {"median_abs_log": float(np.median(values)), "max_abs_log": float(np.max(values)),
            "median_factor": float(np.exp(np.median(values))), "max_factor": float(np.exp(np.max(values)))}


def evaluate(calculator: str, min_core_hours: float) -> dict[str, Any] | None:
    """The estimate's errors on the cached calculations of ``calculator`` (core hours >= ``min_core_hours``).

    None with fewer than two.
    """
    X, hours, _ = training_set(calculator, min_core_hours=min_core_hours)
    if len(hours) < 2:
        return None
    prior = np.abs(CostModel().fit(X[:0], hours[:0]).predict(X)[0] - np.log(hours))
    fitted = CostModel().fit(X, hours)
    return {"n": int(len(hours)), "n_used_by_plans": int(np.sum(hours >= MIN_FIT_CORE_HOURS)),
            "leave_one_out": _errors(leave_one_out(X, hours)), "prior": _errors(prior),
            "coefficients": dict(zip(FEATURES, map(float, fitted.coef_), strict=True)),
            "core_hours_range": [float(hours.min()), float(hours.max())]}


def report(ran: list[dict[str, Any]], data_dir: str, started: float, min_core_hours: float) -> dict[str, Any]:
    """The benchmark's JSON object."""
    calculators = {name: result for name in CALCULATORS
                   if is_dft(name) and (result := evaluate(name, min_core_hours)) is not None}
    return {"data_dir": data_dir, "ran": ran, "calculators": calculators, "prior_check": prior_check(),
            "wall_s": time.perf_counter() - started}


def main() -> None:
    """Run the benchmark and print its JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="five tiny Cu scf runs only (seconds)")
    parser.add_argument("--data-dir", type=Path, default=None, help="evaluate this data dir's cache; run nothing")
    parser.add_argument("--min-core-seconds", type=float, default=0.0,
                        help="count only calculations of at least this many core-seconds")
    args = parser.parse_args()
    floor = args.min_core_seconds / 3600
    started = time.perf_counter()
    if args.data_dir is not None:
        os.environ["ALLOYSCREEN_DATA_DIR"] = str(args.data_dir)
        print(json.dumps(report([], str(args.data_dir), started, floor), indent=1))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scratch import scratch_database

    with scratch_database("dft_cost") as data_dir:
        ran = run_tiny(QUICK if args.quick else RUNS)
        print(json.dumps(report(ran, str(data_dir), started, floor), indent=1))


if __name__ == "__main__":
    main()

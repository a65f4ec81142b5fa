"""Competing phases of the Cu-Ni-Pd-Ag-Au-Pt pool with EMT and CHGNet: pair enthalpies, the criterion, the cost.

For every pair of the pool, every ordered prototype of
:mod:`alloyscreen.structures.prototypes` is vc-relaxed with each calculator
(default settings) and its formation energy taken against the same calculator's
vc-relaxed elements (:func:`alloyscreen.validation.phases.competing_phases`;
every calculation through the project's cache, so the wall time of a first run
is the cost of building the phases, a second run is a cache read).

Reference: the sign each pair's lowest formation enthalpy should have, from
the experimental phase diagrams (Massalski, Binary Alloy Phase Diagrams, 2nd
ed., ASM International, 1990): ``-`` for pairs with ordered compounds
(Cu-Au: Cu3Au, CuAu, CuAu3; Cu-Pt: Cu3Pt, CuPt; Ni-Pt: Ni3Pt, NiPt; Cu-Pd:
Cu3Pd, CuPd B2), ``+`` for pairs with a miscibility gap or immiscible (Ag-Cu,
Ag-Ni, Au-Ni, Au-Pt, Cu-Ni's low-temperature gap), no sign for the continuous
solid solutions (Ag-Au, Ag-Pd, Au-Pd, Ni-Pd, Pd-Pt) and Ag-Pt. The JSON
reports each calculator's pair table, its agreement with those signs, and
which pairs the single-phase window of Troparevsky et al. (Phys. Rev. X 5,
011041, 2015; ``[-T·k_B·ln 2, 37 meV/atom]`` for an equiatomic pair, T given)
accepts.

    python benchmarks/phases.py [--calculators emt chgnet] [--temperature 1000] [--quick]

``--quick`` (a check of the script, not a figure): the pool Au, Cu (one pair) in a
throwaway data directory (embedded database removed afterwards), every calculation a first run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from itertools import combinations

import numpy as np
from scratch import scratch_database
from threadpoolctl import threadpool_limits

from alloyscreen.descriptors.pairs import BOLTZMANN, TROPAREVSKY_UPPER
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.phases import PhaseHull, competing_phases
from alloyscreen.validation.targets import MixingEnergyMaker

POOL = ["Ag", "Au", "Cu", "Ni", "Pd", "Pt"]
QUICK_POOL = ["Au", "Cu"]  # one pair, with ordered compounds (Cu3Au, CuAu, CuAu3)
EXPECTED_SIGN = {("Au", "Cu"): -1, ("Cu", "Pt"): -1, ("Ni", "Pt"): -1, ("Cu", "Pd"): -1,
                 ("Ag", "Cu"): 1, ("Ag", "Ni"): 1, ("Au", "Ni"): 1, ("Au", "Pt"): 1, ("Cu", "Ni"): 1}


def pair_table(calculator: str, temperature: float, pool: list[str]) -> dict:
    """Every pair's phases and lowest enthalpy with ``calculator``, the criterion's verdict, and the wall time."""
    start = time.perf_counter()
    phases = competing_phases(MixingEnergyMaker(validation=ValidationMaker(calculator=calculator)), pool)
    wall = time.perf_counter() - start
    hull = PhaseHull(pool, phases)
    lowest = hull.pair_enthalpies()
    lower = -temperature * BOLTZMANN * np.log(2)
    pairs = {}
    for a, b in combinations(pool, 2):
        value = lowest.get((a, b))
        found = {p.name: round(p.formation_energy, 4) for p in phases if sorted(p.composition) == [a, b]}
        expected = EXPECTED_SIGN.get((a, b))
        pairs[f"{a}-{b}"] = {
            "lowest_ev_per_atom": None if value is None else round(value, 4),
            "lowest_phase": min(found, key=found.get) if found else None, "phases": found,
            "expected_sign": {1: "+", -1: "-", None: None}[expected],
            "sign_agrees": None if expected is None or value is None else bool(np.sign(value) == expected),
            "single_phase_equiatomic": None if value is None else bool(lower <= value <= TROPAREVSKY_UPPER)}
    agree = [p["sign_agrees"] for p in pairs.values() if p["sign_agrees"] is not None]
    return {"wall_s_first_or_cached": round(wall, 1), "phases": len(phases), "on_hull": hull.stable(),
            "signs_agree": f"{sum(agree)}/{len(agree)}", "pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculators", nargs="+", default=["emt", "chgnet"])
    parser.add_argument("--temperature", type=float, default=1000.0, help="annealing temperature of the window (K)")
    parser.add_argument("--quick", action="store_true", help=f"pool {', '.join(QUICK_POOL)} in a throwaway data dir")
    args = parser.parse_args()
    pool = QUICK_POOL if args.quick else POOL
    with contextlib.ExitStack() as stack:
        if args.quick:
            stack.enter_context(scratch_database("phases"))
        with threadpool_limits(1), contextlib.redirect_stdout(sys.stderr):  # library banners: not the JSON
            tables = {calculator: pair_table(calculator, args.temperature, pool) for calculator in args.calculators}
    print(json.dumps({"pool": pool, "window_ev_per_atom": [round(-args.temperature * BOLTZMANN * np.log(2), 4),
                                                           TROPAREVSKY_UPPER],
                      "temperature_k": args.temperature, "calculators": tables}, indent=1))


if __name__ == "__main__":
    main()

"""A two-property campaign with CHGNet: HER activity and stability, and its validated Pareto front.

The campaign is ``flows/ptpd_her_stability.yaml`` shrunk to run here in
minutes: Pt-based binaries and ternaries with Pd, Cu, Ni, Au on a 1/8 fcc grid
(154 candidates), 8 random picks then UCB batches of 4 up to 24 CHGNet
validations, no DFT stage. Each candidate is labelled twice at the stage:
dG_H (eV, target 0; the most stable of 2 sites of a 2x2, 4-layer (111) slab)
and the energy above the hull of the pool's ordered L1_2, L1_0 and B2 phases
(eV/atom; 8-atom random cells, vc-relaxed). One tree surrogate per property,
batches by Pareto front. Runs on the embedded database in a fresh data
directory under /tmp, so every calculation is a first run.

    python benchmarks/her_stability_front.py [--budget 24] [--quick]

Prints one JSON object: the validated Pareto front (formula, dG_H, E_hull),
the front sizes of the random round and of the whole campaign, the
Spearman correlation of the two labels over the validated candidates, wall time
and core-hours (the stage's spent budget).

``--quick`` (a check of the script, not a figure): Pt-Pd and Pt-Cu binaries on a 1/4 grid
(6 candidates, 4-atom cells), 5 random picks then one UCB pick (6 validations), a 2x2,
2-layer slab with one site, L1_0 the only competing phase; CHGNet runs, relaxing to
0.2 eV/Å on one torch thread (where another process shares the cores, CHGNet's threads
waiting on each other make its small cells about 30 times slower): about 25 s on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import yaml
from scipy.stats import spearmanr
from scratch import scratch_database

from alloyscreen.campaign.engine.execution import run_campaign
from alloyscreen.campaign.results.queries import campaign_status
from alloyscreen.campaign.round.objectives import objective_values, rank
from alloyscreen.campaign.spec import load_spec
from alloyscreen.candidates import CandidateSpace
from alloyscreen.db.client import get_database

FLOW = Path(__file__).resolve().parents[1] / "flows" / "ptpd_her_stability.yaml"


def shrunk_spec(budget: int, quick: bool = False) -> dict:
    """The shipped HER + stability spec, shrunk to a CHGNet-only campaign that runs here (``quick``: 6 candidates)."""
    data = yaml.safe_load(FLOW.read_text())
    data.update({"name": "ptpd-her-stability-small", "initial_random": 8, "confirm_top": 0,
                 "acquisition": {"strategy": "ucb", "batch_size": 4, "diversity": "maxmin"},
                 "stopping": {"max_rounds": 20, "patience": 20, "top_k": 5},
                 "phases": {"prototypes": ["L1_2", "L1_0", "B2"]},
                 "candidates": {"elements": ["Pt", "Pd", "Cu", "Ni", "Au"], "required": ["Pt"],
                                "n_components": [2, 3], "sampling": {"kind": "grid", "step": 0.125},
                                "prototype": "fcc"}})
    stage = data["stages"][0]
    stage.update({"max_validations": budget, "structure": {"method": "random", "supercell": [2, 1, 1]},
                  "slab": {"size": [2, 2], "layers": 4, "fixed_layers": 2, "vacuum": 10.0, "max_sites": 2}})
    data["stages"] = [stage]
    if quick:
        data.update({"name": "ptpd-her-stability-quick", "initial_random": 5,
                     "acquisition": {"strategy": "ucb", "batch_size": 1, "diversity": "maxmin"},
                     "stopping": {"max_rounds": 2, "patience": 2, "top_k": 2}})
        data["candidates"].update({"elements": ["Pt", "Pd", "Cu"], "n_components": 2,
                                   "sampling": {"kind": "grid", "step": 0.25}})
        data["phases"] = {"prototypes": ["L1_0"]}
        stage.update({"settings": {**stage.get("settings", {}), "fmax": 0.2},
                      "structure": {"method": "random", "supercell": [1, 1, 1]}})
        stage["slab"].update({"layers": 2, "fixed_layers": 1, "max_sites": 1})
    return data


def front(spec, database) -> dict:
    """The validated candidates' labels, their Pareto fronts (all and random round only) and correlation."""
    rows = []
    for selection in database["selections"].find({"campaign_id": spec.campaign_id}, sort=[("round", 1)]):
        outcome = selection["outcome"]
        if outcome and outcome["status"] == "completed":
            candidate = database["candidates"].find_one({"_id": selection["candidate_id"]})
            rows.append({"formula": candidate["formula"], "composition": candidate["composition"],
                         "round": selection["round"], **outcome["values"]})
    values = objective_values(spec, rows, [row["composition"] for row in rows])
    order, fronts = rank(spec, values)
    initial = [k for k, row in enumerate(rows) if row["round"] == 0]
    _, initial_fronts = rank(spec, values[initial])
    rho = spearmanr(values[:, 0], values[:, 1]).statistic
    return {
        "validated": len(rows), "front_size": int((fronts == 0).sum()),
        "random_round_front_size": int((initial_fronts == 0).sum()), "random_round_validated": len(initial),
        "spearman_delta_g_h_vs_e_hull": round(float(rho), 3),
        "front": [{"formula": rows[k]["formula"], "round": rows[k]["round"],
                   "delta_g_h_eV": round(rows[k]["delta_g_h"], 3),
                   "e_above_hull_eV_per_atom": round(rows[k]["energy_above_hull_per_atom"], 4)}
                  for k in order if fronts[k] == 0],
        "best_abs_delta_g_h_eV": round(float(abs(values[:, 0]).min()), 3),
        "best_e_above_hull_eV_per_atom": round(float(values[:, 1].min()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=24, help="CHGNet validations")
    parser.add_argument("--quick", action="store_true", help="6 candidates, 6 validations, a small slab, 1 thread")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(budget=6)  # what is given explicitly still counts
        args = parser.parse_args()
    spec = load_spec(shrunk_spec(args.budget, args.quick))
    if args.quick:
        import torch

        torch.set_num_threads(1)
    with scratch_database("her_front"):
        database = get_database()
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # CHGNet's banners: stdout carries the JSON only
            run_campaign(spec)
        wall = time.perf_counter() - start
        stage = campaign_status(database, spec.campaign_id)["stages"][0]
        result = {"benchmark": "her_stability_front", "campaign": spec.name,
                  "candidates": CandidateSpace(spec.candidates).size,
                  "wall_s": round(wall, 1), "core_hours": stage["core_hours"], **front(spec, database)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

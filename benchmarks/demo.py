"""The main job as a new user runs it: ``alloyscreen run flows/demo.yaml`` on a fresh data directory, timed.

Starts the embedded database in a throwaway data directory, runs the demo
campaign in a process of its own (as ``scripts/demo.sh`` does), and prints one
JSON object: the wall time of ``alloyscreen run`` (goal: under 600 s on 2
cores), the space size, the labels, failures and core-hours of each stage, how
far the stages agree, and the best candidates by their most trusted label.

No ground truth of the 14,861-candidate space is computed (a CHGNet
relaxation of each would take hours), so "calls to find the top against
random" is measured against the campaign's own final surrogate:
``best_predicted_rank`` is the rank, in the final trees' prediction over the
whole space, of the candidate the expensive stage found best, and
``random_calls_expected`` the draws a random search needs on average to hit
one of that many best-predicted candidates, ``(N + 1) / (rank + 1)``, against
``expensive_calls``, the expensive stage's labels. A proxy, stated as one.

    python benchmarks/demo.py [--spec flows/demo.yaml] [--quick]

``--quick`` (a check of the script, not a figure): the spec shrunk by :func:`quick_spec`
(Al-Au-Cu binaries and the ternary on a 1/4 grid, 4-atom cells, 2 rounds; every stage
and the SevenNet ranker still run, pw.x on one candidate at low cutoffs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from scratch import scratch_database

from alloyscreen.campaign.results.queries import campaign_status, top_candidates
from alloyscreen.campaign.round.screen import screen
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db import server
from alloyscreen.db.client import get_database

ROOT = Path(__file__).resolve().parents[1]
SCREEN_TOP = 2000


def expensive_rank(campaign_id: str, stage: str, database) -> dict:
    """The expensive stage's best candidate, its rank in the final trees' prediction, and a random search's cost."""
    rows = [row for row in top_candidates(database, campaign_id, count=10_000) if row.get(stage) is not None]
    best = min(rows, key=lambda row: row[stage])
    found = screen(campaign_id, top=SCREEN_TOP)
    ranks = {row["candidate_id"]: row["rank"] for row in found.top()}
    return {"best_expensive": {"formula": best["formula"], stage: best[stage]},
            "best_predicted_rank": ranks.get(best["candidate_id"]), "screened_top": SCREEN_TOP}


def quick_spec(path: str) -> dict:
    """The spec at ``path`` shrunk to minutes: 3 elements, binaries and ternary, 1/4 grid, tiny budgets, cheap pw.x."""
    data = yaml.safe_load(Path(path).read_text())
    data.update({"name": f"{data['name']}-quick", "initial_random": 5, "confirm_top": 1,
                 "acquisition": {**data.get("acquisition", {}), "batch_size": 2},
                 "stopping": {"max_rounds": 2, "patience": 2, "top_k": 2}})
    data["candidates"].update({"elements": data["candidates"]["elements"][:3], "n_components": [2, 3],
                               "sampling": {"kind": "grid", "step": 0.25}})
    if "ranker" in data:
        data["ranker"]["structure"] = {"method": "random", "supercell": [1, 1, 1]}
    for stage, budget in zip(data["stages"], (7, 2, 1), strict=False):
        stage.update({"max_validations": budget, "structure": {"method": "random", "supercell": [1, 1, 1]}})
        if stage["calculator"] == "qe":
            stage["settings"] = {**stage.get("settings", {}), "ecutwfc": 20, "ecutrho": 160, "kspacing": 0.8}
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "flows" / "demo.yaml"))
    parser.add_argument("--quick", action="store_true", help="the spec shrunk to 3 elements, a 1/4 grid, 2 rounds")
    args = parser.parse_args()
    with scratch_database("demo") as data_dir:
        path = args.spec
        if args.quick:
            path = str(data_dir / "quick.yaml")
            Path(path).write_text(yaml.safe_dump(quick_spec(args.spec)))
        spec = load_spec(path)
        server.start()
        started = time.perf_counter()
        command = [str(Path(sys.executable).with_name("alloyscreen")), "run", "--quiet", path]
        run = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"alloyscreen run failed ({run.returncode}): {run.stderr.strip().splitlines()[-1]}")
        database = get_database()
        status = campaign_status(database, spec.campaign_id)
        stages = {stage["stage"]: {key: stage[key] for key in ("calculator", "validations", "failed", "core_hours")}
                  for stage in status["stages"]}
        expensive = spec.stages[1].name
        measured = expensive_rank(spec.campaign_id, expensive, database)
        rank = measured["best_predicted_rank"]
        size = status["space_size"]
        result = {
            "wall_s": round(wall, 1), "goal_s": 600, "space_size": size, "stages": stages,
            "stage_agreement": status["stage_agreement"],
            "best": [{key: row.get(key) for key in ("formula", "ranked_by_stage", *stages)}
                     for row in top_candidates(database, spec.campaign_id, count=5)],
            **measured,
            "expensive_calls": stages[expensive]["validations"],
            "random_calls_expected": None if rank is None else round((size + 1) / (rank + 1), 1),
        }
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()

"""Which tree learner a campaign's model selection should pick, and whether 5-fold CV picks it.

Ground truth: the EMT mixing energies (eV/atom, vc-relaxed 8-atom random fcc cells,
against vc-relaxed elemental references) of the Al-Cu-Ag-Au-Ni-Pd-Pt compositions of
the two-fidelity discovery table (``fidelity_table``, the ``emt`` column). When that
table is cached under ``<data_dir>/benchmarks`` all its 2107 compositions are used;
otherwise the EMT column alone is computed for ``--rows`` compositions drawn at random
(seed 0) from the same space with the same recipe (``fidelity_table``'s cell and
references, through the project's calculation cache), and cached as its own ``.npz``.
Features: the descriptor set with finite columns (as ``tree_count``).

For each label count and seed: random labelled rows; every learner's ensemble
(5 members, the campaign's defaults) scored by 5-fold CV (MAE and RMSE, the same
folds for every learner) through :func:`alloyscreen.surrogates.crossval.select_model`,
which picks the lowest CV RMSE as a campaign does; each learner then fitted on all
those labels and tested on every row left out (held-out MAE). ``regret``: held-out
MAE of the pick minus that of the learner best on the held-out rows.

Prints JSON: per label count, per learner the mean CV MAE, CV RMSE, held-out MAE
(eV/atom) and fit + CV seconds; how often selection picked each learner; the mean regret.

    python benchmarks/model_selection.py [--quick] [--rows 320] [--labels 20 50 100 200] [--seeds 3]
        [--learners xgboost catboost random_forest]

``--quick`` (a check of the script, not a figure): 14 compositions computed from scratch in a
throwaway data directory (embedded database and ``.npz`` removed afterwards), 8 labels, one seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from discovery import ELEMENTS, FIDELITIES, FIDELITY_SPACE, descriptors
from fidelity_table import SUPERCELL, _mixing_energies, fidelity_table
from scratch import scratch_database
from threadpoolctl import threadpool_limits

from alloyscreen.candidates import CandidateSpace
from alloyscreen.hashing import content_hash
from alloyscreen.settings import get_settings
from alloyscreen.surrogates.crossval import Candidate, select_model
from alloyscreen.surrogates.ensemble import EnsembleRegressor

STEM = "two_fidelity_discovery"
QUICK_ROWS, QUICK_LABELS = 14, 8


def _two_fidelity_path() -> Path:
    """Where ``fidelity_table`` caches the full two-fidelity table (its own recipe, repeated here)."""
    recipe = {"space": FIDELITY_SPACE, "supercell": SUPERCELL, "fidelities": FIDELITIES, "seed": 0}
    return Path(get_settings().data_dir) / "benchmarks" / f"{STEM}_{content_hash(recipe)}.npz"


def emt_table(rows: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Fractions and EMT mixing energies (finite only), and where they came from."""
    if _two_fidelity_path().exists():
        table = fidelity_table(FIDELITY_SPACE, FIDELITIES, STEM)
        fractions, values, source = table["fractions"], table["emt"], "two-fidelity table (cached, every row)"
    else:
        everything = np.concatenate([chunk.fractions for chunk in CandidateSpace(FIDELITY_SPACE).iter_chunks()])
        chosen = np.sort(np.random.default_rng(0).choice(len(everything), min(rows, len(everything)), replace=False))
        recipe = {"space": FIDELITY_SPACE, "supercell": SUPERCELL, "fidelity": FIDELITIES["emt"],
                  "rows": chosen.tolist()}
        path = Path(get_settings().data_dir) / "benchmarks" / f"model_selection_emt_{content_hash(recipe)}.npz"
        if not path.exists():
            print(f"computing EMT mixing energies of {len(chosen)} compositions (cached afterwards)", file=sys.stderr)
            with threadpool_limits(1, user_api="blas"):  # the cell filter's 3x3 solves contend with more threads
                computed, _ = _mixing_energies(ELEMENTS, everything[chosen], *FIDELITIES["emt"])
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, fractions=everything[chosen], emt=computed)
        with np.load(path) as stored:
            fractions, values = stored["fractions"], stored["emt"]
        source = f"{len(chosen)} random rows of the two-fidelity space, EMT column computed here"
    finite = np.isfinite(values)
    return fractions[finite], values[finite], source


def one_draw(X: np.ndarray, y: np.ndarray, learners: list[str], labels: int, seed: int) -> dict:
    """CV errors of every learner on ``labels`` random rows, the pick, and each learner's held-out MAE."""
    rows = np.random.default_rng(seed).choice(y.size, labels, replace=False)
    rest = np.setdiff1d(np.arange(y.size), rows)
    candidates = [Candidate(learner) for learner in learners]

    def build(candidate: Candidate) -> EnsembleRegressor:
        return EnsembleRegressor(candidate.learner, 5, random_state=seed)

    start = time.perf_counter()
    choice = select_model(candidates, build, X[rows], y[rows], n_splits=5, seed=seed, metric="rmse")
    cv_seconds = (time.perf_counter() - start) / len(learners)
    held_out, seconds = {}, {}
    for candidate in candidates:
        start = time.perf_counter()
        model = build(candidate).fit(X[rows], y[rows])
        seconds[candidate.learner] = time.perf_counter() - start + cv_seconds
        held_out[candidate.learner] = float(np.mean(np.abs(model.predict(X[rest]) - y[rest])))
    return {"cv_mae": {c.learner: m.mae for c, m in zip(candidates, choice.metrics, strict=True)},
            "cv_rmse": {c.learner: m.rmse for c, m in zip(candidates, choice.metrics, strict=True)},
            "held_out_mae": held_out, "seconds": seconds, "pick": choice.chosen.learner,
            "regret": held_out[choice.chosen.learner] - min(held_out.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS} compositions computed in a throwaway data dir, {QUICK_LABELS} labels, "
                             "one seed")
    parser.add_argument("--rows", type=int, default=320, help="compositions computed when the table is not cached")
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--learners", nargs="+", default=["xgboost", "catboost", "random_forest"])
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(rows=QUICK_ROWS, labels=[QUICK_LABELS], seeds=1)  # what is given explicitly still counts
        args = parser.parse_args()
        with scratch_database("model_selection"):
            run(args)
    else:
        run(args)


def run(args) -> None:
    """Print the benchmark's JSON."""
    fractions, y, source = emt_table(args.rows)
    X = descriptors(ELEMENTS, fractions, "descriptors")
    results = {}
    for labels in args.labels:
        if labels > y.size - 5:
            print(f"skipping {labels} labels: {y.size} compositions leave too few held out", file=sys.stderr)
            continue
        draws = [one_draw(X, y, args.learners, labels, seed) for seed in range(args.seeds)]
        results[str(labels)] = {
            "learners": {learner: {key: round(float(np.mean([d[key][learner] for d in draws])), 5)
                                   for key in ("cv_mae", "cv_rmse", "held_out_mae", "seconds")}
                         for learner in args.learners},
            "picked": {learner: sum(d["pick"] == learner for d in draws) for learner in args.learners},
            "best_held_out": {learner: sum(min(d["held_out_mae"], key=d["held_out_mae"].get) == learner
                                           for d in draws) for learner in args.learners},
            "mean_regret_mae": round(float(np.mean([d["regret"] for d in draws])), 5),
        }
    print(json.dumps({"benchmark": "model_selection", "source": source, "compositions": int(y.size),
                      "features": int(X.shape[1]), "seeds": args.seeds, "folds": 5, "selection_metric": "cv_rmse",
                      "label": "EMT mixing energy, vc-relaxed 8-atom random fcc cells (eV/atom)",
                      "label_std": round(float(y.std()), 5), "results": results}, indent=2))


if __name__ == "__main__":
    main()

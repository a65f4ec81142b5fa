"""EMT ground truth for the discovery benchmark: mixing energy of every candidate of a 7-element fcc space.

Space: Al, Cu, Ag, Au, Ni, Pd, Pt, 2-4 components, grid step 1/8 (2107 compositions),
fcc. Each composition is a random solid solution in a 2x2x2 conventional fcc
supercell (32 atoms, exact integer counts, seed 0), vc-relaxed (cell and positions)
with ASE's EMT through :func:`alloyscreen.validation.maker.validate`, so every
calculation goes through the project's calculation cache (MongoDB ``calculations``,
content-hashed): a rebuild reuses them. The mixing energy is taken against the
vc-relaxed elemental references (:func:`alloyscreen.validation.references.elemental_references`).

The assembled table (fractions, y, convergence) is cached as an ``.npz`` under
``<data_dir>/benchmarks/`` named by the content hash of (space, structure recipe,
calculator settings, code version), so the benchmark itself loads in milliseconds.

BLAS is limited to one thread in the workers: the cell filter's 3x3 matrix
exponentials run about 20x slower with multi-threaded BLAS on a loaded 2-core machine.
With ``--processes 1`` the compositions are labelled in this process, without a pool.

    python benchmarks/emt_ground_truth.py [--processes 2] [--rebuild] [--limit N] [--quick]

``--quick`` (a check of the script, not a figure): the first ``--limit`` (default 6)
compositions in this process, built from scratch in a throwaway data directory
(embedded database and ``.npz`` removed afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import ase
import numpy as np
from scratch import scratch_database
from threadpoolctl import threadpool_limits

from alloyscreen.candidates import CandidateSpace
from alloyscreen.hashing import content_hash

ELEMENTS = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
SPACE = {"elements": ELEMENTS, "n_components": [2, 4], "sampling": {"kind": "grid", "step": 0.125},
         "prototype": "fcc"}
STRUCTURE = {"method": "random_solid_solution", "prototype": "fcc", "supercell": [2, 2, 2], "seed": 0}
CALCULATION = {"calculator": "emt", "mode": "vc-relax", "settings": {"fmax": 0.05, "steps": 300, "optimizer": "FIRE"}}
TARGET = "mixing_energy_per_atom (eV/atom), minimised"
QUICK_LIMIT = 6


def recipe(limit: int | None = None) -> dict[str, Any]:
    """Return everything that defines the ground truth (hashed into the cache file name)."""
    return {"space": SPACE, "structure": STRUCTURE, "calculation": CALCULATION, "target": TARGET,
            "code_version": f"ase-{ase.__version__}", "limit": limit}


def cache_path(limit: int | None = None) -> Path:
    """Return the ``.npz`` file of the ground truth under ``<data_dir>/benchmarks``."""
    from alloyscreen.settings import get_settings

    return get_settings().data_dir / "benchmarks" / f"emt_ground_truth_{content_hash(recipe(limit))}.npz"


def space_fractions(limit: int | None = None) -> np.ndarray:
    """Return the (n, 7) atomic fractions of the space in stream order (the first ``limit`` if given)."""
    fractions = np.concatenate([chunk.fractions for chunk in CandidateSpace(SPACE).iter_chunks()])
    return fractions if limit is None else fractions[:limit]


def _init_worker() -> None:
    threadpool_limits(1)


def _label(task: tuple[int, np.ndarray, dict[str, float]]) -> dict[str, Any]:
    """Build the structure of one composition, validate it (cached) and return its mixing energy."""
    from alloyscreen.structures.bulk import random_solid_solution
    from alloyscreen.validation.maker import validate

    index, row, mu = task
    composition = {e: float(x) for e, x in zip(ELEMENTS, row, strict=True) if x > 0}
    structure = random_solid_solution(composition, STRUCTURE["prototype"], supercell=tuple(STRUCTURE["supercell"]),
                                      seed=STRUCTURE["seed"]).structure
    document, reused = validate(structure, CALCULATION["calculator"], CALCULATION["settings"], CALCULATION["mode"])
    if document.status != "completed":
        return {"index": index, "y": np.nan, "converged": False, "steps": 0, "reused": reused}
    reference = sum(x * mu[e] for e, x in composition.items())
    return {"index": index, "y": document.energy_per_atom - reference, "converged": bool(document.converged),
            "steps": int(document.n_ionic_steps or 0), "reused": reused}


def build(limit: int | None = None, processes: int = 2, progress: bool = True) -> dict[str, Any]:
    """Compute (or reuse from the calculation cache) every label; return the ground-truth arrays and provenance.

    ``processes`` 1: every label in this process, without a pool.
    """
    from alloyscreen.validation.references import elemental_references

    start = time.perf_counter()
    with threadpool_limits(1):
        references = elemental_references(ELEMENTS, CALCULATION["calculator"], CALCULATION["settings"])
        mu = {e: float(ref.calculation.energy_per_atom) for e, ref in references.items()}
        fractions = space_fractions(limit)
        n = len(fractions)
        y = np.full(n, np.nan)
        converged = np.zeros(n, dtype=bool)
        steps = np.zeros(n, dtype=int)
        reused = 0
        tasks = [(i, fractions[i], mu) for i in range(n)]
        with contextlib.ExitStack() as stack:
            if processes == 1:
                results = map(_label, tasks)
            else:
                pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(processes,
                                                                                     initializer=_init_worker))
                results = pool.imap_unordered(_label, tasks, chunksize=8)
            for done, result in enumerate(results, start=1):
                i = result["index"]
                y[i], converged[i], steps[i] = result["y"], result["converged"], result["steps"]
                reused += result["reused"]
                if progress and (done % 100 == 0 or done == n):
                    print(f"  {done}/{n} labelled, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return {
        "elements": np.array(ELEMENTS), "fractions": fractions, "y": y, "converged": converged,
        "n_ionic_steps": steps, "reference_energy_per_atom": np.array([mu[e] for e in ELEMENTS]),
        "provenance": json.dumps({
            **recipe(limit), "n": n, "n_failed": int(np.isnan(y).sum()), "n_unconverged": int((~converged).sum()),
            "calculations_reused_from_cache": reused, "processes": processes,
            "build_wall_s": round(time.perf_counter() - start, 1),
            "reference_calculation_ids": {e: references[e].calculation.id for e in ELEMENTS},
            "path": "alloyscreen.validation.maker.validate (MongoDB calculations cache), "
                    + ("in this process" if processes == 1 else "multiprocessing pool"),
        }),
    }


def load_or_build(limit: int | None = None, processes: int = 2, rebuild: bool = False) -> tuple[dict, dict]:
    """Return (arrays, provenance) of the ground truth, from the ``.npz`` cache when present."""
    path = cache_path(limit)
    cached = path.exists() and not rebuild
    if not cached:
        data = build(limit, processes)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez_compressed(partial, **data)
        partial.replace(path)
    load_start = time.perf_counter()
    with np.load(path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    provenance = json.loads(str(arrays.pop("provenance")))
    provenance.update(cache_file=str(path), loaded_from_npz_cache=cached,
                      load_wall_s=round(time.perf_counter() - load_start, 3))
    return arrays, provenance


def report(limit: int | None, processes: int, rebuild: bool) -> dict[str, Any]:
    """The script's JSON object: the ground truth's provenance, its ten lowest and its range."""
    arrays, provenance = load_or_build(limit, processes, rebuild)
    y = arrays["y"]
    order = np.argsort(y)[:10]
    provenance["top10"] = [
        {"composition": {e: float(x) for e, x in zip(ELEMENTS, arrays["fractions"][i], strict=True) if x > 0},
         "mixing_energy_ev_atom": round(float(y[i]), 4)} for i in order
    ]
    provenance["y_range"] = [float(np.nanmin(y)), float(np.nanmax(y))]
    return provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="ignore the .npz (calculations still come cached)")
    parser.add_argument("--limit", type=int, help="only the first N compositions (timing runs)")
    parser.add_argument("--quick", action="store_true",
                        help=f"first --limit (default {QUICK_LIMIT}) compositions, one process, throwaway data dir")
    args = parser.parse_args()
    if args.quick:
        with scratch_database("emt_ground_truth"):
            result = report(args.limit or QUICK_LIMIT, 1, args.rebuild)
    else:
        result = report(args.limit, args.processes, args.rebuild)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""GNN cost: structures per second of CHGNet, SevenNet and a trained matgl MEGNet, one by one against batched.

Run: ``python benchmarks/gnn_cost.py [--n 64]`` (prints one JSON object).

The same random fcc Cu-Ni-Pd-Au cells (16 and 32 atoms, Vegard lattice
constant) go through each potential's static calculation (energy, forces,
stress) as the project runs it: one by one (the calculator's ``run``:
atomate2's maker around the ASE calculator) and batched (``predict_batch`` at
each batch size, 1 included: the CPU default), both giving the same
calculation-document fields, no database. A MEGNet
(:class:`~alloyscreen.surrogates.gnn.MatglRegressor`), trained a few epochs
on random labels only to have weights, predicts the same cells one by one
(``MatglRegressor.predict``; matgl has no batched predict: its models'
``predict_structure`` takes one structure) and in batches of matgl's own
training collation (``MGLDataset`` + ``collate_fn_graph``); the largest
difference between the two is reported.

Each device runs in a child process: the CPU (CUDA hidden) with each thread
count, and the GPU when torch sees one (there matgl runs in batches only;
batch 1 is its one-by-one figure). Rates are structures per wall second and
per CPU second of the process, the best of ``--repeats`` runs (the paths in
turn: robust to other load on a shared machine), after a warm-up of every
path. Importing
``potential_speed`` (for its lattice constants) pins the BLAS/OpenMP thread
variables to 1; torch's threads are set explicitly.

``--quick`` (a check of the script, not a figure): 2 cells of each size, batch size 2,
one thread, a MEGNet trained one epoch on 8 cells, one repeat, in a throwaway data
directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from functools import partial
from importlib import metadata

import numpy as np
from potential_speed import FCC
from pymatgen.core import Lattice, Structure
from scratch import scratch_database

ELEMENTS = ["Cu", "Ni", "Pd", "Au"]
SUPERCELLS = {16: [2, 2, 1], 32: [2, 2, 2]}  # atoms -> repeats of the 4-atom conventional fcc cell


def cells(n: int, atoms: int, seed: int = 0) -> list[Structure]:
    """Return ``n`` random fcc cells of ``atoms`` atoms at Vegard's lattice constant."""
    rng = np.random.default_rng([seed, atoms])
    base = Structure(Lattice.cubic(1.0), ["X"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    base.make_supercell(SUPERCELLS[atoms])
    out = []
    for _ in range(n):
        species = list(rng.choice(ELEMENTS, size=len(base)))
        a = float(np.mean([FCC[el] for el in species]))
        out.append(Structure(Lattice(base.lattice.matrix * a), species, base.frac_coords))
    return out


def rates(paths: dict, structures: list[Structure], repeats: int) -> dict:
    """Run every path on ``structures``, in turn, ``repeats`` times; return each one's best structures per second."""
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):  # interleaved: a slow spell of the machine does not fall on one path only
        for name, work in paths.items():
            wall, cpu = time.perf_counter(), time.process_time()
            work(structures)
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {name: {"per_wall_s": round(len(structures) / min(walls[name]), 2),
                   "per_cpu_s": round(len(structures) / min(cpus[name]), 2)} for name in paths}


def potential_paths(name: str, batch_sizes: list[int]) -> dict:
    """The static calculation of a potential: ``one_by_one`` (its ``run``) and ``batch_<size>``."""
    from alloyscreen.validation.registry import get_calculator

    calc = get_calculator(name)
    physics, run = calc.resolve(cells(1, 16)[0], {}, "static")
    batched = {f"batch_{size}": partial(calc.predict_batch, physics=physics, batch_size=size)
               for size in [1, *batch_sizes]}
    return {"one_by_one": lambda structures: [calc.run(s, physics, run, None) for s in structures], **batched}


def matgl_predict_batched(regressor, structures: list[Structure], batch_size: int, device: str) -> np.ndarray:
    """Energies per atom from ``regressor`` in batches of matgl's training collation, on ``device``."""
    import torch
    from matgl.ext.pymatgen import Structure2Graph
    from matgl.graph.data import MGLDataset, collate_fn_graph
    from matgl.utils.training import ModelLightningModule

    module = ModelLightningModule(model=regressor.model_).to(device).eval()
    converter = Structure2Graph(element_types=regressor.element_types_, cutoff=regressor.cutoff)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = MGLDataset(structures=structures, converter=converter, labels={"target": [0.0] * len(structures)},
                             root=tmp, save_cache=False)
    raw = []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            chunk = range(start, min(start + batch_size, len(dataset)))
            g, lat, state, _ = collate_fn_graph([dataset[i] for i in chunk])
            raw.append(module(g=g.to(device), lat=lat.to(device), state_attr=state.to(device)).reshape(-1).cpu())
    module.cpu()
    return torch.cat(raw).numpy() * regressor.target_std_ + regressor.target_mean_


def matgl_paths(args, device: str) -> tuple[dict, float]:
    """MEGNet prediction paths (``one_by_one`` on CPU only) and the largest batched-vs-one-by-one difference."""
    from alloyscreen.surrogates.gnn import MatglRegressor

    train = cells(args.matgl_train, 16, seed=7)
    labels = np.random.default_rng(7).normal(0.0, 0.1, size=len(train))  # random: only weights are needed
    regressor = MatglRegressor("megnet", max_epochs=args.matgl_epochs, batch_size=8).fit(train, labels)
    paths = {f"batch_{size}": partial(matgl_predict_batched, regressor, batch_size=size, device=device)
             for size in [1, *args.batch_sizes]}
    check = cells(8, 32, seed=3)
    difference = float(np.abs(paths[f"batch_{max(args.batch_sizes)}"](check) - regressor.predict(check)).max())
    if device == "cpu":
        paths = {"one_by_one": regressor.predict, **paths}
    return paths, difference


def child(args) -> dict:
    """Rates on one device (``args.child``), for each thread count on CPU."""
    import torch

    device = args.child
    sets = {f"{atoms}_atoms": cells(args.n, atoms) for atoms in (16, 32)}
    warmup = cells(2, 16, seed=1) + cells(2, 32, seed=1)
    with contextlib.redirect_stdout(sys.stderr):  # CHGNet, lightning print banners: stdout carries the JSON only
        paths = {name: potential_paths(name, args.batch_sizes) for name in ("chgnet", "sevennet")}
        paths["matgl_megnet"], difference = matgl_paths(args, device)
        report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                        "matgl_batched_minus_one_by_one_max_ev_per_atom": difference}
        for threads in args.threads if device == "cpu" else [torch.get_num_threads()]:
            torch.set_num_threads(threads)
            for model, model_paths in paths.items():
                for work in model_paths.values():
                    work(warmup)
                report.setdefault(f"{threads}_threads", {})[model] = {
                    cell: rates(model_paths, structures, args.repeats) for cell, structures in sets.items()}
    return report


def main() -> None:
    """Print one JSON object: rates per device, thread count, model, cell size and path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="cells of each size per measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads on CPU")
    parser.add_argument("--matgl-train", type=int, default=40, help="random structures the MEGNet is trained on")
    parser.add_argument("--matgl-epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement; the best one counts")
    parser.add_argument("--child", choices=["cpu", "cuda"], help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help="2 cells, batch 2, 1 thread, MEGNet 1 epoch on 8 cells, 1 repeat, throwaway data dir")
    args = parser.parse_args()
    if args.quick:  # what is given explicitly still counts
        parser.set_defaults(n=2, batch_sizes=[2], threads=[1], matgl_train=8, matgl_epochs=1, repeats=1)
        args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.child:
        print(json.dumps(child(args)))
        return
    import torch

    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    results = {}
    with contextlib.ExitStack() as stack:
        if args.quick:  # the children inherit its ALLOYSCREEN_DATA_DIR
            stack.enter_context(scratch_database("gnn_cost"))
        for device in devices:
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if device == "cpu" else {})}
            done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child", device], env=env, check=True,
                                  stdout=subprocess.PIPE, text=True)
            results[device] = json.loads(done.stdout.strip().splitlines()[-1])
    report = {
        "cells": {"n": args.n, "atoms": [16, 32], "elements": ELEMENTS, "lattice": "fcc, Vegard"},
        "repeats": args.repeats, "rate": "best of the repeats",
        "calculation": "static energy, forces, stress (potentials); energy per atom (matgl MEGNet)",
        "paths": {"one_by_one": "the calculator's run (atomate2 maker + ASE calculator) / MatglRegressor.predict",
                  "batch_<k>": "predict_batch with batch_size k / matgl collate_fn_graph batches of k"},
        "matgl": {"batched_predict_api": False, "architecture": "megnet", "train_structures": args.matgl_train,
                  "epochs": args.matgl_epochs},
        "versions": {package: metadata.version(package) for package in ("torch", "chgnet", "sevenn", "matgl")},
        "cpu_cores": len(os.sched_getaffinity(0)),
        "gpu": "none seen by torch" if len(devices) == 1 else torch.cuda.get_device_name(0),
        "devices": results,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

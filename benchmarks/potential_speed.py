"""Structures per second of the pretrained potentials (CHGNet, SevenNet 7net-0), one by one, one thread, CPU.

Run: ``python benchmarks/potential_speed.py [--n 40]`` (prints one JSON object).
The same random 16-atom fcc cells (2x2x1 conventional, Cu-Ni-Pd-Pt-Au, Vegard
lattice constant) go through each potential twice: its ASE calculator alone
(energy, forces, stress: the model's cost) and the project's static validation
(:meth:`run` of the calculator: atomate2's maker, no database). Rates are per
wall second and per CPU second of this process (robust to other load on a shared
machine), after a warm-up on three other cells. ``--quick`` (a check of the script, not
a figure): two cells, one warm-up cell, in a throwaway data directory.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402
from scratch import scratch_database  # noqa: E402

from alloyscreen.validation.registry import get_calculator  # noqa: E402

ELEMENTS = ["Cu", "Ni", "Pd", "Pt", "Au"]
FCC = {"Cu": 3.61, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92, "Au": 4.08}  # measured lattice constants (A)


def cells(n: int, seed: int = 0) -> list[Structure]:
    """Return ``n`` random 16-atom fcc cells at Vegard's lattice constant."""
    rng = np.random.default_rng(seed)
    base = Structure(Lattice.cubic(1.0), ["X"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    base.make_supercell([2, 2, 1])
    out = []
    for _ in range(n):
        species = list(rng.choice(ELEMENTS, size=len(base)))
        a = float(np.mean([FCC[el] for el in species]))
        out.append(Structure(Lattice.tetragonal(2 * a, a), species, base.frac_coords))
    return out


def ase_calculator(name: str):
    """Return the ASE calculator of a potential, sharing the model the validation uses."""
    if name == "chgnet":
        from chgnet.model.dynamics import CHGNetCalculator

        from alloyscreen.validation.chgnet import _model as chgnet_model
        return CHGNetCalculator(model=chgnet_model("0.3.0"), use_device="cpu")
    from sevenn.calculator import SevenNetCalculator

    from alloyscreen.validation.sevennet import _model as sevennet_model
    return SevenNetCalculator(sevennet_model("7net-0"), file_type="model_instance", device="cpu")


def rate(work, structures: list[Structure]) -> dict:
    """Run ``work`` on each structure; return structures per wall and per CPU second."""
    wall, cpu = time.perf_counter(), time.process_time()
    for structure in structures:
        work(structure)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"per_wall_s": round(len(structures) / wall, 2), "per_cpu_s": round(len(structures) / cpu, 2)}


def measure(name: str, structures: list[Structure], warmup: list[Structure]) -> dict:
    """Rates of the bare ASE calculator and of the project's static validation for one potential."""
    calc = ase_calculator(name)

    def model(structure: Structure) -> None:
        atoms = structure.to_ase_atoms()
        atoms.calc = calc
        atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()

    validator = get_calculator(name)

    def validation(structure: Structure) -> None:
        physics, run = validator.resolve(structure, {}, "static")
        validator.run(structure, physics, run, None)

    rate(model, warmup), rate(validation, warmup)
    return {"ase_calculator": rate(model, structures), "static_validation": rate(validation, structures),
            "code_version": validator.code_version(validator.resolve(structures[0], {}, "static")[0])}


def main() -> None:
    """Print one JSON object: rates per potential on the same cells."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="cells per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up cells")
    parser.add_argument("--quick", action="store_true", help="2 cells, 1 warm-up cell, throwaway data dir")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(n=2, warmup=1)  # what is given explicitly still counts
        args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    structures, warmup = cells(args.n), cells(args.warmup, seed=1)
    with contextlib.ExitStack() as stack:
        if args.quick:
            stack.enter_context(scratch_database("potential_speed"))
        with contextlib.redirect_stdout(sys.stderr):  # CHGNet prints banners: stdout carries the JSON only
            potentials = {name: measure(name, structures, warmup) for name in ("chgnet", "sevennet")}
    report = {"cells": {"n": args.n, "atoms": len(structures[0]), "elements": ELEMENTS},
              "torch": metadata.version("torch"), "torch_threads": torch.get_num_threads(), "device": "cpu",
              "potentials": potentials}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Run an atomate2 ASE relax maker (EMT, force fields) in-process and turn its result into document fields.

atomate2's ``AseRelaxMaker.run_ase`` is the non-job entry point of its EMT and
force-field makers: it is used here so that the calculation runs inside the
cached validation job (a nested jobflow job could not be skipped on a cache hit).
The optimiser's log (one line per step, which ASE formats anyway) goes to a
small file-like object that reports the step, energy and fmax on the status
line of :mod:`alloyscreen.progress`; a relaxation of a few seconds shows nothing.

:func:`run_static_batch` evaluates many structures in one batched model call
and passes each result through atomate2's same single-point path, so that its
fields are those :func:`run_ase_maker` gives for a static calculation.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Structure
from threadpoolctl import threadpool_limits

from alloyscreen import progress
from alloyscreen.validation.base import accounting, result_fields


def maker_options(mode: str, physics: dict[str, Any]) -> dict[str, Any]:
    """Return AseRelaxMaker fields for ``mode`` (static, relax, vc-relax) and the physics settings."""
    return {
        "relax_cell": mode == "vc-relax",
        "steps": 1 if mode == "static" else int(physics["steps"]),
        "optimizer_kwargs": {"optimizer": physics["optimizer"]},
        "relax_kwargs": {"fmax": float(physics["fmax"]), "final_atoms_object_file": None},
    }


def fixed_atoms(structure: Structure) -> dict[str, list] | None:
    """Return the ``selective_dynamics`` site property (sites without one move freely), or None if unused."""
    flags = structure.site_properties.get("selective_dynamics")
    if flags is None or all(flag is None or all(flag) for flag in flags):
        return None
    return {"selective_dynamics": [list(flag) if flag is not None else [True] * 3 for flag in flags]}


def bare_structure(structure: Structure) -> Structure:
    """The lattice, species and positions of ``structure`` with its constraints only: what travels to ASE."""
    return Structure(structure.lattice, structure.species_and_occu, structure.frac_coords,
                     site_properties=fixed_atoms(structure))


def run_ase_maker(maker, structure: Structure, n_cores: int) -> dict[str, Any]:
    """Run ``maker`` (an atomate2 AseRelaxMaker) on ``structure``; return calculation-document fields."""
    mode = "static" if maker.steps <= 1 else "vc-relax" if maker.relax_cell else "relax"
    name = str(getattr(maker, "force_field_name", "")).removeprefix("MLFF.") or maker.name.split()[0]
    log = OptimizerLog(f"{name} {structure.formula.replace(' ', '')} {mode}")
    maker.calculator  # noqa: B018  (a force-field maker caches its calculator: build it once, for the copies)
    observed = copy.copy(maker)  # the maker may be shared (cached): only the copy gets this run's log
    observed.relax_kwargs = {**maker.relax_kwargs, "logfile": log}  # atomate2 passes it on to the ASE optimiser
    run = getattr(observed, "_run_ase_safe", observed.run_ase)
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):  # 3x3 solves in ASE filters: threads only contend
        result = run(bare_structure(structure))
    fields = ase_result_fields(result, maker.steps <= 1, time.perf_counter() - start, n_cores)
    log.done(f"{'converged' if fields['converged'] else 'not converged'} in {fields['n_ionic_steps']} steps, "
             f"E = {fields['energy']:.4f} eV")
    return fields


def ase_result_fields(result, static: bool, wall_time_s: float, n_cores: int) -> dict[str, Any]:
    """Calculation-document fields of an atomate2 ``AseResult`` (its final structure and trajectory frame)."""
    frames = result.trajectory.frame_properties
    final = frames[-1]
    fields = result_fields(
        result.final_mol_or_struct,
        final["energy"],
        forces=final.get("forces"),
        stress_ev_a3=final.get("stress"),
        magmoms=np.asarray(final["magmoms"]) if final.get("magmoms") is not None else None,
    )
    return {
        **fields,
        "status": "completed",
        "converged": bool(result.converged) and bool(result.is_force_converged or static),
        "n_ionic_steps": len(frames),
        **accounting(wall_time_s, n_cores),
    }


class GivenResults(Calculator):
    """An ASE calculator that returns results computed elsewhere (one structure of a batched model call)."""

    def __init__(self, results: dict[str, Any]) -> None:
        super().__init__()
        self.given = {key: value for key, value in results.items() if value is not None}
        self.implemented_properties = list(self.given)

    def calculate(self, atoms=None, properties=None, system_changes=all_changes) -> None:
        """Hand out the given results."""
        super().calculate(atoms, properties, system_changes)
        self.results = dict(self.given)


def default_batch_size() -> int:
    """Structures per model call: 32 on a GPU; 1 on CPU, where larger batches ran slower (benchmarks/gnn_cost.py)."""
    import torch

    return 32 if torch.cuda.is_available() else 1


def run_static_batch(predict: Callable[[list[Structure], int], list[dict[str, Any]]], structures: list[Structure],
                     batch_size: int | None = None) -> list[dict[str, Any]]:
    """Evaluate ``structures`` with ``predict(structures, batch_size)``; return each one's calculation-document fields.

    ``predict`` returns ASE results (``energy`` eV, ``forces`` eV/A, ``stress``
    eV/A^3, optionally ``magmoms``) of each structure, from model calls of
    ``batch_size`` structures (default: :func:`default_batch_size`); each then
    goes through atomate2's single-point path, as in a static
    :func:`run_ase_maker`. The wall time is shared among the structures in
    proportion to their atoms; the cores are torch's threads.
    """
    import torch
    from atomate2.ase.utils import AseRelaxer

    n_cores = torch.get_num_threads()
    bare = [bare_structure(structure) for structure in structures]
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        results = predict(bare, batch_size or default_batch_size())
    wall = time.perf_counter() - start
    total_atoms = sum(len(structure) for structure in bare)
    fields = []
    for structure, result in zip(bare, results, strict=True):
        single = AseRelaxer(GivenResults(result), relax_cell=False).relax(
            structure, steps=1, final_atoms_object_file=None)  # type: ignore[arg-type]  # None: no file written
        fields.append(ase_result_fields(single, True, wall * len(structure) / total_atoms, n_cores))
    return fields


class OptimizerLog:
    """The ``logfile`` of an ASE optimiser: each step line it writes is reported as ``label: step ...``.

    ASE writes ``"FIRE:   12 10:41:07     -213.451200        0.031200"`` (name,
    step, time, energy in eV, fmax in eV/A) after every step; other lines (the
    header) are ignored.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()

    def write(self, text: str) -> None:
        """Report the step of an optimiser log line."""
        words = text.split()
        if len(words) >= 5 and words[0].endswith(":"):
            progress.status(f"{self.label}: step {words[1]}, E = {words[-2]} eV, fmax = {words[-1]} eV/A",
                            time.monotonic() - self.start)

    def flush(self) -> None:
        """Nothing to flush (ASE calls it after each line)."""

    def close(self) -> None:
        """Nothing to close (ASE leaves open files it was given as they are)."""

    def done(self, text: str) -> None:
        """Report the end of the relaxation (shown only if a step of it was)."""
        progress.status(f"{self.label}: {text}", time.monotonic() - self.start, done=True)

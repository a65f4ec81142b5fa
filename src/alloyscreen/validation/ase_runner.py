"""Run an atomate2 ASE relax maker (EMT, force fields) in-process and turn its result into document fields.

atomate2's ``AseRelaxMaker.run_ase`` is the non-job entry point of its EMT and
force-field makers: it is used here so that the calculation runs inside the
cached validation job (a nested jobflow job could not be skipped on a cache hit).
The optimiser's log (one line per step, which ASE formats anyway) goes to a
small file-like object that reports the step, energy and fmax on the status
line of :mod:`alloyscreen.progress`; a relaxation of a few seconds shows nothing.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
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
    bare = Structure(structure.lattice, structure.species_and_occu, structure.frac_coords,
                     site_properties=fixed_atoms(structure))  # only the constraints travel to ASE
    with threadpool_limits(1, user_api="blas"):  # 3x3 solves in ASE filters: threads only contend
        result = run(bare)
    wall = time.perf_counter() - start
    frames = result.trajectory.frame_properties
    final = frames[-1]
    converged = bool(result.converged) and bool(result.is_force_converged or maker.steps <= 1)
    log.done(f"{'converged' if converged else 'not converged'} in {len(frames)} steps, E = {final['energy']:.4f} eV")
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
        "converged": converged,
        "n_ionic_steps": len(frames),
        **accounting(wall, n_cores),
    }


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

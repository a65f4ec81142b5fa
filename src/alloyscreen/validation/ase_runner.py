"""Run an atomate2 ASE relax maker (EMT, force fields) in-process and turn its result into document fields.

atomate2's ``AseRelaxMaker.run_ase`` is the non-job entry point of its EMT and
force-field makers: it is used here so that the calculation runs inside the
cached validation job (a nested jobflow job could not be skipped on a cache hit).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pymatgen.core import Structure
from threadpoolctl import threadpool_limits

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
    run = getattr(maker, "_run_ase_safe", maker.run_ase)
    start = time.perf_counter()
    bare = Structure(structure.lattice, structure.species_and_occu, structure.frac_coords,
                     site_properties=fixed_atoms(structure))  # only the constraints travel to ASE
    with threadpool_limits(1, user_api="blas"):  # 3x3 solves in ASE filters: threads only contend
        result = run(bare)
    wall = time.perf_counter() - start
    frames = result.trajectory.frame_properties
    final = frames[-1]
    converged = bool(result.converged) and bool(result.is_force_converged or maker.steps <= 1)
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

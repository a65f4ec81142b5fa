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

A relaxation that stops at its step limit before its force criterion (``fmax``)
is ``failed`` with a one-line reason (:data:`NOT_CONVERGED`), never a result a
label could use. :func:`ase_retry` says how the validation's ``retries`` run it
again, with a recorded correction: twice the steps from its last geometry, and
from the second correction on a quasi-Newton optimiser (FIRE -> BFGSLineSearch),
as custodian switches VASP's IBRION and continues from the CONTCAR.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
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
    """Run ``maker`` (an atomate2 AseRelaxMaker) on ``structure``; return calculation-document fields.

    A relaxation that stops before its force criterion is ``failed`` (:func:`unconverged_fields`).
    """
    mode = "static" if maker.steps <= 1 else "vc-relax" if maker.relax_cell else "relax"
    name = str(getattr(maker, "force_field_name", "")).removeprefix("MLFF.") or maker.name.split()[0]
    formula = structure.formula.replace(" ", "")
    log = OptimizerLog(f"{name} {formula} {mode}")
    maker.calculator  # noqa: B018  (a force-field maker caches its calculator: build it once, for the copies)
    observed = copy.copy(maker)  # the maker may be shared (cached): only the copy gets this run's log
    observed.relax_kwargs = {**maker.relax_kwargs, "logfile": log}  # atomate2 passes it on to the ASE optimiser
    run = getattr(observed, "_run_ase_safe", observed.run_ase)
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):  # 3x3 solves in ASE filters: threads only contend
        result = run(bare_structure(structure))
    fields = ase_result_fields(result, maker.steps <= 1, time.perf_counter() - start, n_cores)
    if fields["converged"]:
        log.done(f"converged in {fields['n_ionic_steps']} steps, E = {fields['energy']:.4f} eV")
        return fields
    reached = log.fmax if log.fmax is not None else float(np.linalg.norm(fields["forces"], axis=1).max())
    optimizer = maker.optimizer_kwargs.get("optimizer", "FIRE")
    log.done(f"not converged in {maker.steps} steps, fmax = {reached:.4g} eV/A")
    return unconverged_fields(fields, f"{NOT_CONVERGED}: {name} {mode} of {formula} stopped at its step limit "
                                      f"({maker.steps} {optimizer} steps) with fmax {reached:.4g} eV/A above the "
                                      f"criterion {float(maker.relax_kwargs['fmax']):g} eV/A")


NOT_CONVERGED = "not converged"  # how the error of a relaxation that stopped before its force criterion begins
NEXT_OPTIMIZER = {"FIRE": "BFGSLineSearch"}  # optimiser after a second correction (others are kept)


def unconverged_fields(fields: dict[str, Any], error: str) -> dict[str, Any]:
    """The ``failed`` fields of a relaxation that stopped before its force criterion: no energy, forces or stress.

    Its last geometry stays (``final_structure``), the one a corrected attempt
    continues from (:func:`ase_retry`); no energy stays to be labelled.
    """
    dropped = ("energy", "energy_per_atom", "forces", "stress", "magmoms", "total_magnetization")
    return {**fields, **dict.fromkeys(dropped), "status": "failed", "converged": False, "error": error}


@dataclass
class Retry:
    """How the next attempt of a relaxation that stopped before its force criterion runs, and what came before.

    ``structure`` is where it starts (the last geometry of the attempt before),
    ``physics`` the settings it runs with (the calculation's, with every
    correction applied), ``corrections`` every correction so far (the new one
    last); the attempts before took ``wall_time_s``, ``core_hours`` and
    ``n_ionic_steps``.
    """

    structure: Structure
    physics: dict[str, Any]
    corrections: list[dict[str, Any]]
    wall_time_s: float
    core_hours: float
    n_ionic_steps: int

    def record(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` of the corrected attempt, with the corrections and the time and steps of every attempt."""
        recorded = {**fields, "corrections": self.corrections,
                    "wall_time_s": float(fields["wall_time_s"]) + self.wall_time_s,
                    "core_hours": float(fields["core_hours"]) + self.core_hours,
                    "n_ionic_steps": int(fields.get("n_ionic_steps") or 0) + self.n_ionic_steps}
        if recorded["status"] == "failed":
            recorded["error"] = f"{recorded['error']} ({len(self.corrections)} correction(s) applied)"
        return recorded


def ase_retry(structure: Structure, physics: dict[str, Any], found: dict[str, Any]) -> Retry | None:
    """How to run again the stored relaxation ``found`` of ``structure``, or None for a failure of another kind.

    Only a relaxation that stopped before its force criterion is corrected:
    twice the steps, continuing from its last geometry (lattice and positions;
    the input's species and site properties, constraints included); from the
    second correction on, FIRE gives way to BFGSLineSearch. ``physics`` are
    the calculation's settings (those of its id): the corrections recorded on
    ``found`` apply on top of them.
    """
    if found["status"] != "failed" or not str(found.get("error") or "").startswith(NOT_CONVERGED):
        return None
    corrections = [dict(correction) for correction in found.get("corrections") or []]
    current = corrected_physics(physics, corrections)
    changes: dict[str, Any] = {"steps": 2 * int(current["steps"])}
    if corrections and current["optimizer"] in NEXT_OPTIMIZER:
        changes["optimizer"] = NEXT_OPTIMIZER[current["optimizer"]]
    start = structure
    if found.get("final_structure"):
        last = Structure.from_dict(found["final_structure"])
        start = Structure(last.lattice, structure.species_and_occu, last.frac_coords,
                          site_properties=structure.site_properties)
        changes["restart_from"] = "last geometry"
    corrections.append({"step": len(corrections) + 1, "reason": found["error"], "changes": changes})
    return Retry(start, corrected_physics(physics, corrections), corrections,
                 wall_time_s=float(found.get("wall_time_s") or 0.0), core_hours=float(found.get("core_hours") or 0.0),
                 n_ionic_steps=int(found.get("n_ionic_steps") or 0))


def corrected_physics(physics: dict[str, Any], corrections: list[dict[str, Any]]) -> dict[str, Any]:
    """``physics`` with the setting changes of ``corrections`` applied, in order (other changes are instructions)."""
    current = dict(physics)
    for correction in corrections:
        current.update({key: value for key, value in correction["changes"].items() if key in physics})
    return current


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
    step, time, energy in eV, fmax in eV/A; BFGSLineSearch ``12[ 14]``, the step
    and its force calls) after every step; other lines (the
    header) are ignored. The fmax of the last step is kept (``fmax``).
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self.fmax: float | None = None  # of the last step logged (eV/A; with a cell filter, its stress too)

    def write(self, text: str) -> None:
        """Report the step of an optimiser log line."""
        words = text.split()
        if len(words) >= 5 and words[0].endswith(":"):
            with suppress(ValueError):
                self.fmax = float(words[-1])
            step = words[1].split("[")[0]  # BFGSLineSearch writes "step[force calls]"
            progress.status(f"{self.label}: step {step}, E = {words[-2]} eV, fmax = {words[-1]} eV/A",
                            time.monotonic() - self.start)

    def flush(self) -> None:
        """Nothing to flush (ASE calls it after each line)."""

    def close(self) -> None:
        """Nothing to close (ASE leaves open files it was given as they are)."""

    def done(self, text: str) -> None:
        """Report the end of the relaxation (shown only if a step of it was)."""
        progress.status(f"{self.label}: {text}", time.monotonic() - self.start, done=True)

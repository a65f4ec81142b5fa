"""Mixing energies of every composition of an fcc space with several calculators (benchmark ground truths).

Each composition is an 8-atom random solid solution (a 2x1x1 conventional fcc
cell, exact counts, seed 0) at its Vegard lattice, computed by every fidelity
``name -> (calculator, mode)`` through :func:`alloyscreen.validation.maker.validate`
(the project's calculation cache, so a rebuild reuses every calculation). A
mixing energy is taken against the same calculator's vc-relaxed elemental
references. The table (fractions, each fidelity's mixing energy in eV/atom and
core-hours per calculation) is cached as an ``.npz`` under ``<data_dir>/benchmarks``
named by the content hash of the recipe. A quick run may ask for other cells (e.g. 4-atom
1x1x1 cells of a 1/4 grid) and calculator settings (e.g. a looser ``fmax``).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

from alloyscreen.candidates import CandidateSpace
from alloyscreen.hashing import content_hash
from alloyscreen.structures.bulk import random_solid_solution

SUPERCELL = (2, 1, 1)


def structure(elements: list[str], row: np.ndarray, supercell: tuple[int, int, int] = SUPERCELL):
    """The random solid solution of the composition ``row`` (fractions of ``elements``): 8 atoms by default."""
    composition = {e: float(x) for e, x in zip(elements, row, strict=True) if x > 0}
    return random_solid_solution(composition, "fcc", supercell=supercell, seed=0).structure


def _mixing_energies(elements: list[str], fractions: np.ndarray, calculator: str, mode: str,
                     supercell: tuple[int, int, int] = SUPERCELL,
                     settings: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mixing energy (eV/atom; NaN if it failed) and core-hours of every composition's cell.

    ``settings``: the calculator's settings, for the cells and their references alike (default: its defaults).
    """
    from alloyscreen.validation.maker import validate
    from alloyscreen.validation.references import elemental_references

    settings = settings or {}
    references = elemental_references(elements, calculator, settings)
    mu = np.array([float(references[e].calculation.energy_per_atom) for e in elements])
    values, core_hours = np.full(len(fractions), np.nan), np.full(len(fractions), np.nan)
    for i, row in enumerate(fractions):
        document, _ = validate(structure(elements, row, supercell), calculator, settings, mode)
        core_hours[i] = document.core_hours or np.nan
        if document.status == "completed":
            values[i] = document.energy_per_atom - float(np.dot(row, mu))
        if (i + 1) % 100 == 0:
            print(f"  {calculator} {mode}: {i + 1}/{len(fractions)}", file=sys.stderr, flush=True)
    return values, core_hours


def fidelity_table(space: dict, fidelities: dict[str, tuple[str, str]], stem: str,
                   supercell: tuple[int, int, int] = SUPERCELL, settings: dict | None = None) -> dict[str, np.ndarray]:
    """The table of ``space`` (a candidate-space spec) for ``fidelities``, from its ``.npz`` cache when present.

    Arrays: ``fractions`` (n, elements), and per fidelity ``name`` (eV/atom) and
    ``name_core_hours`` (core-hours of each calculation, as first computed).
    ``supercell``: the fcc repeats of every cell; ``settings``: of every calculator
    (default: its defaults; the recipe, and so the cache's name, holds them only when given).
    """
    from alloyscreen.settings import get_settings

    recipe = {"space": space, "supercell": supercell, "fidelities": fidelities, "seed": 0}
    if settings:
        recipe["settings"] = settings
    path = Path(get_settings().data_dir) / "benchmarks" / f"{stem}_{content_hash(recipe)}.npz"
    if not path.exists():
        fractions = np.concatenate([chunk.fractions for chunk in CandidateSpace(space).iter_chunks()])
        table = {}
        for name, (calculator, mode) in fidelities.items():
            with contextlib.redirect_stdout(sys.stderr):  # CHGNet's banners: a script's stdout carries its JSON only
                table[name], table[f"{name}_core_hours"] = _mixing_energies(space["elements"], fractions, calculator,
                                                                            mode, supercell, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, fractions=fractions, **table)
    with np.load(path) as stored:
        return {key: stored[key] for key in stored.files}

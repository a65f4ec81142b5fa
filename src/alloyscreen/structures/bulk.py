"""Bulk solid solutions: random decorations and special quasirandom structures (SQS).

SQS are searched with sqsgenerator (Gehringer et al., Comput. Phys. Commun.
2023; MIT licence): Monte Carlo swaps that drive the Warren–Cowley parameters of
the first shells towards zero. It runs single-threaded with a fixed seed, so
the result is the same on every run. The supercell is built here and given to
sqsgenerator as is (``supercell: [1, 1, 1]``): sqsgenerator 0.5.6 builds
hexagonal supercells with a wrong in-plane vector, and site order is kept so
its species map onto our sites. Among configurations tied at the best
objective (common for binaries), the lexicographically smallest species
sequence is taken, as sqsgenerator returns ties in no stable order. The structures are also scored by
:mod:`alloyscreen.structures.sro`, independently of the library.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from importlib import metadata

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from alloyscreen.schemas.structure import BulkGenerator, StructureKind
from alloyscreen.structures.composition import (
    StructureInputError,
    check_composition,
    check_prototype,
    integer_counts,
    species_sequence,
)
from alloyscreen.structures.lattice import vegard_lattice
from alloyscreen.structures.result import GeneratedStructure
from alloyscreen.structures.sro import DEFAULT_SHELL_WEIGHTS, sro_objective, warren_cowley

BASIS = {
    "fcc": [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]],
    "bcc": [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]],
    "hcp": [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]],
}
MAX_ANISOTROPY = 1.5
SQS_MIN_ATOMS = 8  # fewer sites cannot hold the coordination shells an SQS is optimised over
MAX_REPEAT = 12


def conventional_cell(prototype: str, a: float, c: float | None = None) -> Structure:
    """Return the conventional cell (fcc 4, bcc 2, hcp 2 atoms) with placeholder species X."""
    check_prototype(prototype)
    lattice = Lattice.hexagonal(a, c or a * np.sqrt(8 / 3)) if prototype == "hcp" else Lattice.cubic(a)
    return Structure(lattice, ["X0+"] * len(BASIS[prototype]), BASIS[prototype])


def choose_supercell(
    composition: Mapping[str, float], prototype: str, *, min_atoms: int = 32, max_atoms: int = 256,
    max_error: float = 0.02,
) -> tuple[int, int, int]:
    """Return the smallest near-isotropic supercell whose integer counts represent the composition.

    Candidates are repeats ``(n1, n2, n3)`` of the conventional cell with
    ``min_atoms <= N <= max_atoms`` and edge-length ratio at most 1.5, tried
    by increasing ``N``; the first with rounding error ``<= max_error`` wins.
    """
    composition = check_composition(composition)
    check_prototype(prototype)
    lengths = np.array(conventional_cell(prototype, 1.0, np.sqrt(8 / 3)).lattice.abc)
    n_basis = len(BASIS[prototype])
    options = []
    for repeats in itertools.product(range(1, MAX_REPEAT + 1), repeat=3):
        n_atoms = n_basis * int(np.prod(repeats))
        edges = lengths * repeats
        anisotropy = edges.max() / edges.min()
        if min_atoms <= n_atoms <= max_atoms and anisotropy <= MAX_ANISOTROPY:
            options.append((n_atoms, anisotropy, repeats))
    for n_atoms, _, repeats in sorted(options):
        try:
            error = integer_counts(composition, n_atoms)[1]
        except StructureInputError:
            continue
        if error <= max_error:
            return (repeats[0], repeats[1], repeats[2])
    raise StructureInputError(
        f"no supercell of {min_atoms}-{max_atoms} atoms represents {composition} within {max_error}; "
        "allowed: a larger max_atoms or max_error"
    )


def _lattice_and_counts(composition, prototype, supercell, max_error):
    composition = check_composition(composition)
    check_prototype(prototype)
    if supercell is None:
        supercell = choose_supercell(composition, prototype, max_error=max_error)
    supercell = tuple(int(n) for n in supercell)
    if len(supercell) != 3 or min(supercell) < 1:
        raise StructureInputError(f"supercell {supercell!r}; allowed: three positive integers")
    a, c = vegard_lattice(composition, prototype)
    cell = conventional_cell(prototype, a, c)
    n_sites = len(cell) * int(np.prod(supercell))
    counts, error = integer_counts(composition, n_sites)
    if error > max_error:
        raise StructureInputError(
            f"supercell {list(supercell)} ({n_sites} atoms) represents {composition} only to {error:.4f}; "
            f"allowed: a rounding error <= {max_error} (use a larger supercell)"
        )
    return composition, supercell, cell, counts, error


def _bulk_result(structure, method, composition, counts, error, weights, **settings) -> GeneratedStructure:
    structure = structure.get_sorted_structure()
    _, alpha = warren_cowley(structure, n_shells=max(weights))
    generator = BulkGenerator(
        method=method,
        shell_weights={str(s): w for s, w in weights.items()},
        sro_objective=sro_objective(alpha, weights),
        **settings,
    )
    kind: StructureKind = "bulk-sqs" if method == "sqs" else "bulk-random"
    return GeneratedStructure(structure, kind, generator, composition, counts, error)


def random_solid_solution(
    composition: Mapping[str, float], prototype: str, *, supercell: tuple[int, int, int] | None = None,
    seed: int = 0, max_error: float = 0.02, shell_weights: Mapping[int, float] | None = None,
) -> GeneratedStructure:
    """Decorate a supercell at random with the exact integer counts of ``composition``.

    Parameters
    ----------
    composition
        Element -> atomic fraction, summing to 1.
    prototype
        ``fcc``, ``bcc`` or ``hcp``; lattice constants from Vegard's law.
    supercell
        Repeats of the conventional cell; chosen by :func:`choose_supercell` if None.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same structure.
    max_error
        Largest accepted ``max |count/N - fraction|``.
    shell_weights
        Shell -> weight of the reported SRO objective (default 1, 1/2, 1/3).
    """
    composition, supercell, cell, counts, error = _lattice_and_counts(
        composition, prototype, supercell, max_error
    )
    structure = cell * supercell
    for index, symbol in enumerate(species_sequence(counts, np.random.default_rng(seed))):
        structure.replace(index, symbol)
    weights = dict(shell_weights or DEFAULT_SHELL_WEIGHTS)
    return _bulk_result(
        structure, "random", composition, counts, error, weights, seed=seed, prototype=prototype,
        supercell=list(supercell), a=cell.lattice.a, c=cell.lattice.c if prototype == "hcp" else None,
    )


def special_quasirandom_structure(
    composition: Mapping[str, float], prototype: str, *, supercell: tuple[int, int, int] | None = None,
    seed: int = 0, iterations: int = 100_000, max_error: float = 0.02,
    shell_weights: Mapping[int, float] | None = None,
) -> GeneratedStructure:
    """Search an SQS with sqsgenerator (Monte Carlo on Warren–Cowley parameters).

    Parameters are those of :func:`random_solid_solution`, plus ``iterations``,
    the number of Monte Carlo configurations sqsgenerator tries. The reported
    ``library_objective`` is sqsgenerator's; ``sro_objective`` is ours.
    """
    import sqsgenerator

    composition, supercell, cell, counts, error = _lattice_and_counts(
        composition, prototype, supercell, max_error
    )
    if iterations < 1:
        raise StructureInputError(f"iterations {iterations!r}; allowed: a positive integer")
    weights = dict(shell_weights or DEFAULT_SHELL_WEIGHTS)
    placeholder = next(iter(composition))
    structure = cell * supercell
    config = {
        "structure": {
            "lattice": structure.lattice.matrix.tolist(),
            "coords": structure.frac_coords.tolist(),
            "species": [placeholder] * len(structure),
            "supercell": [1, 1, 1],
        },
        "composition": [{"sites": placeholder, **counts}],
        "iterations": int(iterations),
        "shell_weights": {int(s): float(w) for s, w in weights.items()},
        "seed": [int(seed)],
        "thread_config": [1],
    }
    try:
        parsed = sqsgenerator.parse_config(config)
    except ValueError as failure:  # e.g. a cell too small to hold the requested coordination shells
        raise StructureInputError(
            f"no SQS in a {len(structure)}-site cell {tuple(supercell)} with shells {sorted(weights)} ({failure}); "
            "allowed: a larger supercell, fewer shells, or method 'random'"
        ) from None
    if not hasattr(parsed, "structure"):
        raise StructureInputError(f"sqsgenerator rejected the settings: {parsed.msg}")
    pack = sqsgenerator.optimize(parsed)  # keep a reference: results live inside the pack
    objective, ties = min(pack, key=lambda item: item[0])
    best = min(ties, key=lambda result: tuple(result.species))  # the library's tie order is not stable
    for index, number in enumerate(best.species):
        structure.replace(index, Element.from_Z(int(number)))
    return _bulk_result(
        structure, "sqs", composition, counts, error, weights,
        library=f"sqsgenerator {metadata.version('sqsgenerator')}", seed=seed, prototype=prototype,
        supercell=list(supercell), a=cell.lattice.a, c=cell.lattice.c if prototype == "hcp" else None,
        iterations=int(iterations), library_objective=float(objective),
    )

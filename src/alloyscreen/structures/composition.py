"""Input checks and integer atom counts that represent a composition in a finite cell."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase.data import atomic_numbers

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.structure import LATTICE_PROTOTYPES

FRACTION_TOLERANCE = 1e-6


class StructureInputError(AlloyscreenError):
    """A composition, prototype or cell size that cannot make a structure."""


def check_prototype(prototype: str) -> str:
    """Return ``prototype`` if supported, else raise naming the allowed ones."""
    if prototype not in LATTICE_PROTOTYPES:
        raise StructureInputError(f"unknown prototype {prototype!r}; allowed: {', '.join(LATTICE_PROTOTYPES)}")
    return prototype


class CheckedComposition(dict[str, float]):
    """A composition :func:`check_composition` accepted: known elements, fractions > 0 summing to 1, sorted.

    Checked once where it enters; the functions it is passed to below trust it.
    """


def check_composition(composition: Mapping[str, float]) -> CheckedComposition:
    """Validate a composition and return it sorted by element symbol (a checked one as it is).

    Parameters
    ----------
    composition
        Element symbol -> atomic fraction; fractions positive and summing to 1
        (within 1e-6).

    Returns
    -------
    CheckedComposition
        The same composition with keys in alphabetical order.
    """
    if isinstance(composition, CheckedComposition):
        return composition
    if not composition:
        raise StructureInputError("empty composition; give at least one element -> fraction")
    for symbol, fraction in composition.items():
        if symbol not in atomic_numbers or symbol == "X":
            raise StructureInputError(
                f"unknown element {symbol!r}; allowed: chemical symbols such as 'Fe', 'Ni'"
            )
        if not np.isfinite(fraction) or fraction <= 0:
            raise StructureInputError(f"fraction of {symbol} is {fraction!r}; allowed: a number > 0")
    total = float(sum(composition.values()))
    if abs(total - 1.0) > FRACTION_TOLERANCE:
        raise StructureInputError(
            f"fractions sum to {total:.6g}; allowed: a sum of 1 (within {FRACTION_TOLERANCE:g})"
        )
    return CheckedComposition((symbol, float(composition[symbol])) for symbol in sorted(composition))


def integer_counts(composition: Mapping[str, float], n_sites: int) -> tuple[dict[str, int], float]:
    """Distribute ``n_sites`` atoms over the elements by the largest-remainder rule.

    The largest-remainder (Hamilton) rule gives counts summing to ``n_sites``
    whose largest deviation ``max |count/N - fraction|`` is the smallest
    possible. Every element must get at least one atom.

    Parameters
    ----------
    composition
        Checked composition (see :func:`check_composition`).
    n_sites
        Number of sites in the cell.

    Returns
    -------
    counts, error
        Element -> integer count, and the rounding error ``max |count/N - fraction|``.
    """
    symbols = list(composition)
    fractions = np.array([composition[s] for s in symbols])
    ideal = fractions * n_sites
    counts = np.floor(ideal).astype(int)
    remainder = ideal - counts
    missing = n_sites - int(counts.sum())
    counts[np.argsort(-remainder, kind="stable")[:missing]] += 1
    if (counts == 0).any():
        empty = symbols[int(np.argmax(counts == 0))]
        raise StructureInputError(
            f"a cell of {n_sites} sites is too small for {empty} at fraction {composition[empty]:.4g}; "
            f"allowed: at least {int(np.ceil(1 / fractions.min()))} sites"
        )
    error = float(np.max(np.abs(counts / n_sites - fractions)))
    return dict(zip(symbols, counts.tolist(), strict=True)), error


def species_sequence(counts: Mapping[str, int], rng: np.random.Generator) -> list[str]:
    """Return the species of ``counts`` in a random order drawn from ``rng``."""
    ordered = np.repeat(np.array(list(counts)), list(counts.values()))
    return rng.permutation(ordered).tolist()

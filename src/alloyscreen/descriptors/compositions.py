"""Compositions as arrays: the padded (n, m) form every descriptor is computed on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from alloyscreen.descriptors.elementdata import atomic_numbers, symbols
from alloyscreen.errors import AlloyscreenError


@dataclass(frozen=True)
class Compositions:
    """``n`` compositions of at most ``m`` elements each.

    Attributes
    ----------
    z : np.ndarray
        (n, m) int atomic numbers; padding slots repeat the first element of the row.
    c : np.ndarray
        (n, m) float atomic fractions, rows sum to 1; padding slots are 0.
    """

    z: np.ndarray
    c: np.ndarray

    def __len__(self) -> int:
        return self.z.shape[0]

    def as_dicts(self) -> list[dict[str, float]]:
        """Each composition as ``{symbol: atomic fraction}``."""
        table = symbols()
        return [{table[z]: float(c) for z, c in zip(row_z, row_c, strict=True) if c > 0}
                for row_z, row_c in zip(self.z.tolist(), self.c.tolist(), strict=True)]

    @property
    def present(self) -> np.ndarray:
        """(n, m) bool: slot holds an element of the composition."""
        return self.c > 0

    @classmethod
    def from_dense(cls, elements: list[str] | tuple[str, ...], fractions: np.ndarray) -> Compositions:
        """Build from a dense (n, len(elements)) array of amounts (rows are normalised)."""
        fractions = np.asarray(fractions, dtype=np.float64)
        if fractions.ndim != 2 or fractions.shape[1] != len(elements):
            raise AlloyscreenError(
                f"fractions of shape {fractions.shape}; allowed: (n, {len(elements)}) for elements {list(elements)}"
            )
        from alloyscreen.descriptors.fused import pack  # compiled: a pass over the rows, no sort

        pool = atomic_numbers(list(elements))
        present = np.count_nonzero(fractions > 0, axis=1)
        if len(fractions) and (present.min() == 0 or fractions.min() < 0):
            raise AlloyscreenError("a composition with a negative amount or no element; allowed: amounts >= 0, sum > 0")
        order, c = pack(fractions, max(int(present.max()), 1) if len(fractions) else 1)
        c = c / c.sum(axis=1, keepdims=True)
        z = pool[order]
        z = np.where(c > 0, z, z[:, :1])
        return cls(z=z, c=c)

    @classmethod
    def from_dicts(cls, compositions: Iterable[dict[str, float]]) -> Compositions:
        """Build from ``{symbol: amount}`` dicts."""
        compositions = list(compositions)
        elements = sorted({e for comp in compositions for e in comp})
        column = {e: i for i, e in enumerate(elements)}
        dense = np.zeros((len(compositions), len(elements)))
        for row, comp in enumerate(compositions):
            for element, amount in comp.items():
                dense[row, column[element]] += amount
        return cls.from_dense(elements, dense)

    @classmethod
    def from_formulas(cls, formulas: Iterable[str]) -> Compositions:
        """Parse formulas (pymatgen syntax, e.g. ``'Pt0.2Pd0.2Fe0.6'``, ``'CoCrFeMnNi'``)."""
        return cls.from_dicts(parse_formula(f) for f in formulas)


def ideal_mixing_entropy(c: np.ndarray) -> np.ndarray:
    """−Σ c_i ln c_i of each row of fractions ``c``: the ideal configurational entropy in units of k_B per atom."""
    return -np.einsum("nm,nm->n", c, np.log(np.where(c > 0, c, 1.0)))


def parse_formula(formula: str) -> dict[str, float]:
    """Return ``{symbol: atomic fraction}`` for ``formula``; raise AlloyscreenError if it is not one."""
    from pymatgen.core import Composition

    try:
        comp = Composition(formula.strip())
        fractions = comp.fractional_composition.get_el_amt_dict()
    except (ValueError, KeyError, TypeError) as error:
        raise AlloyscreenError(
            f"cannot read formula {formula!r} ({error}); allowed: element symbols with amounts, e.g. 'Pt0.2Pd0.8'"
        ) from None
    if not fractions:
        raise AlloyscreenError(f"empty formula {formula!r}; allowed: element symbols with amounts, e.g. 'Pt0.2Pd0.8'")
    atomic_numbers(list(fractions))
    return fractions

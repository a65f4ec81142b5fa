"""One set of physics settings per stage: resolved once for the element pool, checked on every label.

A label subtracts energies (a structure and its elemental references, a slab
with and without H): they are comparable only when computed with the same
Hamiltonian and basis. A stage therefore resolves everything that would
otherwise depend on the elements of one structure (pw.x cutoffs, spin,
pseudopotentials) once for its whole element pool, and the label builder
refuses calculations whose physics settings differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.validation.registry import get_calculator

# where files lie on one host: not physics (pseudopotentials are identified by ``pseudo_sha256``)
HOST_SPECIFIC = ("pseudo_dir", "pseudopotentials")
# settings that describe one structure's calculation, not the physics shared by a label's calculations
STRUCTURE_SPECIFIC = ("mode", "kpts", "spin_orbit", *HOST_SPECIFIC)
# element -> value settings: calculations must agree on the elements they share
PER_ELEMENT = ("pseudo_sha256", "z_valence", "magmoms")


class PhysicsMismatchError(AlloyscreenError):
    """Calculations combined into one label were computed with different physics settings."""


def pool_settings(calculator: str, elements: Iterable[str], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return ``settings`` with every element-dependent choice fixed for the pool ``elements``.

    Raises
    ------
    AlloyscreenError
        A setting is unknown, or an element cannot be treated by ``calculator``
        (no pseudopotential, outside EMT's elements ...): one line naming it.
    """
    return get_calculator(calculator).resolve_pool(sorted(set(elements)), dict(settings or {}))


def check_same_physics(calculations: Sequence[CalculationDocument]) -> None:
    """Refuse (one line) calculations of one label that differ in calculator, code or physics settings."""
    first = calculations[0]
    for other in calculations[1:]:
        where = f"calculations {first.id[:12]} ({first.formula}) and {other.id[:12]} ({other.formula})"
        for name in ("calculator", "code_version"):
            if getattr(first, name) != getattr(other, name):
                raise PhysicsMismatchError(f"{where} differ in {name}: {getattr(first, name)!r} vs "
                                           f"{getattr(other, name)!r}; a label combines one calculator and code")
        for key in sorted((set(first.settings) | set(other.settings)) - set(STRUCTURE_SPECIFIC)):
            mine, theirs = first.settings.get(key), other.settings.get(key)
            if key in PER_ELEMENT:
                shared = set(mine or {}) & set(theirs or {})
                mine = {el: mine[el] for el in sorted(shared)} if mine else mine
                theirs = {el: theirs[el] for el in sorted(shared)} if theirs else theirs
            if mine != theirs:
                raise PhysicsMismatchError(
                    f"{where} differ in {first.calculator} setting {key!r}: {mine!r} vs {theirs!r}; a label and "
                    "its references must share one set of physics settings (resolve the stage's settings once "
                    "for its element pool)")

"""Alloy slabs: fcc(111), bcc(110), hcp(0001) with vacuum and fixed bottom layers.

The slab is built by ASE (``fcc111``, ``bcc110``, ``hcp0001``) at the Vegard's
law lattice constants of the composition, centred in a cell whose vacuum gap
between periodic images is ``vacuum``, and decorated at random with the exact
integer counts of the composition (seeded, so deterministic). The bottom
``fixed_layers`` layers carry ``selective_dynamics = [False] * 3``, which
``AseAtomsAdaptor.get_atoms`` turns into an ASE ``FixAtoms`` constraint; every
site carries ``layer`` (1 = top), the ASE tag convention.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase.build import bcc110, fcc111, hcp0001
from pymatgen.io.ase import AseAtomsAdaptor

from alloyscreen.schemas.structure import SlabGenerator
from alloyscreen.structures.composition import (
    StructureInputError,
    check_composition,
    check_prototype,
    integer_counts,
    species_sequence,
)
from alloyscreen.structures.lattice import vegard_lattice
from alloyscreen.structures.result import GeneratedStructure

FACETS = {"fcc": "111", "bcc": "110", "hcp": "0001"}


def _check_slab_shape(size, layers: int, fixed_layers: int, vacuum: float) -> tuple[int, int]:
    size = tuple(int(n) for n in size)
    if len(size) != 2 or min(size) < 2:
        raise StructureInputError(f"slab size {size!r}; allowed: two integers >= 2")
    if layers < 2:
        raise StructureInputError(f"layers {layers!r}; allowed: an integer >= 2")
    if not 0 <= fixed_layers < layers:
        raise StructureInputError(f"fixed_layers {fixed_layers!r}; allowed: 0 to layers - 1 = {layers - 1}")
    if not vacuum > 0:
        raise StructureInputError(f"vacuum {vacuum!r}; allowed: a positive gap in Å")
    return size


def make_slab(
    composition: Mapping[str, float], prototype: str, *, size: tuple[int, int] = (3, 3), layers: int = 4,
    fixed_layers: int = 2, vacuum: float = 15.0, seed: int = 0, max_error: float = 0.05,
) -> GeneratedStructure:
    """Build a randomly decorated alloy slab of the close-packed facet of ``prototype``.

    Parameters
    ----------
    composition
        Element -> atomic fraction, summing to 1.
    prototype
        ``fcc`` (111), ``bcc`` (110) or ``hcp`` (0001).
    size
        Surface repeats along the two in-plane cell vectors (each >= 2).
    layers, fixed_layers
        Number of atomic layers, and how many bottom layers are fixed.
    vacuum
        Vacuum gap between the top of one slab and the bottom of its periodic image (Å).
    seed
        Seed of the decoration; the same seed gives the same slab.
    max_error
        Largest accepted ``max |count/N - fraction|`` over the slab's atoms.
    """
    composition = check_composition(composition)
    check_prototype(prototype)
    size = _check_slab_shape(size, layers, fixed_layers, vacuum)
    a, c = vegard_lattice(composition, prototype)
    placeholder = next(iter(composition))
    if prototype == "fcc":
        atoms = fcc111(placeholder, size=(*size, layers), a=a)
    elif prototype == "bcc":
        atoms = bcc110(placeholder, size=(*size, layers), a=a)
    else:
        atoms = hcp0001(placeholder, size=(*size, layers), a=a, c=c)
    atoms.center(vacuum=vacuum / 2.0, axis=2)
    counts, error = integer_counts(composition, len(atoms))
    if error > max_error:
        raise StructureInputError(
            f"slab of {len(atoms)} atoms represents {composition} only to {error:.4f}; "
            f"allowed: a rounding error <= {max_error} (use a larger size or more layers)"
        )
    atoms.set_chemical_symbols(species_sequence(counts, np.random.default_rng(seed)))
    layer = atoms.get_tags()
    atoms.info.clear()  # ASE's adsorbate_info describes the primitive cell; find_sites covers the slab
    structure = AseAtomsAdaptor.get_structure(atoms)
    structure.remove_site_property("tags")
    structure.add_site_property("layer", layer.tolist())
    movable = layer <= layers - fixed_layers
    structure.add_site_property("selective_dynamics", [[bool(m)] * 3 for m in movable])
    generator = SlabGenerator.model_validate({
        "seed": seed, "prototype": prototype, "facet": FACETS[prototype], "size": list(size),
        "layers": layers, "fixed_layers": fixed_layers, "vacuum": vacuum, "a": a, "c": c,
    })
    return GeneratedStructure(structure, "slab", generator, composition, counts, error)

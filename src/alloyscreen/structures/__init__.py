"""Structures for candidates: SQS and random solid solutions, slabs, adsorption sites (pure computation)."""

from alloyscreen.structures.adsorption import find_sites, place_adsorbate
from alloyscreen.structures.bulk import choose_supercell, random_solid_solution, special_quasirandom_structure
from alloyscreen.structures.lattice import vegard_lattice
from alloyscreen.structures.result import GeneratedStructure
from alloyscreen.structures.slabs import make_slab

__all__ = [
    "GeneratedStructure",
    "choose_supercell",
    "find_sites",
    "make_slab",
    "place_adsorbate",
    "random_solid_solution",
    "special_quasirandom_structure",
    "vegard_lattice",
]

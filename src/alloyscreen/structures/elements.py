"""Candidate crystals of a pure element: its ground state (where ASE knows it) and fcc, bcc, hcp.

The reference of an element in a mixing energy is the lowest-energy of these
after relaxation with the stage's calculator: the ground state of ASE's
``reference_states`` (experimental lattice, Kittel) is not enough alone, as it
is missing for some elements (Mn: 58-atom alpha-Mn) and a calculator may order
the close-packed phases differently than experiment. The fcc, bcc and hcp cells
are primitive, at the element's own atomic volume (see :mod:`.lattice`).
"""

from __future__ import annotations

from ase.build import bulk
from ase.data import atomic_numbers, reference_states
from pymatgen.core import Structure

from alloyscreen.schemas.structure import BulkGenerator
from alloyscreen.structures.composition import StructureInputError, check_prototype
from alloyscreen.structures.lattice import elemental_lattice
from alloyscreen.structures.result import GeneratedStructure

CLOSE_PACKED = ("fcc", "bcc", "hcp")
# starting moments (Bohr magneton) of the antiferromagnetic starts; spin-polarised calculators try them too
ANTIFERROMAGNETIC_MOMENTS = {"Cr": 2.0, "Mn": 3.0, "Fe": 3.0}


def elemental_crystals(element: str) -> dict[str, Structure]:
    """Return crystal name -> primitive cell of ``element``: its ASE ground state, then fcc, bcc and hcp.

    Raises
    ------
    StructureInputError
        ``element`` is unknown or not a solid (one line naming what is allowed).
    """
    if element not in atomic_numbers:
        raise StructureInputError(f"unknown element symbol {element!r}")
    crystals: dict[str, Structure] = {}
    state = reference_states[atomic_numbers[element]] or {}
    try:
        crystals[str(state["symmetry"])] = Structure.from_ase_atoms(bulk(element))
    except (KeyError, ValueError, RuntimeError, NotImplementedError):
        pass  # no ground-state cell ASE can build (e.g. alpha-Mn)
    for prototype in CLOSE_PACKED:
        if prototype not in crystals:
            a, c = elemental_lattice(element, prototype)  # raises for gases
            crystals[prototype] = Structure.from_ase_atoms(bulk(element, prototype, a=a, c=c))
    return crystals


def element_structure(element: str, prototype: str) -> GeneratedStructure:
    """Return the primitive ``prototype`` cell of a pure element: the same cell as its reference crystal."""
    check_prototype(prototype)
    structure = elemental_crystals(element)[prototype]
    a, c = elemental_lattice(element, prototype)
    generator = BulkGenerator(method="element", seed=0, prototype=prototype, supercell=[], a=a,
                              c=c if prototype == "hcp" else None, shell_weights={}, sro_objective=0.0)
    return GeneratedStructure(structure, "bulk-element", generator, {element: 1.0}, {element: len(structure)}, 0.0)


def antiferromagnetic_crystals(element: str, moment: float | None = None) -> dict[str, Structure]:
    """Return the antiferromagnetic starts of ``element``: conventional cells with ``magmom`` site properties.

    ``bcc-afm``: the 2-atom cubic bcc cell, corner and centre opposite (B2-type,
    the commensurate approximant of Cr's spin density wave); ``fcc-afm``: the
    4-atom cubic fcc cell with (001) planes alternating (AFM-I, L1_0-type, as
    for fcc Mn and Fe). ``moment``: starting moment (Bohr magneton; default
    :data:`ANTIFERROMAGNETIC_MOMENTS`, else 2.0).
    """
    moment = moment if moment is not None else ANTIFERROMAGNETIC_MOMENTS.get(element, 2.0)
    crystals = {}
    for prototype, signs in (("bcc", [1, -1]), ("fcc", [1, 1, -1, -1])):
        a, _ = elemental_lattice(element, prototype)
        cell = Structure.from_ase_atoms(bulk(element, prototype, a=a, cubic=True))
        cell = cell.get_sorted_structure(key=lambda site: site.frac_coords[2])  # fcc: the z = 0 plane first
        cell.add_site_property("magmom", [sign * moment for sign in signs])
        crystals[f"{prototype}-afm"] = cell
    return crystals

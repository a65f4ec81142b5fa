"""Crystals of a pure element: its ground state (:data:`GROUND_STATES`, else ASE's) and fcc, bcc, hcp.

The reference of an element in a mixing energy is, by default, its ground-state
crystal (:func:`ground_state_crystal`); on request (and always for a hull) it is
the lowest-energy of all these crystals after relaxation with the stage's
calculator (:mod:`alloyscreen.validation.references`): a calculator may order
the close-packed phases differently than experiment, and some ground states are
not built here (Mn: 58-atom alpha-Mn). The fcc, bcc and hcp cells are
primitive, at the element's own atomic volume (see :mod:`.lattice`).

Ground-state crystals
---------------------
:data:`GROUND_STATES` lists the metals' crystal structures as tabulated by
Ashcroft and Mermin, *Solid State Physics* (1976), ch. 4, Tables 4.3 (fcc),
4.4 (bcc) and 4.7 (hcp) -- the table ASE carries as
``ase.data.reference_states``, whose lattice constants the cells use; Kittel,
*Introduction to Solid State Physics*, ch. 1 ("crystal structures of the
elements") gives the same structures. Structures are those at room
temperature (Li and Na: bcc, the room-temperature phase; their close-packed
low-temperature phases lie within meV). La, Pr and Nd are double hcp (ABAC) in
experiment: hcp stands in. Magnetic order: Fe, Co, Ni start ferromagnetic (the
calculators' default moments), Cr antiferromagnetic (``bcc-afm``, the
commensurate approximant of its spin-density wave) where the calculation is
spin-polarised. Mn has no ground-state cell here (alpha-Mn, cI58): its stand-in
is the lowest of fcc, bcc, hcp and, spin-polarised, their antiferromagnetic
starts (a search, as for every element before). An element outside the table
takes ASE's ground-state cell where ASE builds one (diamond C, Si, Ge ...), else
the same search.
"""

from __future__ import annotations

from ase.build import bulk
from ase.data import atomic_numbers, reference_states
from pymatgen.core import Structure

from alloyscreen.schemas.structure import LATTICE_PROTOTYPES, BulkGenerator
from alloyscreen.structures.composition import StructureInputError, check_prototype
from alloyscreen.structures.lattice import elemental_lattice
from alloyscreen.structures.result import GeneratedStructure

# starting moments (Bohr magneton) of the antiferromagnetic starts; spin-polarised calculators try them too
ANTIFERROMAGNETIC_MOMENTS = {"Cr": 2.0, "Mn": 3.0, "Fe": 3.0}
# Ashcroft & Mermin, Solid State Physics (1976), Tables 4.3, 4.4 and 4.7 (see the module docstring)
_GROUND_STATE_TABLE = {
    "fcc": "Al Ca Ni Cu Sr Rh Pd Ag Ce Yb Ir Pt Au Pb Th",
    "bcc": "Li Na K V Cr Fe Rb Nb Mo Cs Ba Eu Ta W",
    "hcp": "Be Mg Sc Ti Co Zn Y Zr Tc Ru Cd La Pr Nd Gd Tb Dy Ho Er Tm Lu Hf Re Os Tl",
}
GROUND_STATES = {element: crystal for crystal, elements in _GROUND_STATE_TABLE.items() for element in elements.split()}
# ground states that are antiferromagnetic: their reference is this crystal where the calculation is spin-polarised
ANTIFERROMAGNETIC_GROUND_STATES = {"Cr": "bcc-afm"}
# elements without a ground-state cell here, and why; their reference is searched
SEARCHED_GROUND_STATES = {"Mn": "alpha-Mn (cI58, 58 atoms) is not built"}


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
    for prototype in LATTICE_PROTOTYPES:
        if prototype not in crystals:
            a, c = elemental_lattice(element, prototype)  # raises for gases
            crystals[prototype] = Structure.from_ase_atoms(bulk(element, prototype, a=a, c=c))
    return crystals


def ground_state_crystal(element: str) -> str | None:
    """Return the name of ``element``'s ground-state crystal among :func:`elemental_crystals`; None: not built (Mn).

    Raises
    ------
    StructureInputError
        ``element`` is unknown or not a solid (one line naming what is allowed).
    """
    crystals = elemental_crystals(element)
    if element in SEARCHED_GROUND_STATES:
        return None
    if element in GROUND_STATES:
        return GROUND_STATES[element]
    state = reference_states[atomic_numbers[element]] or {}
    return str(state["symmetry"]) if state.get("symmetry") in crystals else None


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

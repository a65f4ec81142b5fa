"""jobflow Maker of a candidate's structure: the element's cell, an SQS, a random solid solution or a slab."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from jobflow import Maker, job

from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.structure import StructureDocument
from alloyscreen.structures.bulk import (
    SQS_MIN_ATOMS,
    choose_supercell,
    random_solid_solution,
    special_quasirandom_structure,
)
from alloyscreen.structures.composition import check_composition
from alloyscreen.structures.elements import element_structure
from alloyscreen.structures.result import GeneratedStructure
from alloyscreen.structures.slabs import make_slab


@dataclass
class StructureMaker(Maker):
    """Make the structure of a candidate composition on its prototype lattice.

    Parameters
    ----------
    name
        Job name.
    method
        ``sqs``, ``random`` or ``slab`` (the close-packed facet, ``slab`` options).
    seed
        Seed of the generator (same seed, same structure, same document id).
    iterations
        SQS Monte Carlo iterations (``sqs`` only).
    max_error
        Largest accepted ``max |count/N - fraction|``.
    supercell
        Repeats of the conventional cell; None: the smallest near-isotropic
        supercell holding the fractions within ``max_error`` inside the
        calculator's atom range (``cell_atoms`` of :meth:`generate`).
    slab
        ``size``, ``layers``, ``fixed_layers`` and ``vacuum`` of a slab.
    """

    name: str = "structure"
    method: Literal["sqs", "random", "slab"] = "sqs"
    seed: int = 0
    iterations: int = 20_000
    max_error: float = 0.02
    supercell: tuple[int, int, int] | None = None
    slab: dict[str, Any] = field(default_factory=dict)

    def generate(self, composition: dict[str, float], prototype: str,
                 cell_atoms: tuple[int, int] = (1, 256)) -> GeneratedStructure:
        """Return the structure of ``composition``; a pure element's bulk is its primitive cell.

        Raises
        ------
        StructureError
            No cell of the allowed sizes holds the fractions within ``max_error``.
        """
        composition = check_composition(composition)  # once: the functions below trust a checked one
        if self.method == "slab":
            return make_slab(composition, prototype, seed=self.seed, max_error=self.max_error, **self.slab)
        if len(composition) == 1:
            return element_structure(next(iter(composition)), prototype)
        supercell = self.supercell
        if supercell is None:
            fewest, most = cell_atoms
            fewest = max(fewest, SQS_MIN_ATOMS) if self.method == "sqs" else fewest
            supercell = choose_supercell(composition, prototype, min_atoms=fewest, max_atoms=most,
                                         max_error=self.max_error)
        a, b, c = supercell  # a list once serialised
        repeats = (int(a), int(b), int(c))
        if self.method == "sqs":
            return special_quasirandom_structure(composition, prototype, seed=self.seed, max_error=self.max_error,
                                                 supercell=repeats, iterations=self.iterations)
        return random_solid_solution(composition, prototype, seed=self.seed, max_error=self.max_error,
                                     supercell=repeats)

    @job(output_schema=StructureDocument)
    def make(self, composition: dict[str, float], prototype: str, candidate_id: str | None = None,
             cell_atoms: tuple[int, int] = (1, 256)):
        """Return the :class:`StructureDocument` of ``composition`` on ``prototype``."""
        parents = [candidate_id] if candidate_id else []
        generated = self.generate(composition, prototype, cell_atoms)
        return generated.to_document(candidate_id, current_job_provenance(parents=parents))

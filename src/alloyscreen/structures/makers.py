"""jobflow Maker for the structure stage of a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jobflow import Maker, job

from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.structure import StructureDocument
from alloyscreen.structures.bulk import random_solid_solution, special_quasirandom_structure
from alloyscreen.structures.result import GeneratedStructure
from alloyscreen.structures.slabs import make_slab


@dataclass
class StructureMaker(Maker):
    """Make one structure document for a candidate: SQS, random solid solution or slab.

    Parameters
    ----------
    name
        Job name.
    method
        ``sqs``, ``random`` or ``slab``.
    seed
        Seed of the generator (same seed, same structure, same document id).
    iterations
        SQS Monte Carlo iterations (``sqs`` only).
    max_error
        Largest accepted ``max |count/N - fraction|``.
    """

    name: str = "structure"
    method: Literal["sqs", "random", "slab"] = "sqs"
    seed: int = 0
    iterations: int = 100_000
    max_error: float = 0.05

    @job(output_schema=StructureDocument)
    def make(self, composition: dict[str, float], prototype: str, candidate_id: str | None = None):
        """Return the :class:`StructureDocument` of ``composition`` on ``prototype``."""
        seed, max_error = self.seed, self.max_error
        generated: GeneratedStructure
        if self.method == "sqs":
            generated = special_quasirandom_structure(
                composition, prototype, seed=seed, max_error=max_error, iterations=self.iterations
            )
        elif self.method == "random":
            generated = random_solid_solution(composition, prototype, seed=seed, max_error=max_error)
        else:
            generated = make_slab(composition, prototype, seed=seed, max_error=max_error)
        parents = [candidate_id] if candidate_id else []
        return generated.to_document(candidate_id, current_job_provenance(parents=parents))

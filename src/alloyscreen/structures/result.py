"""What every structure generator returns, and its conversion to a stored document."""

from __future__ import annotations

from dataclasses import dataclass

from pymatgen.core import Structure

from alloyscreen.schemas.provenance import Provenance
from alloyscreen.schemas.structure import (
    AdsorptionSite,
    BulkGenerator,
    SlabGenerator,
    StructureDocument,
    StructureKind,
)


@dataclass(frozen=True)
class GeneratedStructure:
    """A generated structure with its settings and how well it represents the composition."""

    structure: Structure
    kind: StructureKind
    generator: BulkGenerator | SlabGenerator
    composition: dict[str, float]
    counts: dict[str, int]
    composition_error: float
    site: AdsorptionSite | None = None

    def to_document(
        self, candidate_id: str | None = None, provenance: Provenance | None = None
    ) -> StructureDocument:
        """Return the ``structures`` document (``_id`` = hash of structure, settings and site)."""
        return StructureDocument.build(
            structure=self.structure.as_dict(),
            generator=self.generator,
            provenance=provenance,
            candidate_id=candidate_id,
            kind=self.kind,
            prototype=self.generator.prototype,
            n_atoms=len(self.structure),
            composition=self.composition,
            counts=self.counts,
            composition_error=self.composition_error,
            site=self.site,
        )

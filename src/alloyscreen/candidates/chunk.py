"""A chunk of streamed candidates: arrays over candidates, identity computed on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alloyscreen.candidates.identity import candidate_id, canonical_composition, formula
from alloyscreen.descriptors import Compositions, DescriptorTable
from alloyscreen.schemas.candidate import CandidateDocument
from alloyscreen.schemas.provenance import Provenance


@dataclass(frozen=True)
class CandidateChunk:
    """Consecutive candidates of a space.

    Attributes
    ----------
    elements : tuple of str
        The element pool, the column order of ``fractions``.
    fractions : np.ndarray
        (n, len(elements)) float64 atomic fractions, rows sum to 1.
    prototypes : np.ndarray
        (n,) str: 'fcc', 'bcc' or 'hcp'.
    start : int
        Position of the first row in the space's stream (0-based, stable for a given spec).
    descriptors : dict
        Descriptor columns computed while the chunk was made (descriptor windows,
        the VEC of the ``auto`` prototype): name -> (n,) values, reused by scoring.
    """

    elements: tuple[str, ...]
    fractions: np.ndarray
    prototypes: np.ndarray
    start: int = 0
    descriptors: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.fractions.shape[0]

    def compositions(self) -> Compositions:
        """Return the compositions in the padded form descriptors are computed on."""
        return Compositions.from_dense(self.elements, self.fractions)

    def composition(self, row: int) -> dict[str, float]:
        """Return the canonical composition of one candidate."""
        return canonical_composition(self.elements, self.fractions[row])

    def formula(self, row: int) -> str:
        """Return the formula of one candidate."""
        return formula(self.composition(row))

    def ids(self, rows: np.ndarray | list[int] | None = None) -> list[str]:
        """Return the stable ids of ``rows`` (default: all); content hashes, computed here."""
        selected = range(len(self)) if rows is None else rows
        return [candidate_id(self.composition(r), str(self.prototypes[r])) for r in selected]

    def documents(
        self,
        rows: np.ndarray | list[int] | None = None,
        descriptors: DescriptorTable | None = None,
        campaign_id: str | None = None,
        provenance: Provenance | None = None,
    ) -> list[CandidateDocument]:
        """Return ``candidates`` documents for ``rows`` (default: all).

        ``descriptors``, if given, holds one row per candidate of this chunk.
        """
        selected = range(len(self)) if rows is None else rows
        provenance = provenance or Provenance(campaign_id=campaign_id)
        return [candidate_document(self.composition(row), str(self.prototypes[row]), campaign_id, provenance,
                                   descriptors=None if descriptors is None else descriptors.row(row),
                                   feature_set=None if descriptors is None else descriptors.feature_set)
                for row in selected]


def candidate_document(composition: dict[str, float], prototype: str, campaign_id: str | None,
                       provenance: Provenance, descriptors: dict[str, float] | None = None,
                       feature_set: str | None = None) -> CandidateDocument:
    """Return the ``candidates`` document of a canonical composition and prototype."""
    return CandidateDocument(
        id=candidate_id(composition, prototype), composition=composition, formula=formula(composition),
        prototype=prototype, elements=list(composition), n_components=len(composition), campaign_id=campaign_id,
        descriptors=descriptors, feature_set=feature_set, provenance=provenance,
    )

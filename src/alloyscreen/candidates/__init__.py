"""Candidate spaces: spec, exact size, chunked streaming in a stable order, canonical identity."""

from alloyscreen.candidates.chunk import CandidateChunk
from alloyscreen.candidates.identity import candidate_id, canonical_composition, formula, prototype_from_vec
from alloyscreen.candidates.space import CandidateSpace
from alloyscreen.candidates.spec import CandidateSpaceSpec

__all__ = [
    "CandidateChunk", "CandidateSpace", "CandidateSpaceSpec", "candidate_id", "canonical_composition", "formula",
    "prototype_from_vec",
]

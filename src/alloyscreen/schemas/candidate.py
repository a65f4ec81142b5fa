"""The ``candidates`` document: one composition on one lattice prototype."""

from __future__ import annotations

from pydantic import Field, field_validator

from alloyscreen.schemas.base import Document
from alloyscreen.schemas.structure import Prototype


class CandidateDocument(Document):
    """A candidate alloy: one composition on one lattice prototype.

    ``_id`` is the content hash of the canonical composition and prototype
    (``alloyscreen.candidates.identity.candidate_id``).
    """

    composition: dict[str, float] = Field(
        description="element symbol -> atomic fraction (dimensionless), normalised to 1, rounded to 10 decimals"
    )
    formula: str = Field(description="formula, elements alphabetical, e.g. 'Co0.2Fe0.2Ni0.2Pd0.2Pt0.2'")
    prototype: Prototype = Field(description="lattice prototype")
    elements: list[str] = Field(description="element symbols present, alphabetical")
    n_components: int = Field(description="number of elements present")
    campaign_id: str | None = Field(None, description="campaign that enumerated the candidate, if any")
    descriptors: dict[str, float] | None = Field(
        None, description="descriptor column -> value (units: see alloyscreen.descriptors), if computed"
    )
    feature_set: str | None = Field(None, description="name and version of the descriptors, e.g. 'alloyscreen-hea-v1'")

    @field_validator("composition", "descriptors")
    @classmethod
    def _no_dots_in_keys(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value and any("." in key or key.startswith("$") for key in value):
            raise ValueError("keys may not contain '.' or start with '$' (MongoDB field names)")
        return value

"""Documents of the ``labels`` collection: derived targets of a candidate, linked to their calculations."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from alloyscreen.schemas.base import Document


class LabelDocument(Document):
    """A derived target (mixing energy, hydrogen adsorption free energy ...) of one candidate."""

    candidate_id: str | None = Field(None, description="id of the candidate the label belongs to")
    property: str = Field(description="name of the target, e.g. mixing_energy_per_atom, delta_g_h")
    value: float | None = Field(None, description="value of the target, in `unit`")
    unit: str = Field(description="unit of `value`, e.g. eV/atom, eV")
    calculator: str | None = Field(None, description="calculator of the underlying calculations")
    calculation_ids: list[str] = Field(default_factory=list, description="calculations the value came from")
    reference_calculation_ids: list[str] = Field(
        default_factory=list, description="reference calculations (elements, H2, clean slab)"
    )
    details: dict[str, Any] | None = Field(
        None, description="extra data, e.g. the per-site distribution of a hydrogen adsorption label"
    )

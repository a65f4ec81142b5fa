"""``selections`` collection: a candidate chosen for validation, and why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alloyscreen.schemas.base import Document


class PropertyOutcome(BaseModel):
    """What a label Maker gave for one label property of one structure: its value and ids, or why it failed."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["completed", "failed"] = Field(description="completed, or failed with a reason")
    value: float | None = Field(None, description="the label's value (the property's units, e.g. eV/atom); None "
                                                   "if it failed")
    label_id: str | None = Field(None, description="id of the `labels` document")
    calculation_id: str | None = Field(None, description="id of the main `calculations` document (the structure's "
                                                         "own; the clean slab's for dG_H)")
    structure_id: str | None = Field(None, description="id of the `structures` document validated")
    core_hours: float | None = Field(None, ge=0, description="core-hours of the calculation(s) when first run, each "
                                                             "calculation counted once")
    reused: bool = Field(False, description="True when every calculation came from the cache")
    error: str | None = Field(None, description="why it failed, if it did")


class SelectionOutcome(BaseModel):
    """What validating a selected candidate gave, for this campaign: every label property's result, merged.

    Labels are shared between campaigns; this is the campaign's own link to them.
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["completed", "failed"] = Field(description="completed (every labelled property), or failed with "
                                                               "a reason")
    values: dict[str, float | None] = Field(default_factory=dict, description="label property -> value (its units), "
                                            "one entry per labelled objective of the campaign; None where it failed")
    label_ids: dict[str, str] = Field(default_factory=dict, description="label property -> id of its `labels` "
                                                                        "document")
    calculation_ids: dict[str, str] = Field(default_factory=dict, description="label property -> id of its main "
                                            "`calculations` document")
    structure_ids: dict[str, str] = Field(default_factory=dict, description="label property -> id of the "
                                          "`structures` document it validated (the bulk cell, or dG_H's slab)")
    core_hours: float | None = Field(None, ge=0, description="core-hours of the calculation(s) when first run, each "
                                                             "calculation counted once")
    reused: bool = Field(False, description="True when every calculation came from the cache")
    error: str | None = Field(None, description="why it failed, if it did (each failed property's reason)")

    def value_of(self, prop: str) -> float | None:
        """The value of label property ``prop`` (its units); None where it failed or was not labelled."""
        return self.values.get(prop)


class SelectionDocument(Document):
    """One candidate picked for a stage in a round, with the acquisition, the reason and the outcome."""

    campaign_id: str = Field(description="id of the campaign")
    stage: str = Field(description="fidelity stage the candidate was selected for (the spec's stage name)")
    round: int = Field(ge=0, description="active-learning round the candidate was selected in")
    candidate_id: str = Field(description="id of the `candidates` document")
    acquisition: str = Field(description="acquisition function, e.g. 'ucb', or 'random' for the baseline")
    score: float = Field(description="acquisition score of the candidate (higher is better)")
    batch_position: int = Field(ge=0, description="order in which the candidate entered the batch")
    batch_size: int | None = Field(None, ge=1, description="candidates chosen with it (a batch counts only when "
                                                           "all of them are stored)")
    reason: str = Field(description="why it was chosen, e.g. 'best score' or 'max-min distance 1.3 in slice'")
    model_id: str | None = Field(None, description="id of the `models` document used (None for random)")
    ranker_id: str | None = Field(None, description="id of the `models` document of the calibrated potential that "
                                                    "re-ranked the trees' top slice (None: the trees alone)")
    pareto_rank: int | None = Field(None, ge=0, description="non-dominated front (0 = Pareto front), multi-objective")
    outcome: SelectionOutcome | None = Field(None, description="validation outcome; None while in flight")

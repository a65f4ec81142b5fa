"""``selections`` collection: a candidate chosen for validation, and why."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alloyscreen.schemas.base import Document


class SelectionDocument(Document):
    """One candidate picked in a round's batch, with the acquisition and the reason."""

    collection: ClassVar[str] = "selections"

    campaign_id: str = Field(description="id of the campaign")
    round: int = Field(ge=0, description="active-learning round the candidate was selected in")
    candidate_id: str = Field(description="id of the `candidates` document")
    acquisition: str = Field(description="acquisition function, e.g. 'ucb', or 'random' for the baseline")
    score: float = Field(description="acquisition score of the candidate (higher is better)")
    batch_position: int = Field(ge=0, description="order in which the candidate entered the batch")
    reason: str = Field(description="why it was chosen, e.g. 'best score' or 'max-min distance 1.3 in slice'")
    model_id: str | None = Field(None, description="id of the `models` document used (None for random)")
    pareto_rank: int | None = Field(None, ge=0, description="non-dominated front (0 = Pareto front), multi-objective")

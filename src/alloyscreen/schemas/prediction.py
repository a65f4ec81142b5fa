"""``predictions`` collection: one candidate scored by one model in one campaign round."""

from __future__ import annotations

from pydantic import Field

from alloyscreen.schemas.base import Document


class PredictionDocument(Document):
    """Surrogate prediction and acquisition score of a candidate (the top slice of a round)."""

    campaign_id: str = Field(description="id of the campaign")
    round: int = Field(ge=0, description="active-learning round (0 = initial model)")
    model_id: str = Field(description="id of the `models` document that made the prediction")
    candidate_id: str = Field(description="id of the `candidates` document")
    target: str = Field(description="predicted property, e.g. 'mixing_energy_per_atom'")
    mean: float = Field(description="predicted mean (target units, e.g. eV/atom)")
    std: float | None = Field(None, ge=0, description="calibrated predictive standard deviation (target units)")
    acquisition: str = Field(description="acquisition function that produced `score`, e.g. 'ei'")
    score: float = Field(description="acquisition score (higher is better)")
    rank: int = Field(ge=0, description="0-based rank of the candidate among all scored candidates (by score; "
                                        "with several objectives by Pareto front)")
    pareto_front: int | None = Field(None, ge=0, description="front of the acquisition scores (0 = non-dominated), "
                                                             "multi-objective")
    objective_scores: list[float] | None = Field(None, description="acquisition score (utility for objectives known "
                                                                   "from the composition) per objective, in spec "
                                                                   "order, multi-objective")

"""The records a round leaves behind.

:func:`prediction_documents` turns the scored top slice into ``predictions``
documents and :func:`selection_documents` a selected batch into ``selections``
documents (streamed scoring itself: ``alloyscreen.campaign.round.scoring``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloyscreen.hashing import content_hash
from alloyscreen.schemas.prediction import PredictionDocument
from alloyscreen.schemas.provenance import Provenance
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.selection import Batch


@dataclass
class Scored:
    """Scored candidates, one entry per candidate; with several objectives also fronts and per-objective scores."""

    candidate_ids: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    score: np.ndarray
    fronts: np.ndarray | None = None
    objective_scores: np.ndarray | None = None

    def order(self) -> np.ndarray:
        """Return indices by decreasing score (NaN last), or by front (in the given order within a front)."""
        if self.fronts is not None:
            return np.argsort(self.fronts, kind="stable")
        return np.argsort(np.where(np.isnan(self.score), -np.inf, -self.score), kind="stable")


def prediction_documents(
    scored: Scored,
    campaign_id: str,
    round_: int,
    model_id: str,
    target: str,
    acquisition: str,
    top: int = 1000,
    provenance: Provenance | None = None,
) -> list[PredictionDocument]:
    """Return ``predictions`` documents for the ``top`` best-scored candidates, ranked, sharing one provenance."""
    provenance = provenance or Provenance()
    order = scored.order()[:top]
    fronts = [None] * len(order) if scored.fronts is None else scored.fronts[order].tolist()
    objective_scores = [None] * len(order) if scored.objective_scores is None else \
        scored.objective_scores[order].tolist()
    return [
        PredictionDocument(
            id=content_hash(
                {"campaign_id": campaign_id, "round": round_, "model_id": model_id, "candidate_id": str(cid)}
            ),
            campaign_id=campaign_id,
            round=round_,
            model_id=model_id,
            candidate_id=str(cid),
            target=target,
            mean=float(mean),
            std=float(std),
            acquisition=acquisition,
            score=float(score),
            rank=rank,
            pareto_front=front,
            objective_scores=per_objective,
            provenance=provenance,
        )
        for rank, (cid, mean, std, score, front, per_objective) in enumerate(
            zip(
                scored.candidate_ids[order],
                scored.mean[order],
                scored.std[order],
                scored.score[order],
                fronts,
                objective_scores,
                strict=True,
            )
        )
    ]


def selection_id(campaign_id: str, stage: str, round_: int, candidate_id: str) -> str:
    """Return the content id of the selection of ``candidate_id`` for ``stage`` in a round."""
    return content_hash({"campaign_id": campaign_id, "stage": stage, "round": round_, "candidate_id": candidate_id})


def selection_documents(
    batch: Batch,
    campaign_id: str,
    round_: int,
    acquisition: str,
    model_id: str | None,
    pareto_ranks=None,
    stage: str = "surrogate",
    provenance: Provenance | None = None,
    ranker_id: str | None = None,
) -> list[SelectionDocument]:
    """Return ``selections`` documents for a batch chosen for ``stage``, in its order, sharing one provenance."""
    provenance = provenance or Provenance()
    ranks = [None] * len(batch.indices) if pareto_ranks is None else [int(r) for r in pareto_ranks]
    return [
        SelectionDocument(
            id=selection_id(campaign_id, stage, round_, str(cid)),
            campaign_id=campaign_id,
            stage=stage,
            round=round_,
            candidate_id=str(cid),
            acquisition=acquisition,
            score=float(score),
            batch_position=position,
            batch_size=len(batch.indices),
            reason=reason,
            model_id=model_id,
            ranker_id=ranker_id,
            pareto_rank=rank,
            provenance=provenance,
        )
        for position, (cid, score, reason, rank) in enumerate(
            zip(batch.candidate_ids, batch.scores, batch.reasons, ranks, strict=True)
        )
    ]

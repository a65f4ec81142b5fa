"""Scoring a candidate space in chunks, and the records a round leaves behind.

:func:`score_chunks` streams ``(ids, X)`` chunks through a model and an acquisition
function (memory bounded by the chunk size); :func:`prediction_documents` turns the
top slice into ``predictions`` documents, :func:`selection_documents` a selected
batch into ``selections`` documents, and :func:`ranking_to_bytes` the full ranking
into one compressed columnar blob for GridFS.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from alloyscreen.hashing import content_hash
from alloyscreen.schemas.prediction import PredictionDocument
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.acquisition import Objective, acquisition_scores
from alloyscreen.surrogates.selection import Batch

RANKING_COLUMNS = ("candidate_ids", "mean", "std", "score")


@dataclass
class Scored:
    """Scores of a whole candidate space, one entry per candidate."""

    candidate_ids: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    score: np.ndarray

    def order(self) -> np.ndarray:
        """Return indices by decreasing score (NaN last)."""
        return np.argsort(np.where(np.isnan(self.score), -np.inf, -self.score), kind="stable")


def score_chunks(
    model,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    acquisition: str,
    objective: Objective,
    y_labelled=None,
    seed: int = 0,
    **options,
) -> Scored:
    """Score ``(candidate_ids, X)`` chunks with ``model`` and acquisition ``acquisition``.

    The same integer ``seed`` is used for every chunk, so Thompson sampling draws the
    same ensemble member for the whole space.
    """
    parts = []
    for ids, X in chunks:
        mean, std = model.predict(X, return_std=True)
        members = model.predict_members(X) if acquisition == "thompson" else None
        score = acquisition_scores(
            acquisition, objective, mean, std, members=members, y_labelled=y_labelled, rng=seed, **options
        )
        parts.append((np.asarray(ids), mean, std, score))
    if not parts:
        empty = np.empty(0)
        return Scored(np.empty(0, dtype=str), empty, empty, empty)
    return Scored(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def ranking_to_bytes(scored: Scored) -> bytes:
    """Return the full ranking (ids, mean, std, score in rank order) as a compressed ``.npz`` blob."""
    order = scored.order()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: getattr(scored, name)[order] for name in RANKING_COLUMNS})
    return buffer.getvalue()


def ranking_from_bytes(blob: bytes) -> Scored:
    """Read a ranking written by :func:`ranking_to_bytes` (already in rank order)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return Scored(*(data[name] for name in RANKING_COLUMNS))


def prediction_documents(
    scored: Scored,
    campaign_id: str,
    round_: int,
    model_id: str,
    target: str,
    acquisition: str,
    top: int = 1000,
) -> list[PredictionDocument]:
    """Return ``predictions`` documents for the ``top`` best-scored candidates, ranked."""
    order = scored.order()[:top]
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
        )
        for rank, (cid, mean, std, score) in enumerate(
            zip(
                scored.candidate_ids[order],
                scored.mean[order],
                scored.std[order],
                scored.score[order],
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
) -> list[SelectionDocument]:
    """Return ``selections`` documents for a batch chosen for ``stage``, in the order it was chosen."""
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
            reason=reason,
            model_id=model_id,
            pareto_rank=rank,
        )
        for position, (cid, score, reason, rank) in enumerate(
            zip(batch.candidate_ids, batch.scores, batch.reasons, ranks, strict=True)
        )
    ]

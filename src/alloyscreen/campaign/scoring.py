"""Score a whole candidate space in streamed chunks and keep its top slice.

Descriptors are computed chunk by chunk and dropped; only the scores of every
candidate (for the full ranking blob) and the descriptor rows of the best
``keep`` candidates stay in memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alloyscreen.candidates import CandidateSpace, candidate_id
from alloyscreen.descriptors import featurize

# (descriptor matrix, rows' stream positions) -> (mean, std, acquisition score) per row
Scorer = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class ScoredSlice:
    """The best-scored candidates of a space, best first, and the scores of all."""

    ids: list[str]
    compositions: list[dict[str, float]]
    prototypes: list[str]
    X: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    scores: np.ndarray
    all_scores: np.ndarray
    all_mean: np.ndarray

    def ranking_blob(self) -> bytes:
        """Return every candidate's score and mean, in stream order, as a compressed ``.npz``."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, score=self.all_scores, mean=self.all_mean)
        return buffer.getvalue()


def score_space(
    space: CandidateSpace, columns: list[str] | None, scorer: Scorer, keep: int, chunk_size: int = 65536,
    progress: Callable[[int], None] | None = None,
) -> ScoredSlice:
    """Featurize and score every candidate of ``space``; keep the ``keep`` best (NaN scores never kept)."""
    kept_scores = np.empty(0)
    kept: dict[str, list] = {"X": [], "mean": [], "std": [], "composition": [], "prototype": []}
    all_scores: list[np.ndarray] = []
    all_mean: list[np.ndarray] = []
    for chunk in space.iter_chunks(chunk_size):
        X = featurize(chunk.compositions(), columns).values
        positions = chunk.start + np.arange(len(chunk))
        mean, std, scores = scorer(X, positions)
        all_scores.append(scores.astype(np.float32))
        all_mean.append(mean.astype(np.float32))
        finite = np.flatnonzero(~np.isnan(scores))
        best = finite[np.argsort(-scores[finite], kind="stable")[:keep]]
        merged = np.concatenate([kept_scores, scores[best]])
        kept["X"] = [*kept["X"], *X[best]]
        kept["mean"] = [*kept["mean"], *mean[best]]
        kept["std"] = [*kept["std"], *std[best]]
        kept["composition"] = [*kept["composition"], *(chunk.composition(r) for r in best)]
        kept["prototype"] = [*kept["prototype"], *(str(chunk.prototypes[r]) for r in best)]
        order = np.argsort(-merged, kind="stable")[:keep]
        kept_scores = merged[order]
        kept = {name: [values[i] for i in order] for name, values in kept.items()}
        if progress is not None:
            progress(len(chunk))
    return ScoredSlice(
        ids=[candidate_id(c, p) for c, p in zip(kept["composition"], kept["prototype"], strict=True)],
        compositions=kept["composition"],
        prototypes=kept["prototype"],
        X=np.asarray(kept["X"]).reshape(len(kept_scores), -1),
        mean=np.asarray(kept["mean"], dtype=float),
        std=np.asarray(kept["std"], dtype=float),
        scores=kept_scores,
        all_scores=np.concatenate(all_scores) if all_scores else np.empty(0, np.float32),
        all_mean=np.concatenate(all_mean) if all_mean else np.empty(0, np.float32),
    )

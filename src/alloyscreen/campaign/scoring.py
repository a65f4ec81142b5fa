"""Score a whole candidate space in streamed chunks and keep its top slice.

Descriptors are computed chunk by chunk and dropped; only the scores of every
candidate (for the full ranking blob) and the descriptor rows of the best
``keep`` candidates stay in memory. A space can be split into shards (every
``count``-th chunk) so that several jobs score it at once; their slices merge
into the slice one job would have kept.

With several objectives a scorer returns one score column per objective and the
slice is the Pareto pool (:func:`alloyscreen.surrogates.pareto.pareto_pool`):
every candidate dominated by fewer than ``keep`` others, front by front.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from alloyscreen.candidates import CandidateSpace, candidate_id
from alloyscreen.descriptors import Compositions, featurize
from alloyscreen.surrogates.pareto import pareto_pool

# (compositions, descriptor matrix, rows' stream positions) -> (mean, std, acquisition score) per row;
# the score has shape (n,), or (n, m) with one column per objective
Scorer = Callable[[Compositions, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def best_rows(scores: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows worth keeping, best first, and their Pareto fronts.

    One score per row: the ``keep`` best finite scores (all on front 0).
    One column per objective: the Pareto pool of threshold ``keep``.
    """
    if scores.ndim == 2:
        return pareto_pool(scores, keep)
    finite = np.flatnonzero(~np.isnan(scores))
    rows = finite[np.argsort(-scores[finite], kind="stable")[:keep]]
    return rows, np.zeros(len(rows), dtype=int)


@dataclass
class ScoredSlice:
    """The best-scored candidates of a space (or shard), best first, and the scores of all.

    ``scores`` is ``(n,)``, or ``(n, m)`` with one column per objective; ``fronts``
    is the Pareto front of each kept candidate (all 0 with one score).
    """

    ids: list[str]
    compositions: list[dict[str, float]]
    prototypes: list[str]
    X: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    scores: np.ndarray
    fronts: np.ndarray
    all_positions: np.ndarray
    all_scores: np.ndarray
    all_mean: np.ndarray

    def ranking_blob(self) -> bytes:
        """Return every candidate's stream position, score and mean as a compressed ``.npz``."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, position=self.all_positions, score=self.all_scores, mean=self.all_mean)
        return buffer.getvalue()

    def to_bytes(self) -> bytes:
        """Serialise the slice (``.npz``; compositions as JSON) for another job to merge."""
        buffer = io.BytesIO()
        # Any: numpy's stub types savez_compressed's **kwds beside allow_pickle: bool
        arrays: dict[str, Any] = {
            f.name: np.asarray(getattr(self, f.name)) for f in fields(self) if f.name != "compositions"
        }
        np.savez_compressed(buffer, compositions=np.array(json.dumps(self.compositions)), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ScoredSlice:
        """Read a slice written by :meth:`to_bytes`."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            values = {name: data[name] for name in data.files}
        return cls(**{**values, "ids": values["ids"].tolist(), "prototypes": values["prototypes"].tolist(),
                      "compositions": json.loads(str(values["compositions"]))})

    @classmethod
    def merge(cls, slices: list[ScoredSlice], keep: int) -> ScoredSlice:
        """Merge shard slices into the slice one job would have kept (ties broken by stream order of the shards)."""
        slices = [s for s in slices if len(s.all_positions)] or slices[:1]  # a shard of no chunk has nothing
        scores = np.concatenate([s.scores for s in slices])
        order, fronts = best_rows(scores, keep)
        flat = {name: [item for s in slices for item in getattr(s, name)] for name in ("ids", "compositions",
                                                                                          "prototypes")}
        width = next((s.X.shape[1] for s in slices if s.X.size), 0)
        X = np.concatenate([s.X.reshape(len(s.ids), width) for s in slices])
        positions = np.concatenate([s.all_positions for s in slices])
        stream = np.argsort(positions, kind="stable")
        return cls(
            ids=[flat["ids"][i] for i in order], compositions=[flat["compositions"][i] for i in order],
            prototypes=[flat["prototypes"][i] for i in order], X=X[order],
            mean=np.concatenate([s.mean for s in slices])[order], std=np.concatenate([s.std for s in slices])[order],
            scores=scores[order], fronts=fronts, all_positions=positions[stream],
            all_scores=np.concatenate([s.all_scores for s in slices])[stream],
            all_mean=np.concatenate([s.all_mean for s in slices])[stream],
        )


def score_space(
    space: CandidateSpace, columns: list[str] | None, scorer: Scorer, keep: int, chunk_size: int = 65536,
    progress: Callable[[int], None] | None = None, shard: tuple[int, int] = (0, 1),
) -> ScoredSlice:
    """Featurize and score the candidates of ``space`` (shard ``index`` of ``count``: every count-th chunk).

    Keep the ``keep`` best (see :func:`best_rows`); NaN scores are never kept.
    """
    index, count = shard
    kept_scores: np.ndarray | None = None
    kept_fronts = np.empty(0, dtype=int)
    kept: dict[str, list] = {"X": [], "mean": [], "std": [], "composition": [], "prototype": []}
    all_positions: list[np.ndarray] = []
    all_scores: list[np.ndarray] = []
    all_mean: list[np.ndarray] = []
    for number, chunk in enumerate(space.iter_chunks(chunk_size)):
        if number % count != index:
            continue
        comps = chunk.compositions()
        X = featurize(comps, columns).values
        positions = chunk.start + np.arange(len(chunk))
        mean, std, scores = scorer(comps, X, positions)
        all_positions.append(positions)
        all_scores.append(scores.astype(np.float32))
        all_mean.append(mean.astype(np.float32))
        best, _ = best_rows(scores, keep)
        merged = scores[best] if kept_scores is None else np.concatenate([kept_scores, scores[best]])
        kept["X"] = [*kept["X"], *X[best]]
        kept["mean"] = [*kept["mean"], *mean[best]]
        kept["std"] = [*kept["std"], *std[best]]
        kept["composition"] = [*kept["composition"], *(chunk.composition(r) for r in best)]
        kept["prototype"] = [*kept["prototype"], *(str(chunk.prototypes[r]) for r in best)]
        order, kept_fronts = best_rows(merged, keep)
        kept_scores = merged[order]
        kept = {name: [values[i] for i in order] for name, values in kept.items()}
        if progress is not None:
            progress(len(chunk))

    def joined(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype)

    return ScoredSlice(
        ids=[candidate_id(c, p) for c, p in zip(kept["composition"], kept["prototype"], strict=True)],
        compositions=kept["composition"],
        prototypes=kept["prototype"],
        X=np.asarray(kept["X"]) if kept["X"] else np.empty((0, 0)),
        mean=np.asarray(kept["mean"], dtype=float),
        std=np.asarray(kept["std"], dtype=float),
        scores=np.empty(0) if kept_scores is None else kept_scores,
        fronts=kept_fronts,
        all_positions=joined(all_positions, np.int64),
        all_scores=joined(all_scores, np.float32),
        all_mean=joined(all_mean, np.float32),
    )

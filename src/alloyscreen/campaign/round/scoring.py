"""Score a whole candidate space in streamed chunks and keep its top slice.

Descriptors are computed chunk by chunk and dropped; only the descriptor rows
of the best ``keep`` candidates and a fixed-size :class:`Summary` of all of
them stay in memory, whatever the size of the space. Every candidate's score
(the full :class:`Ranking`) is kept too while the space holds at most the
setting ``full_ranking_max`` candidates. A space can be split into shards
(:meth:`alloyscreen.candidates.CandidateSpace.iter_chunks`) so that several
jobs score it at once; their slices merge exactly into the slice one job would
have kept.

With several objectives a scorer returns one score column per objective and the
slice is the Pareto pool (:func:`alloyscreen.surrogates.pareto.pareto_pool`):
every candidate dominated by fewer than ``keep`` others, front by front.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from alloyscreen.candidates import CandidateChunk, CandidateSpace, candidate_id
from alloyscreen.descriptors import Compositions, featurize
from alloyscreen.settings import get_settings
from alloyscreen.surrogates.pareto import pareto_pool

# (compositions, descriptor matrix, rows' stream positions) -> (mean, std, acquisition score) per row;
# the score has shape (n,), or (n, m) with one column per objective
Scorer = Callable[[Compositions, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]

BINS = 1 << 16  # histogram buckets: the top 16 bits of a float32 (sign, exponent, 7 mantissa bits)
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_TOP_ARRAYS = ("ids", "prototypes", "X", "mean", "std", "scores", "fronts", "positions")


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


def _buckets(values: np.ndarray) -> np.ndarray:
    """Histogram bucket of each finite value, in the order of the values (sign-folded float32 bits, top 16)."""
    bits = values.astype(np.float32).view(np.uint32)
    ordered = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))
    return (ordered >> 16).astype(np.int64)


def _bucket_middle(bucket: int) -> float:
    """The middle of the float32 values in a histogram bucket."""
    ordered = np.array([bucket << 16, (bucket << 16) | 0xFFFF], dtype=np.uint32)
    bits = np.where(ordered >> 31 == 1, ordered & np.uint32(0x7FFFFFFF), ~ordered)
    return float(bits.view(np.float32).astype(float).mean())


@dataclass
class Summary:
    """A fixed-size summary of value columns over scored candidates; shards' summaries add up exactly.

    Per column: the number of finite values, their exact minimum, maximum and
    sum (chunk sums added as fractions, without rounding) and a histogram of
    their float32 bit patterns in ``BINS`` buckets, so that a quantile is
    within 2**-8 of the true one (relative). ``rows`` counts every candidate.
    """

    names: list[str]
    rows: int
    count: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    total: list[Fraction]
    histogram: np.ndarray

    @classmethod
    def empty(cls, names: Sequence[str]) -> Summary:
        """A summary of no candidate with columns ``names``."""
        n = len(names)
        return cls(list(names), 0, np.zeros(n, dtype=np.int64), np.full(n, np.inf), np.full(n, -np.inf),
                   [Fraction(0)] * n, np.zeros((n, BINS), dtype=np.int64))

    def add(self, values: np.ndarray) -> None:
        """Count the rows of ``values`` (one column per name); NaN and infinite values count only as rows."""
        self.rows += len(values)
        for column in range(len(self.names)):
            finite = values[np.isfinite(values[:, column]), column]
            if finite.size:
                self.count[column] += finite.size
                self.minimum[column] = min(self.minimum[column], finite.min())
                self.maximum[column] = max(self.maximum[column], finite.max())
                self.total[column] += Fraction(float(finite.sum(dtype=np.float64)))
                self.histogram[column] += np.bincount(_buckets(finite), minlength=BINS)

    @classmethod
    def merge(cls, summaries: list[Summary]) -> Summary:
        """The summary of the candidates of all ``summaries`` (equal to the one of a single stream)."""
        merged = cls.empty(summaries[0].names)
        for summary in summaries:
            merged.rows += summary.rows
            merged.count += summary.count
            merged.minimum = np.minimum(merged.minimum, summary.minimum)
            merged.maximum = np.maximum(merged.maximum, summary.maximum)
            merged.total = [a + b for a, b in zip(merged.total, summary.total, strict=True)]
            merged.histogram += summary.histogram
        return merged

    def describe(self, name: str, quantiles: Sequence[float] = QUANTILES) -> dict[str, Any]:
        """Count, min, mean, max and quantiles (``p1`` ... ``p99``) of column ``name``; None without a value."""
        column = self.names.index(name)
        count = int(self.count[column])
        keys = [f"p{round(100 * q):g}" for q in quantiles]
        if count == 0:
            return {"count": 0, "min": None, "mean": None, "max": None, **dict.fromkeys(keys)}
        low, high = float(self.minimum[column]), float(self.maximum[column])
        cumulative = np.cumsum(self.histogram[column])
        values = [float(np.clip(_bucket_middle(int(np.searchsorted(cumulative, q * (count - 1), side="right"))),
                                low, high)) for q in quantiles]
        return {"count": count, "min": low, "mean": float(self.total[column] / count), "max": high,
                **dict(zip(keys, values, strict=True))}

    def arrays(self) -> dict[str, np.ndarray]:
        """The summary as ``summary_*`` arrays of an ``.npz`` (sums as exact fraction strings)."""
        return {"summary_names": np.array(self.names, dtype=str), "summary_rows": np.array(self.rows),
                "summary_count": self.count, "summary_minimum": self.minimum, "summary_maximum": self.maximum,
                "summary_total": np.array([str(t) for t in self.total], dtype=str),
                "summary_histogram": self.histogram}

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> Summary:
        """Read a summary written by :meth:`arrays`."""
        return cls(data["summary_names"].tolist(), int(data["summary_rows"]), data["summary_count"],
                   data["summary_minimum"], data["summary_maximum"],
                   [Fraction(str(t)) for t in data["summary_total"]], data["summary_histogram"])


@dataclass
class Ranking:
    """Every scored candidate's stream position, score and predicted mean (float32), in stream order.

    ``score`` and ``mean`` have one column per objective and per labelled objective where there are several.
    """

    position: np.ndarray
    score: np.ndarray
    mean: np.ndarray

    @classmethod
    def join(cls, parts: list[Ranking]) -> Ranking:
        """One ranking of the candidates of ``parts`` (chunks or shards), in stream order."""
        if not parts:
            return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32), np.empty(0, dtype=np.float32))
        position = np.concatenate([p.position for p in parts])
        order = np.argsort(position, kind="stable")
        return cls(position[order], np.concatenate([p.score for p in parts])[order],
                   np.concatenate([p.mean for p in parts])[order])

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The ranking as arrays ``position``, ``score`` and ``mean`` (after ``prefix``)."""
        return {f"{prefix}position": self.position, f"{prefix}score": self.score, f"{prefix}mean": self.mean}


@dataclass
class ScoredSlice:
    """The best-scored candidates of a space (or shard), best first, and a summary of all.

    ``scores`` is ``(n,)``, or ``(n, m)`` with one column per objective
    (``mean`` and ``std``: one column per labelled objective); ``fronts``
    is the Pareto front of each kept candidate (all 0 with one score) and
    ``positions`` its place in the space's stream. ``summary`` covers every
    scored candidate (columns ``mean`` and ``score``, or ``score 0``, ``score 1``,
    ...); ``ranking`` holds every candidate's score, or is None for a space above
    the full-ranking threshold.
    """

    ids: list[str]
    compositions: list[dict[str, float]]
    prototypes: list[str]
    X: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    scores: np.ndarray
    fronts: np.ndarray
    positions: np.ndarray
    summary: Summary
    ranking: Ranking | None

    def ranking_blob(self) -> bytes:
        """Return the summary and, below the threshold, every candidate's position, score and mean (``.npz``)."""
        return _npz({**self.summary.arrays(), **(self.ranking.arrays() if self.ranking else {})})

    def to_bytes(self) -> bytes:
        """Serialise the slice (``.npz``; compositions as JSON) for another job to merge."""
        return _npz({"compositions": np.array(json.dumps(self.compositions)),
                     **{name: np.asarray(getattr(self, name)) for name in _TOP_ARRAYS}, **self.summary.arrays(),
                     **(self.ranking.arrays("ranking_") if self.ranking else {})})

    @classmethod
    def from_bytes(cls, blob: bytes) -> ScoredSlice:
        """Read a slice written by :meth:`to_bytes`."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            values = {name: data[name] for name in data.files}
        ranking = (Ranking(values["ranking_position"], values["ranking_score"], values["ranking_mean"])
                   if "ranking_position" in values else None)
        top = {name: values[name] for name in _TOP_ARRAYS}
        return cls(**{**top, "ids": top["ids"].tolist(), "prototypes": top["prototypes"].tolist()},
                   compositions=json.loads(str(values["compositions"])), summary=Summary.from_arrays(values),
                   ranking=ranking)

    @classmethod
    def merge(cls, slices: list[ScoredSlice], keep: int) -> ScoredSlice:
        """Merge shard slices into the slice one job would have kept: the same rows in the same order.

        The ranking is kept only when every shard kept its own.
        """
        slices = [s for s in slices if s.summary.rows] or slices[:1]  # a shard of no chunk has nothing
        positions = np.concatenate([s.positions for s in slices])
        stream = np.argsort(positions, kind="stable")  # ties are broken by stream order, as one job breaks them
        scores = np.concatenate([s.scores for s in slices])[stream]
        order, fronts = best_rows(scores, keep)
        rows = stream[order]
        flat = {name: [item for s in slices for item in getattr(s, name)] for name in ("ids", "compositions",
                                                                                          "prototypes")}
        width = next((s.X.shape[1] for s in slices if s.X.size), 0)
        X = np.concatenate([s.X.reshape(len(s.ids), width) for s in slices])
        return cls(
            ids=[flat["ids"][i] for i in rows], compositions=[flat["compositions"][i] for i in rows],
            prototypes=[flat["prototypes"][i] for i in rows], X=X[rows],
            mean=np.concatenate([s.mean for s in slices])[rows], std=np.concatenate([s.std for s in slices])[rows],
            scores=scores[order], fronts=fronts, positions=positions[rows],
            summary=Summary.merge([s.summary for s in slices]),
            ranking=Ranking.join([s.ranking for s in slices if s.ranking is not None])
            if all(s.ranking is not None for s in slices) else None,
        )


def _npz(arrays: dict[str, Any]) -> bytes:
    """Named arrays as the bytes of a compressed ``.npz``."""
    buffer = io.BytesIO()
    # Any: numpy's stub types savez_compressed's **kwds beside allow_pickle: bool
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _summary_names(mean: np.ndarray, scores: np.ndarray) -> list[str]:
    """Summary columns: the predicted mean, then the score (``mean 0``, ``score 0``, ... with several)."""
    means = ["mean"] if mean.ndim == 1 else [f"mean {k}" for k in range(mean.shape[1])]
    return [*means, *(["score"] if scores.ndim == 1 else [f"score {k}" for k in range(scores.shape[1])])]


class SliceKeeper:
    """What scoring keeps of a stream of scored chunks: the best ``keep`` rows, the summary, maybe the ranking.

    Memory is bounded by ``keep`` unless ``full_ranking`` (every candidate's score) is asked for.
    """

    def __init__(self, keep: int, full_ranking: bool):
        self.keep = keep
        self.parts: list[Ranking] | None = [] if full_ranking else None
        self.summary: Summary | None = None
        self.scores: np.ndarray | None = None
        self.labelled: tuple[int, ...] = ()  # shape of a row's mean and std: () or (labelled objectives,)
        self.fronts = np.empty(0, dtype=int)
        self.rows: dict[str, list] = {"X": [], "mean": [], "std": [], "composition": [], "prototype": [],
                                      "position": []}

    def add(self, chunk: CandidateChunk, X: np.ndarray, mean: np.ndarray, std: np.ndarray,
            scores: np.ndarray) -> None:
        """Keep what is worth keeping of one scored chunk (descriptors ``X``, predictions, scores)."""
        positions = chunk.start + np.arange(len(chunk))
        if self.summary is None:
            self.summary = Summary.empty(_summary_names(mean, scores))
            self.labelled = mean.shape[1:]
        self.summary.add(np.column_stack([mean, scores]))
        if self.parts is not None:
            self.parts.append(Ranking(positions, scores.astype(np.float32), mean.astype(np.float32)))
        best, _ = best_rows(scores, self.keep)
        merged = scores[best] if self.scores is None else np.concatenate([self.scores, scores[best]])
        new = {"X": X[best], "mean": mean[best], "std": std[best], "position": positions[best],
               "composition": [chunk.composition(r) for r in best],
               "prototype": [str(chunk.prototypes[r]) for r in best]}
        order, self.fronts = best_rows(merged, self.keep)
        self.scores = merged[order]
        for name, values in self.rows.items():
            joined = [*values, *new[name]]
            self.rows[name] = [joined[i] for i in order]

    def slice(self) -> ScoredSlice:
        """The slice kept so far."""
        kept = self.rows
        return ScoredSlice(
            ids=[candidate_id(c, p) for c, p in zip(kept["composition"], kept["prototype"], strict=True)],
            compositions=kept["composition"],
            prototypes=kept["prototype"],
            X=np.asarray(kept["X"]) if kept["X"] else np.empty((0, 0)),
            mean=np.asarray(kept["mean"], dtype=float).reshape(len(kept["mean"]), *self.labelled),
            std=np.asarray(kept["std"], dtype=float).reshape(len(kept["std"]), *self.labelled),
            scores=np.empty(0) if self.scores is None else self.scores,
            fronts=self.fronts,
            positions=np.asarray(kept["position"], dtype=np.int64),
            summary=Summary.empty([]) if self.summary is None else self.summary,
            ranking=None if self.parts is None else Ranking.join(self.parts),
        )


def score_space(
    space: CandidateSpace, columns: list[str] | None, scorer: Scorer, keep: int, chunk_size: int = 65536,
    progress: Callable[[int], None] | None = None, shard: tuple[int, int] = (0, 1), full_ranking: int | None = None,
) -> ScoredSlice:
    """Featurize and score the candidates of ``space`` (or of its shard ``(index, count)``).

    Keep the ``keep`` best (see :func:`best_rows`; NaN scores are never kept)
    and a summary of all; keep every candidate's score too when the space holds
    at most ``full_ranking`` candidates (default: the setting ``full_ranking_max``).
    """
    limit = get_settings().full_ranking_max if full_ranking is None else full_ranking
    keeper = SliceKeeper(keep, space.size <= limit)
    for chunk in space.iter_chunks(chunk_size, shard):
        comps = chunk.compositions()
        X = featurize(comps, columns, chunk.descriptors).values
        keeper.add(chunk, X, *scorer(comps, X, chunk.start + np.arange(len(chunk))))
        if progress is not None:
            progress(len(chunk))
    return keeper.slice()

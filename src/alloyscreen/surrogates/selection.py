"""Batch selection: the best-scored candidates, spread out in descriptor space.

Candidates already labelled or in flight (submitted, not yet labelled) are never
selected. The diversity step works on the *top slice* (``pool_factor`` x batch
size best scores): ``maxmin`` starts from the best score and greedily adds the
candidate farthest (standardised Euclidean distance) from those already chosen;
``kmeans`` clusters the slice into ``batch_size`` clusters and takes the best
score of each; ``none`` takes the top scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from alloyscreen.errors import AlloyscreenError

DIVERSITY_METHODS = ("kmeans", "maxmin", "none")


@dataclass
class Batch:
    """Chosen candidates in the order they entered the batch."""

    indices: np.ndarray
    candidate_ids: np.ndarray
    scores: np.ndarray
    reasons: list[str]


def _standardised(X: np.ndarray) -> np.ndarray:
    scale = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _maxmin(Z: np.ndarray, k: int, chosen_before: np.ndarray | None = None) -> tuple[list[int], list[str]]:
    """Greedy max-min picks among the rows of ``Z`` (best first): row 0, or the farthest from ``chosen_before``."""
    if chosen_before is None or len(chosen_before) == 0:
        chosen, reasons = [0], ["best score"]
        nearest = np.linalg.norm(Z - Z[0], axis=1)
        k -= 1
    else:
        chosen, reasons = [], []
        nearest = np.min([np.linalg.norm(Z - z, axis=1) for z in chosen_before], axis=0)
    for _ in range(k):
        nearest[chosen] = -np.inf
        j = int(np.argmax(nearest))
        chosen.append(j)
        reasons.append(f"farthest from the batch (distance {nearest[j]:.3g})")
        nearest = np.minimum(nearest, np.linalg.norm(Z - Z[j], axis=1))
    return chosen, reasons


def _kmeans(Z: np.ndarray, k: int, seed: int) -> tuple[list[int], list[str]]:
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(Z)
    # the slice is sorted by score, so the first index of each cluster is its best
    clusters, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    return first[order].tolist(), [f"best score of k-means cluster {c}" for c in clusters[order]]


def _validated(ids, X, size: int, diversity: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    if diversity not in DIVERSITY_METHODS:
        raise AlloyscreenError(f"unknown diversity method {diversity!r}; allowed: {', '.join(DIVERSITY_METHODS)}")
    if batch_size < 1:
        raise AlloyscreenError(f"batch_size must be >= 1, got {batch_size}")
    ids, X = np.asarray(ids), np.asarray(X, dtype=float)
    if not size == ids.shape[0] == X.shape[0]:
        raise AlloyscreenError(f"{size} scores, {ids.shape[0]} ids and {X.shape[0]} descriptor rows differ")
    return ids, X


def _skipped(ids: np.ndarray, exclude_ids: Iterable) -> np.ndarray:
    excluded = np.asarray(list(exclude_ids))
    return np.isin(ids, excluded) if excluded.size else np.zeros(ids.shape[0], dtype=bool)


def select_batch(
    scores,
    X,
    candidate_ids,
    batch_size: int,
    exclude_ids: Iterable = (),
    diversity: str = "maxmin",
    pool_factor: float = 5.0,
    seed: int = 0,
) -> Batch:
    """Select ``batch_size`` candidates by score with diversity in descriptor space.

    Parameters
    ----------
    scores
        Acquisition scores, higher is better, shape ``(n,)``; NaN is never selected.
    X
        Descriptor matrix ``(n, d)`` of the same candidates.
    candidate_ids
        Candidate ids ``(n,)``.
    batch_size
        Number to select (fewer if fewer are available).
    exclude_ids
        Ids of labelled and in-flight candidates, skipped.
    diversity
        ``"maxmin"``, ``"kmeans"`` or ``"none"``.
    pool_factor
        Size of the top slice diversity works on, as a multiple of ``batch_size``.
    seed
        Seed of k-means.
    """
    if pool_factor < 1:
        raise AlloyscreenError(f"pool_factor must be >= 1, got {pool_factor}")
    scores = np.asarray(scores, dtype=float)
    ids, X = _validated(candidate_ids, X, scores.shape[0], diversity, batch_size)
    available = np.flatnonzero(~np.isnan(scores) & ~_skipped(ids, exclude_ids))
    pool_size = min(available.size, math.ceil(pool_factor * batch_size) if diversity != "none" else batch_size)
    if pool_size == 0:
        return Batch(np.empty(0, dtype=int), ids[:0], scores[:0], [])
    top = available[np.argpartition(-scores[available], pool_size - 1)[:pool_size]]
    pool = top[np.argsort(-scores[top], kind="stable")]
    k = min(batch_size, pool.size)
    if diversity == "none" or k == pool.size:
        picked, reasons = list(range(k)), [f"rank {r} by score" for r in range(k)]
    elif diversity == "maxmin":
        picked, reasons = _maxmin(_standardised(X[pool]), k)
    else:
        picked, reasons = _kmeans(_standardised(X[pool]), k, seed)
    chosen = pool[np.asarray(picked, dtype=int)]
    slice_note = f" (top-{pool.size} slice)"
    return Batch(chosen, ids[chosen], scores[chosen], [r + slice_note for r in reasons])


def select_pareto_batch(
    fronts,
    scores,
    X,
    candidate_ids,
    batch_size: int,
    exclude_ids: Iterable = (),
    diversity: str = "maxmin",
    seed: int = 0,
) -> tuple[Batch, np.ndarray]:
    """Select ``batch_size`` candidates front by front from a pool ordered best first.

    Whole fronts enter while they fit; in the first front that does not fit,
    ``maxmin`` picks the candidates farthest (in descriptor space) from the batch
    so far, ``kmeans`` the best of each cluster, ``none`` the first in pool order.
    ``scores`` (e.g. the learned objective's acquisition score) are recorded in
    ``Batch.scores`` and decide nothing; the fronts are returned beside the batch.
    """
    fronts = np.asarray(fronts, dtype=int)
    scores = np.asarray(scores, dtype=float)
    ids, X = _validated(candidate_ids, X, fronts.shape[0], diversity, batch_size)
    available = np.flatnonzero(~_skipped(ids, exclude_ids))
    Z = _standardised(X[available]) if available.size else X[available]
    chosen: list[int] = []  # positions in `available`
    reasons: list[str] = []
    for front in np.unique(fronts[available]):
        members = np.flatnonzero(fronts[available] == front)
        room = batch_size - len(chosen)
        if members.size <= room:
            chosen += members.tolist()
            reasons += [f"Pareto front {front} (all {members.size} of it)"] * members.size
        else:
            if diversity == "maxmin":
                picked, why = _maxmin(Z[members], room, Z[chosen])
            elif diversity == "kmeans":
                picked, why = _kmeans(Z[members], room, seed)
            else:
                picked, why = list(range(room)), [f"rank {r} in pool order" for r in range(room)]
            chosen += members[picked].tolist()
            reasons += [f"Pareto front {front} ({members.size} candidates): {w}" for w in why]
        if len(chosen) >= batch_size:
            break
    rows = available[np.asarray(chosen, dtype=int)]
    return Batch(rows, ids[rows], scores[rows], reasons), fronts[rows]


def select_stratified(X, candidate_ids, batch_size: int, exclude_ids: Iterable = (), variance: float = 0.95,
                      seed: int = 0) -> Batch:
    """DIRECT-style initial design: one candidate from each of ``batch_size`` clusters of the descriptor space.

    The descriptors are standardised and reduced by PCA to the components that
    explain ``variance`` of it, clustered by k-means, and each cluster gives its
    candidate nearest the centre (Qi et al., npj Comput. Mater. 10, 43 (2024):
    DImensionality-Reduced Encoded Clusters with sTratified sampling). Scores are
    minus the distance to the centre (reduced units).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    ids, X = _validated(candidate_ids, X, np.shape(X)[0], "none", batch_size)
    available = np.flatnonzero(~_skipped(ids, exclude_ids))
    k = min(batch_size, available.size)
    if k == 0:
        return Batch(np.empty(0, dtype=int), ids[:0], np.empty(0), [])
    Z = _standardised(X[available])
    reduced = PCA(n_components=variance, svd_solver="full").fit_transform(Z) if min(Z.shape) > 1 else Z
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(reduced)
    distance = np.linalg.norm(reduced - kmeans.cluster_centers_[kmeans.labels_], axis=1)
    picked = [int(np.flatnonzero(kmeans.labels_ == c)[np.argmin(distance[kmeans.labels_ == c])]) for c in range(k)]
    rows = available[picked]
    reasons = [f"nearest the centre of k-means cluster {c} of {k} ({reduced.shape[1]} principal components, "
               f"{int(np.sum(kmeans.labels_ == c))} candidates)" for c in range(k)]
    return Batch(rows, ids[rows], -distance[picked], reasons)

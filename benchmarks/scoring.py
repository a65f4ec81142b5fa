"""Scoring throughput of the tree ensembles: rows/s on 1e6 candidates, one thread and all threads.

Prints JSON. The ensembles (default hyperparameters: 5 members of depth 4; 150 trees
for XGBoost, 300 for CatBoost) are trained on ``--train-rows`` (2000) synthetic rows; scoring streams
over ``--rows`` candidates in chunks of ``--chunk`` rows (float32, ``--columns``
wide, a realistic descriptor width) and computes mean and std per candidate. Chunk generation is not timed.

Keeping a round's slice is timed beside it, as scoring streams it: the best
``--keep`` of one score (one objective) against the Pareto pool of two score
columns (two objectives, independent or anti-correlated, the hard case), merged
chunk by chunk (:func:`alloyscreen.campaign.round.scoring.best_rows`).

    python benchmarks/scoring.py [--rows 1000000] [--columns 150] [--chunk 100000] [--keep 220] [--quick]

``--quick`` (a check of the script, not a figure): 20000 rows of 30 columns in chunks of
5000, keep 20, ensembles trained on 300 rows, in a throwaway data directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from scratch import scratch_database

from alloyscreen.campaign.round.scoring import best_rows
from alloyscreen.surrogates.ensemble import EnsembleRegressor


def score_rate(model: EnsembleRegressor, chunk: np.ndarray, rows: int, n_jobs: int) -> float:
    """Return rows/s for scoring ``rows`` candidates (mean and std) in chunks of ``chunk``."""
    model.set_params(n_jobs=n_jobs)
    model.predict(chunk[:1000], return_std=True)  # warm up
    done, elapsed = 0, 0.0
    while done < rows:
        block = chunk[: min(chunk.shape[0], rows - done)]
        start = time.perf_counter()
        mean, std = model.predict(block, return_std=True)
        elapsed += time.perf_counter() - start
        assert mean.shape == std.shape == (block.shape[0],)
        done += block.shape[0]
    return done / elapsed


def keep_rate(scores: np.ndarray, keep: int, chunk: int) -> tuple[float, int]:
    """Return rows/s for keeping the slice of ``scores`` streamed in chunks, and the size of the slice kept."""
    kept = scores[:0]
    start = time.perf_counter()
    for first in range(0, len(scores), chunk):
        block = scores[first:first + chunk]
        candidates = np.concatenate([kept, block[best_rows(block, keep)[0]]])
        kept = candidates[best_rows(candidates, keep)[0]]
    return len(scores) / (time.perf_counter() - start), len(kept)


def slice_rates(rows: int, chunk: int, keep: int) -> list[dict]:
    """Rows/s of keeping one objective's top slice and two objectives' Pareto pool."""
    rng = np.random.default_rng(1)
    cases = {"one objective": rng.normal(size=rows)}
    for name, correlation in (("two objectives, independent", 0.0), ("two objectives, anti-correlated", -0.9)):
        cases[name] = rng.multivariate_normal([0, 0], [[1, correlation], [correlation, 1]], size=rows)
    results = []
    for name, scores in cases.items():
        rate, kept = keep_rate(scores, keep, chunk)
        results.append({"case": name, "rows": rows, "keep": keep, "kept": kept, "rows_per_s": round(rate)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=150)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--learners", nargs="+", default=["xgboost", "catboost"])
    parser.add_argument("--keep", type=int, default=220, help="slice kept per round (keep_top 200 + pool + labels)")
    parser.add_argument("--train-rows", type=int, default=2000, help="synthetic rows the ensembles are trained on")
    parser.add_argument("--quick", action="store_true",
                        help="20000 rows, 30 columns, chunks of 5000, keep 20, 300 training rows; throwaway data dir")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(rows=20_000, columns=30, chunk=5000, keep=20, train_rows=300)  # explicit ones still count
        args = parser.parse_args()
        with scratch_database("scoring"):
            run(args)
    else:
        run(args)


def run(args) -> None:
    """Print the benchmark's JSON."""
    rng = np.random.default_rng(0)
    n_train = args.train_rows
    X_train = rng.random((n_train, args.columns))
    y_train = X_train[:, :10] @ rng.normal(size=10) + np.sin(6 * X_train[:, 10]) + 0.05 * rng.normal(size=n_train)
    chunk = rng.random((min(args.chunk, args.rows), args.columns)).astype(np.float32)
    all_threads = os.cpu_count() or 1
    results = []
    for learner in args.learners:
        start = time.perf_counter()
        model = EnsembleRegressor(learner=learner, n_jobs=all_threads).fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        for n_jobs in sorted({1, all_threads}):
            results.append(
                {
                    "learner": learner,
                    "threads": n_jobs,
                    "rows": args.rows,
                    "rows_per_s": round(score_rate(model, chunk, args.rows, n_jobs)),
                    "members": model.n_members,
                    "train_rows": n_train,
                    "fit_s_all_threads": round(fit_s, 2),
                }
            )
    print(
        json.dumps(
            {
                "benchmark": "scoring",
                "columns": args.columns,
                "chunk": chunk.shape[0],
                "host_cpus": all_threads,
                "machine": platform.processor() or platform.machine(),
                "results": results,
                "keeping_the_slice": slice_rates(args.rows, chunk.shape[0], args.keep),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

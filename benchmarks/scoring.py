"""Scoring throughput of the tree ensembles: rows/s on 1e6 candidates, one thread and all threads.

Prints JSON. The ensembles (default hyperparameters: 5 members, 300 trees of depth 4)
are trained on 2000 synthetic rows; scoring streams over ``--rows`` candidates in
chunks of ``--chunk`` rows (float32, ``--columns`` wide, a realistic descriptor width)
and computes mean and std per candidate. Chunk generation is not timed.

    python benchmarks/scoring.py [--rows 1000000] [--columns 150] [--chunk 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=150)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--learners", nargs="+", default=["xgboost", "catboost"])
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X_train = rng.random((2000, args.columns))
    y_train = X_train[:, :10] @ rng.normal(size=10) + np.sin(6 * X_train[:, 10]) + 0.05 * rng.normal(size=2000)
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
                    "fit_s_2000_rows_all_threads": round(fit_s, 2),
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
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

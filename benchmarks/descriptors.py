"""Descriptor throughput against matminer and plain numpy, and a streamed 1e7-candidate enumerate + featurize.

Run: ``python benchmarks/descriptors.py`` (prints one JSON object). ``ours`` is the default
engine (the compiled one-pass kernel, ``alloyscreen.descriptors.fused``), ``numpy`` the
vectorised numpy reference on the same compositions in the same process. One thread: the
BLAS/OpenMP thread variables are set before numpy is imported. Rates are given per
wall-clock second and per CPU second of this process (the per-core figure, robust
to other load on a shared machine). The streamed part
runs in a child process so that its peak RSS is its own.

``--quick`` (a check of the script, not a figure): 20000 compositions for our rate, 20 for
matminer's, the streamed part over ``QUICK_STREAM_SPEC`` (step 0.1: 7056 candidates), in a
throwaway data directory.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from scratch import scratch_database  # noqa: E402

from alloyscreen.candidates import CandidateSpace  # noqa: E402
from alloyscreen.descriptors import COLUMNS, FEATURE_SET, Compositions, featurize  # noqa: E402
from alloyscreen.descriptors.hea import GAS_CONSTANT  # noqa: E402
from alloyscreen.descriptors.magpie import COLUMNS as MAGPIE_COLUMNS  # noqa: E402

POOL = ["Al", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag", "Hf", "Ta",
        "W", "Ir", "Pt", "Au"]
CHUNK = 65536
STREAM_SPEC = {"elements": ["Pt", "Pd", "Fe", "Co", "Ni", "Cu", "Cr", "Mn"], "n_components": 5,
               "sampling": {"kind": "grid", "step": 0.02}, "prototype": "auto"}
QUICK_STREAM_SPEC = {**STREAM_SPEC, "sampling": {"kind": "grid", "step": 0.1}}
WEN_EQUAL = {
    "vec": "VEC mean", "delta": "Yang delta", "electronegativity_delta": "Electronegativity delta",
    "radii_gamma": "Radii gamma", "ape_mean": "APE mean", "cohesive_energy_mean": "Mean cohesive energy",
    "interant_electrons": "Interant electrons", "shear_modulus_strength_model": "Shear modulus strength model",
    "radii_local_mismatch": "Radii local mismatch", "shear_modulus_delta": "Shear modulus delta",
}


def random_dense(n: int, seed: int = 0) -> np.ndarray:
    """Return (n, len(POOL)) fractions: 2-6 random elements, Dirichlet(1) fractions."""
    rng = np.random.default_rng(seed)
    k = rng.integers(2, 7, size=n)
    weights = rng.gamma(1.0, size=(n, 6)) * (np.arange(6) < k[:, None])
    columns = np.argsort(rng.random((n, len(POOL))), axis=1)[:, :6]
    dense = np.zeros((n, len(POOL)))
    np.put_along_axis(dense, columns, weights, axis=1)
    return dense / dense.sum(axis=1, keepdims=True)


def max_relative_deviation(ours: np.ndarray, reference: np.ndarray) -> float:
    """Max |ours - ref| / |ref| over |ref| >= 1e-6; below that (exact zeros) the absolute deviation counts."""
    deviation = np.abs(ours - reference)
    large = np.abs(reference) >= 1e-6
    relative = deviation[large] / np.abs(reference[large])
    return float(max(relative.max(initial=0.0), deviation[~large].max(initial=0.0)))


def ours_rate(n: int, engine: str = "fused") -> dict:
    dense = random_dense(n)
    featurize(Compositions.from_dense(POOL, dense[:10]), engine=engine)  # compile (or load) the kernel first
    start, cpu_start = time.perf_counter(), time.process_time()
    comps = [Compositions.from_dense(POOL, dense[i:i + CHUNK]) for i in range(0, n, CHUNK)]
    prepared, cpu_prepared = time.perf_counter(), time.process_time()
    for block in comps:
        featurize(block, engine=engine)
    done, cpu_done = time.perf_counter(), time.process_time()
    return {"n": n, "engine": engine, "columns": len(COLUMNS), "featurize_per_s": n / (done - prepared),
            "featurize_per_cpu_s": n / (cpu_done - cpu_prepared),
            "dense_to_descriptors_per_s": n / (done - start),
            "dense_to_descriptors_per_cpu_s": n / (cpu_done - cpu_start)}


def matminer_rate(n: int) -> dict:
    from matminer.featurizers.composition import ElementProperty, WenAlloys
    from pymatgen.core import Composition

    dense = random_dense(n, seed=1)
    compositions = [Composition({e: f for e, f in zip(POOL, row, strict=True) if f > 0}) for row in dense]
    table = featurize(Compositions.from_dense(POOL, dense))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        magpie = ElementProperty.from_preset("magpie")
        start = time.perf_counter()
        magpie_values = np.array([magpie.featurize(c) for c in compositions], dtype=float)
        magpie_s = time.perf_counter() - start
        wen = WenAlloys()
        start = time.perf_counter()
        wen_rows = [wen.featurize(c) for c in compositions]
        wen_s = time.perf_counter() - start
    labels = wen.feature_labels()
    ours_magpie = np.column_stack([table.column(c) for c in MAGPIE_COLUMNS])
    deviation = {"magpie": max_relative_deviation(ours_magpie, magpie_values)}
    for column, label in WEN_EQUAL.items():
        reference = np.array([row[labels.index(label)] for row in wen_rows], dtype=float)
        deviation[column] = max_relative_deviation(table.column(column), reference)
    omega = np.array([row[labels.index("Yang omega")] for row in wen_rows], dtype=float) * GAS_CONSTANT / 8.314
    deviation["omega (R-rescaled)"] = max_relative_deviation(table.column("omega"), omega)
    return {"n": n, "magpie_per_s": n / magpie_s, "wen_alloys_per_s": n / wen_s,
            "max_relative_deviation": deviation}


def stream(spec: dict) -> dict:
    space = CandidateSpace(spec)
    start, cpu_start = time.perf_counter(), time.process_time()
    n, best = 0, -np.inf
    for chunk in space.iter_chunks(CHUNK):
        table = featurize(chunk.compositions())
        best = max(best, float(table.column("omega").max()))
        n += len(chunk)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"spec": spec, "size": space.size, "streamed": n, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "per_s": n / seconds,
            "columns": len(COLUMNS), "peak_rss_mib": peak_kib / 1024, "max_omega": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="compositions for our rate")
    parser.add_argument("--matminer-n", type=int, default=1000, help="compositions for matminer's rates")
    parser.add_argument("--stream-only", action="store_true", help="only the streamed part (child process)")
    parser.add_argument("--no-stream", action="store_true", help="skip the streamed part")
    parser.add_argument("--quick", action="store_true",
                        help="20000 and 20 compositions, a 7056-candidate stream, throwaway data dir")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(n=20_000, matminer_n=20)  # what is given explicitly still counts
        args = parser.parse_args()
    if args.stream_only:
        print(json.dumps(stream(QUICK_STREAM_SPEC if args.quick else STREAM_SPEC)))
        return
    if args.quick:
        with scratch_database("descriptors"):
            run(args)
    else:
        run(args)


def run(args) -> None:
    """Print the benchmark's JSON."""
    ours = ours_rate(args.n)
    plain = ours_rate(args.n, engine="numpy")
    theirs = matminer_rate(args.matminer_n)
    report = {
        "feature_set": FEATURE_SET, "threads": 1, "ours": ours, "numpy": plain, "matminer": theirs,
        "ratio_vs_numpy": ours["featurize_per_cpu_s"] / plain["featurize_per_cpu_s"],
        "ratio_vs_matminer_magpie": ours["featurize_per_s"] / theirs["magpie_per_s"],
        "ratio_vs_matminer_magpie_plus_wen": ours["featurize_per_s"]
        * (1 / theirs["magpie_per_s"] + 1 / theirs["wen_alloys_per_s"]),
        "goals": {"per_core_2e6": ours["featurize_per_cpu_s"] >= 2e6,
                  "vs_magpie_100x": ours["featurize_per_s"] / theirs["magpie_per_s"] >= 100},
    }
    if not args.no_stream:
        command = [sys.executable, __file__, "--stream-only", *(["--quick"] if args.quick else [])]
        child = subprocess.run(command, capture_output=True, text=True, check=True)
        report["stream"] = json.loads(child.stdout)
        report["goals"]["stream_peak_rss_below_2_gib"] = report["stream"]["peak_rss_mib"] < 2048
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

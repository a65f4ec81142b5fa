"""The streamed screen: cost per stage, end to end on 1 and 2 workers, sharded scaling and peak RSS.

Prints JSON. The space is the 1.19e7-candidate grid of ``benchmarks/descriptors.py``
(8 elements, 5 components, step 0.02, prototype from the VEC) and the model the
default XGBoost ensemble (5 members x 150 trees) trained on 2000 (``--train-rows``) of its
compositions (Dirichlet draws on the same pool) with a synthetic label, stored in
the registry of an embedded database in a throwaway data dir under /tmp.

Stages, one thread, per 1e6 candidates, timed chunk by chunk (65536 rows) over
the first ``--stage-rows`` candidates as ``score_space`` runs them: enumerate
(``iter_chunks``, with the VEC for the prototype), featurize (every descriptor
column), score (``EnsembleRegressor.predict_moments``), keep (``SliceKeeper.add``:
top slice and summary). Interleaved with them, in the same run: matminer's magpie
``ElementProperty`` (on ``--matminer-rows`` compositions, scaled to 1e6) and the
ensemble's raw boosters (each member's ``Booster.inplace_predict`` on the same arrays).

End to end, ``alloyscreen screen SPEC --model ID --workers N`` runs as a process
started fresh under ``/usr/bin/time -v``: its peak RSS is that of its largest
process (main or a worker), not inherited from this one. It runs on the whole
space with 1 and 2 workers, and with 1 worker on a 20x smaller space (step 0.04)
to show that memory does not grow with the space, and on the whole space with 1 and 2
workers again with the scoring cascade (``acquisition.cascade``, ``--cascade``: the first
member scores every candidate, the whole ensemble those that could still enter the top
slice), whose top must equal the whole ensemble's. Sharded scaling efficiency:
t(1 worker) / (2 t(2 workers)). The extrapolation to 1e9 candidates assumes the
one-worker rate per worker and the measured two-worker efficiency.

    python benchmarks/screen.py [--step 0.02] [--stage-rows 1000000] [--cascade 0.01] [--quick]

``--quick`` (a check of the script, not a figure): step 0.1 (7056 candidates), small space
step 0.2 (56), the model trained on 300 compositions, every stage over the 7056.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from scratch import scratch_database  # noqa: E402

from alloyscreen.campaign.round.models import store_model  # noqa: E402
from alloyscreen.campaign.round.scoring import SliceKeeper  # noqa: E402
from alloyscreen.candidates import CandidateSpace  # noqa: E402
from alloyscreen.db.client import get_database  # noqa: E402
from alloyscreen.db.init import init_database  # noqa: E402
from alloyscreen.descriptors import FEATURE_SET, featurize  # noqa: E402
from alloyscreen.surrogates.ensemble import EnsembleRegressor  # noqa: E402
from alloyscreen.surrogates.registry import model_document  # noqa: E402

POOL = ["Pt", "Pd", "Fe", "Co", "Ni", "Cu", "Cr", "Mn"]
CHUNK = 65536
KEEP = 10
WORKER_COUNTS = (2, 16, 128)  # extrapolation to 1e9 candidates


def space_spec(step: float) -> dict:
    """The benchmark space at grid ``step``."""
    return {"elements": POOL, "n_components": 5, "sampling": {"kind": "grid", "step": step}, "prototype": "auto"}


def campaign_spec(step: float, cascade: float = 1.0) -> dict:
    """A campaign over the space (its stages never run: screening validates nothing)."""
    return {"name": f"screen-benchmark-{step:g}", "candidates": space_spec(step),
            "acquisition": {"cascade": cascade},
            "stages": [{"name": "chgnet", "calculator": "chgnet", "max_validations": 10}]}


def train_model(rows: int = 2000) -> EnsembleRegressor:
    """XGBoost ensemble (defaults: 5 members x 150 trees) on ``rows`` compositions of the pool, synthetic label."""
    draws = CandidateSpace({**space_spec(0.02), "sampling": {"kind": "dirichlet", "n_samples": rows, "seed": 0}})
    comps = next(draws.iter_chunks(rows)).compositions()
    table = featurize(comps)
    rng = np.random.default_rng(0)
    y = table.column("delta_h_mix") / 100 + 0.3 * table.column("delta") + 0.005 * rng.normal(size=len(comps))
    return EnsembleRegressor(learner="xgboost", n_jobs=os.cpu_count() or 1).fit(table.values, y).set_params(n_jobs=1)


def stages(model: EnsembleRegressor, rows: int, matminer_rows: int) -> dict:
    """Seconds per 1e6 candidates of each stage, of matminer's magpie and of the raw boosters (one thread)."""
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    seconds = dict.fromkeys(("enumerate", "featurize", "score", "keep", "raw_boosters", "matminer_magpie"), 0.0)
    keeper, done, magpie_done = SliceKeeper(KEEP, full_ranking=False), 0, 0
    magpie = ElementProperty.from_preset("magpie")
    boosters = [member.get_booster() for member in model.members_]
    chunks = CandidateSpace(space_spec(0.02)).iter_chunks(CHUNK)
    while done < rows:
        start = time.perf_counter()
        chunk = next(chunks)
        seconds["enumerate"] += time.perf_counter() - start
        start = time.perf_counter()
        X = featurize(chunk.compositions(), None, chunk.descriptors).values
        seconds["featurize"] += time.perf_counter() - start
        start = time.perf_counter()
        mean, std, _ = model.predict_moments(X)
        seconds["score"] += time.perf_counter() - start
        start = time.perf_counter()
        keeper.add(chunk, X, mean, std, -mean)
        seconds["keep"] += time.perf_counter() - start
        start = time.perf_counter()
        raw = sum(booster.inplace_predict(X) for booster in boosters) / len(boosters)
        seconds["raw_boosters"] += time.perf_counter() - start
        assert np.allclose(raw, mean, rtol=1e-5, atol=1e-6)
        if magpie_done < matminer_rows:
            sample = [Composition(chunk.composition(r)) for r in range(min(matminer_rows - magpie_done, 100))]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                for composition in sample:
                    magpie.featurize(composition)
                seconds["matminer_magpie"] += time.perf_counter() - start
            magpie_done += len(sample)
        done += len(chunk)
    per = {name: value * 1e6 / (magpie_done if name == "matminer_magpie" else done) for name, value in seconds.items()}
    ours = {name: round(per[name], 2) for name in ("enumerate", "featurize", "score", "keep")}
    return {"rows": done, "matminer_rows": magpie_done,
            "seconds_per_1e6": {**ours, "total": round(sum(ours.values()), 2)},
            "reference_seconds_per_1e6": {"raw_boosters": round(per["raw_boosters"], 2),
                                          "matminer_magpie": round(per["matminer_magpie"], 1)},
            "featurize_speedup_vs_matminer_magpie": round(per["matminer_magpie"] / per["featurize"], 1),
            "score_vs_raw_boosters": round(per["raw_boosters"] / per["score"], 3)}


def end_to_end(spec_path: Path, model_id: str, workers: int) -> dict:
    """``alloyscreen screen`` in a process started fresh under /usr/bin/time -v: times, peak RSS, top candidate."""
    command = ["/usr/bin/time", "-v", str(Path(sys.executable).parent / "alloyscreen"), "screen", str(spec_path),
               "--model", model_id, "--workers", str(workers), "-n", str(KEEP), "--json", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[2:])} failed: {done.stderr}")
    result = json.loads(done.stdout)
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return {"workers": workers, "candidates": result["candidates"], "screen_s": result["seconds"],
            "process_wall_s": round(wall, 2), "candidates_per_s": round(result["candidates"] / result["seconds"]),
            "peak_rss_mib_largest_process": round(peak_kib / 1024), "best_formula": result["top"][0]["formula"],
            "predicted_mean_summary": result["summary"], "top": [row["candidate_id"] for row in result["top"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.02, help="grid step of the end-to-end space")
    parser.add_argument("--small-step", type=float, default=0.04, help="grid step of the small space (peak RSS)")
    parser.add_argument("--stage-rows", type=int, default=1_000_000)
    parser.add_argument("--matminer-rows", type=int, default=500)
    parser.add_argument("--train-rows", type=int, default=2000, help="compositions the model is trained on")
    parser.add_argument("--cascade", type=float, default=0.01, help="the cascade runs' acquisition.cascade")
    parser.add_argument("--quick", action="store_true",
                        help="step 0.1, small step 0.2, 7056 stage rows, 20 matminer rows, 300 training rows")
    args = parser.parse_args()
    if args.quick:  # what is given explicitly still counts
        parser.set_defaults(step=0.1, small_step=0.2, stage_rows=7056, matminer_rows=20, train_rows=300)
        args = parser.parse_args()

    with scratch_database("screen") as data_dir:
        model = train_model(args.train_rows)
        blob = model.to_bytes()
        database = get_database()
        init_database(database)
        model_id = store_model(database, model_document(model, blob, "mixing_energy_per_atom", [],
                                                        feature_set=FEATURE_SET), blob).id
        per_stage = stages(model, args.stage_rows, args.matminer_rows)
        paths = {}
        for step in (args.step, args.small_step):
            paths[step] = data_dir / f"space-{step:g}.yaml"
            paths[step].write_text(yaml.safe_dump(campaign_spec(step)))
        runs = [end_to_end(paths[args.step], model_id, workers) for workers in (1, 2)]
        small = end_to_end(paths[args.small_step], model_id, 1)
        cascade_path = data_dir / f"space-{args.step:g}-cascade.yaml"
        cascade_path.write_text(yaml.safe_dump(campaign_spec(args.step, args.cascade)))
        cascades = [end_to_end(cascade_path, model_id, workers) for workers in (1, 2)]
    one, two = runs
    efficiency = one["screen_s"] / (2 * two["screen_s"])
    per_candidate = one["screen_s"] / one["candidates"]
    same_top = one["top"] == two["top"]
    cascade_same_top = all(run["top"] == one["top"] for run in cascades)
    for run in (*runs, small, *cascades):
        del run["top"]
    print(json.dumps({
        "benchmark": "screen", "space": space_spec(args.step), "small_space": space_spec(args.small_step),
        "chunk": CHUNK, "host_cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "model": f"xgboost, {len(model.members_)} members x {model.members_[0].n_estimators} trees, "
                 f"{args.train_rows} rows",
        "stages_one_thread": per_stage,
        "end_to_end": runs, "small_space_end_to_end": small,
        "same_top_on_1_and_2_workers": same_top,
        "cascade": {"fraction": args.cascade, "end_to_end": cascades, "same_top_as_whole_ensemble": cascade_same_top},
        "sharded_scaling_efficiency": round(efficiency, 3),
        "extrapolated_1e9": {"seconds_per_candidate_one_worker": per_candidate,
                             "hours_on_workers": {str(n): round(1e9 * per_candidate / (n * efficiency) / 3600, 2)
                                                  for n in WORKER_COUNTS}},
        "goals": {"two_workers_under_60_s": two["screen_s"] < 60,
                  "two_workers_with_cascade_under_20_s": cascades[1]["screen_s"] <= 20,
                  "peak_rss_under_1_gib": max(r["peak_rss_mib_largest_process"] for r in (*runs, small)) < 1024,
                  "scaling_efficiency_at_least_0.8": efficiency >= 0.8},
    }, indent=2))


if __name__ == "__main__":
    main()

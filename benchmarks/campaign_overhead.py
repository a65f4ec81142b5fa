"""Campaign overhead: the share of an EMT campaign's wall time spent outside the calculations (issue 14, item 1).

Runs one small EMT campaign in this process, as ``alloyscreen run --quiet``
does (:func:`alloyscreen.campaign.engine.execution.run_campaign`, library output to a
log file), on the embedded database in a fresh data directory under /tmp. The
campaign (``SPEC``, or ``--spec FILE.yaml``): Cu-Ni-Pd-Ag-Au-Pt binaries and
ternaries on a 1/4 fcc grid (105 candidates), 4 random picks, then UCB
batches of 4 until 24 EMT labels (4-atom random cells, vc-relaxed), then the
best 2 again as 32-atom SQS cells (EMT); plus the elemental references.
With ``--spec`` only EMT calls count as calculations.

``total_s`` is the wall time of ``run_campaign`` (the embedded server is
started before, ``db_start_s``). ``calculations_s`` is the time measured
around each calculator call (``EMTCalculator.run``, wrapped here);
``calculations_db_s`` is the sum of the stored ``wall_time_s`` (every
calculation of the fresh database ran in this campaign): the ASE run alone,
without building the maker (the first call imports atomate2) and converting
the result; ``outside_fraction_db`` counts those outside. ``phases_s`` splits
``outside_s`` by the project functions that run it (each without the
calculator time inside it; indented names are parts of the one above); the
remainder is jobflow's bookkeeping and whatever is not listed. The label
jobs' calculations run inline instead of on the one-thread pool of
``MixingEnergyMaker.compute``, so that they are timed (and profiled) in this thread.

    python benchmarks/campaign_overhead.py [--spec FILE.yaml] [--profile] [--profile-out FILE.prof] [--quick]

Prints one JSON object. ``--profile`` runs under cProfile with a clock that
stops while a calculator runs (the profile holds only the time outside the
calculations) and prints its top 30 functions by cumulative time to stderr.
Goal: ``outside_fraction`` at most 0.2. ``--quick`` (a check of the script, not a
figure): ``QUICK_SPEC``, Cu-Ni-Pd binaries (9 candidates), 5 random picks, one UCB
batch of 2, one 8-atom SQS confirmation. The wrapped functions are put back when the
campaign has run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from scratch import scratch_database

from alloyscreen.campaign.engine.execution import run_campaign
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.client import get_database
from alloyscreen.terminal import library_noise_to
from alloyscreen.validation import targets
from alloyscreen.validation.emt import EMTCalculator

SPEC: dict[str, Any] = {
    "name": "campaign-overhead", "seed": 5,
    "candidates": {"elements": ["Cu", "Ni", "Pd", "Ag", "Au", "Pt"], "n_components": [2, 3],
                   "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
    "initial_random": 4, "acquisition": {"batch_size": 4, "strategy": "ucb"},
    "stopping": {"max_rounds": 10, "patience": 10, "top_k": 3},
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 24,
                "structure": {"method": "random", "supercell": [1, 1, 1]}},
               {"name": "emt-sqs", "calculator": "emt", "max_validations": 2,
                "structure": {"method": "sqs", "supercell": [2, 2, 2], "iterations": 2000}}],
}
QUICK_SPEC: dict[str, Any] = {
    **SPEC, "name": "campaign-overhead-quick",
    "candidates": {"elements": ["Cu", "Ni", "Pd"], "n_components": 2, "sampling": {"kind": "grid", "step": 0.25},
                   "prototype": "fcc"},
    "initial_random": 5, "acquisition": {"batch_size": 2, "strategy": "ucb"},
    "stopping": {"max_rounds": 2, "patience": 2, "top_k": 2},
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 7,
                "structure": {"method": "random", "supercell": [1, 1, 1]}},
               {"name": "emt-sqs", "calculator": "emt", "max_validations": 1,
                "structure": {"method": "sqs", "supercell": [2, 1, 1], "iterations": 200}}],
}
# (module, object, attribute, phase); a phase starting with spaces is a part of the phase above it.
PHASES = [
    ("alloyscreen.campaign.engine.flow", None, "candidate_structure", "structure generation + store"),
    ("alloyscreen.validation.targets", "MixingEnergyMaker", "compute", "label (references, calculation, documents)"),
    ("alloyscreen.validation.targets", None, "run_prepared", "  run_prepared() (cache, calculation document)"),
    ("alloyscreen.campaign.engine.flow", None, "conclude_label", "conclude label (store outcome)"),
    ("alloyscreen.campaign.engine.flow", None, "plan_round", "plan round"),
    ("alloyscreen.campaign.round.steps", None, "train_surrogate", "  surrogate training + store"),
    ("alloyscreen.campaign.engine.flow", None, "score_round", "score space (featurize, predict)"),
    ("alloyscreen.campaign.engine.flow", None, "select_round", "select batch + store round"),
    ("alloyscreen.campaign.engine.flow", None, "stage_history", "read stage history"),
    ("alloyscreen.campaign.engine.flow", None, "stored_batch", "look up stored batch"),
    ("alloyscreen.campaign.engine.flow", None, "_record_progress", "record progress"),
    ("alloyscreen.campaign.engine.flow", None, "confirmation_batch", "confirmation batch"),
    ("alloyscreen.campaign.engine.flow", None, "save_campaign", "save campaign"),
    ("alloyscreen.campaign.engine.flow", None, "finish_campaign", "finish campaign"),
    ("alloyscreen.campaign.engine.execution", None, "init_database", "init database"),
    ("alloyscreen.campaign.engine.execution", None, "_forget_outputs", "forget earlier outputs"),
    ("alloyscreen.campaign.engine.flow", "CampaignMaker", "make", "build flow"),
    ("jobflow.core.job", "Job", "resolve_args", "jobflow: resolve job inputs"),
    ("jobflow.core.store", "JobStore", "update", "jobflow: store job outputs"),
]


class Clock:
    """Seconds spent in calculator calls, and a clock of the time outside them (stopped while one runs)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.inside = 0.0
        self.started: float | None = None

    def outside(self) -> float:
        """Seconds so far outside calculator calls (a cProfile timer)."""
        now = self.started if self.started is not None else time.perf_counter()
        return now - self.inside

    def wrap(self, function):
        """``function`` (a calculator's ``run``), timed."""

        @functools.wraps(function)
        def timed(*args, **kwargs):
            self.started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - self.started
                self.inside, self.started = self.inside + elapsed, None
                self.calls.append(elapsed)

        return timed


class InlineExecutor:
    """A ``ThreadPoolExecutor`` stand-in that runs each task at once in this thread."""

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, function, *args, **kwargs) -> Future:
        """Run ``function`` now; return its result (or error) as a done future."""
        future: Future = Future()
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001  (kept for future.result(), as a pool would)
            future.set_exception(error)
        return future


@contextlib.contextmanager
def instrumented(clock: Clock) -> Iterator[dict[str, float]]:
    """Wrap the calculator and the phase functions; yield the phases' seconds outside calculators, as they run.

    Every wrapped attribute is put back on leaving.
    """
    missing = object()
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, attribute: str, value: Any) -> None:
        saved.append((owner, attribute, vars(owner).get(attribute, missing)))
        setattr(owner, attribute, value)

    try:
        patch(EMTCalculator, "run", clock.wrap(EMTCalculator.run))
        patch(targets, "ThreadPoolExecutor", InlineExecutor)
        seconds = {name: 0.0 for *_, name in PHASES}
        for module_name, owner_name, attribute, name in PHASES:
            module = importlib.import_module(module_name)
            owner = getattr(module, owner_name) if owner_name else module
            function = getattr(owner, attribute)

            def timed(*args, _function=function, _name=name, **kwargs):
                start = clock.outside()
                try:
                    return _function(*args, **kwargs)
                finally:
                    seconds[_name] += clock.outside() - start

            patch(owner, attribute, functools.wraps(function)(timed))
        yield seconds
    finally:
        for owner, attribute, original in reversed(saved):
            if original is missing:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)


def profile_report(profiler: cProfile.Profile, out: str | None) -> None:
    """Print the top 30 functions by cumulative time (outside calculators) to stderr; dump the stats to ``out``."""
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    if out:
        stats.dump_stats(out)
    stats.sort_stats("cumulative").print_stats(30)
    print(stream.getvalue(), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, help="campaign spec (yaml); default: the script's SPEC")
    parser.add_argument("--profile", action="store_true", help="run under cProfile; top 30 cumulative to stderr")
    parser.add_argument("--profile-out", help="with --profile: also dump the pstats file here")
    parser.add_argument("--quick", action="store_true", help="QUICK_SPEC: 9 candidates, 8 EMT labels (unless --spec)")
    args = parser.parse_args()
    spec = load_spec(args.spec or (QUICK_SPEC if args.quick else SPEC))

    clock = Clock()
    profiler = cProfile.Profile(clock.outside) if args.profile else None
    with instrumented(clock) as phases, scratch_database("overhead") as data_dir:
        start = time.perf_counter()
        database = get_database()
        db_start = time.perf_counter() - start
        with library_noise_to(data_dir / "campaign.log"):
            start = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            run_campaign(spec)
            if profiler is not None:
                profiler.disable()
            total = time.perf_counter() - start
        stored = list(database["calculations"].find({}, {"wall_time_s": 1, "status": 1, "n_atoms": 1}))
        n_jobs = database["jobflow_outputs"].count_documents({})

    inside, in_db = clock.inside, sum(d.get("wall_time_s") or 0.0 for d in stored)
    listed = sum(value for name, value in phases.items() if not name.startswith(" "))
    phases["jobflow bookkeeping and the rest"] = total - inside - listed
    result = {
        "benchmark": "campaign_overhead", "campaign": spec.name, "profiled": args.profile,
        "db_start_s": round(db_start, 3), "total_s": round(total, 3),
        "calculations_s": round(inside, 3), "n_calculations": len(clock.calls),
        "calculations_db_s": round(in_db, 3),
        "n_calculations_db": len(stored), "n_failed_db": sum(d["status"] != "completed" for d in stored),
        "calculation_s": {"first": round(clock.calls[0], 4), "median": round(statistics.median(clock.calls), 4),
                          "mean": round(inside / len(clock.calls), 4),
                          "max": round(max(clock.calls), 4)} if clock.calls else None,
        "n_jobs": n_jobs,
        "outside_s": round(total - inside, 3), "outside_fraction": round((total - inside) / total, 4),
        "outside_fraction_db": round((total - in_db) / total, 4),
        "phases_s": {name: round(value, 3) for name, value in phases.items()},
    }
    if profiler is not None:
        profile_report(profiler, args.profile_out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

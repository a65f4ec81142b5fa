"""Benchmarks are code too: every script in ``benchmarks/`` runs with ``--quick`` and prints its JSON.

Each script runs in this process (``runpy``, as ``python benchmarks/SCRIPT --quick`` would, without
another interpreter's start-up), with ``benchmarks/`` on ``sys.path`` for its sibling modules; those in
``OWN_PROCESS`` run as ``python SCRIPT --quick``. Its ``--quick`` mode makes a throwaway data dir of its
own (``scratch.scratch_database``); the settings point at an empty ``data`` dir here, which must stay
untouched. What a script changes in the process (environment, database clients, torch threads,
working directory) is put back afterwards.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alloyscreen.db import client

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
HELPERS = {"fidelity_table.py", "scratch.py"}  # imported by the scripts; no main of their own
OWN_PROCESS = {"label_path.py"}  # wraps jobflow's Job.run for good: not in this process
ELEMENTS = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
STRATEGIES = {"random", "greedy", "ucb", "ei", "thompson"}


def _calibration_rule(out: dict) -> None:
    assert out["rounds"] == [7, 9, 11, 13] and out["rule_refits_at"] == [7, 9, 13]  # 11 < 9 x 1.25; 13: the final
    assert set(out["results"]) == {"7", "11"} and out["results"]["11"]["rule_scale_fitted_at_labels"] == [9]
    assert all(0 <= row[key] <= 1 for row in out["results"].values()
               for key in ("coverage_95_every_round", "coverage_95_rule"))


def _campaign_overhead(out: dict) -> None:
    assert out["campaign"] == "campaign-overhead-quick" and out["n_failed_db"] == 0
    assert out["n_calculations"] == out["n_calculations_db"] == 11  # 8 labels + 3 elemental references
    assert 0 < out["outside_s"] < out["total_s"]


def _demo(out: dict) -> None:
    assert out["space_size"] == 12 and set(out["stages"]) == {"chgnet-static", "chgnet", "dft"}
    assert all(stage["validations"] > 0 for stage in out["stages"].values()), out["stages"]
    assert out["best_predicted_rank"] is not None


def _descriptors(out: dict) -> None:
    assert out["ours"]["n"] == out["numpy"]["n"] == 20_000 and out["matminer"]["n"] == 20
    assert (out["ours"]["engine"], out["numpy"]["engine"]) == ("fused", "numpy")
    assert out["matminer"]["max_relative_deviation"]["magpie"] < 1e-9
    assert out["stream"]["streamed"] == out["stream"]["size"] == 7056


def _dft_cost_estimate(out: dict) -> None:
    assert [run["status"] for run in out["ran"]] == ["completed"] * 5
    assert not any(run["reused"] for run in out["ran"]) and out["calculators"]["qe"]["n"] == 5


def _ground_truth(provenance: dict, n: int) -> None:
    """Built here, from scratch: the path that broke (``ElementReference`` has no ``id``)."""
    assert provenance["loaded_from_npz_cache"] is False and provenance["calculations_reused_from_cache"] == 0
    assert provenance["n"] == n and provenance["n_failed"] < n
    references = provenance["reference_calculation_ids"]
    assert list(references) == ELEMENTS and all(len(ref) == 24 for ref in references.values()), references


def _discovery(out: dict) -> None:
    _ground_truth(out["ground_truth"], 12)
    assert set(out["strategies"]) == STRATEGIES and out["seeds"] == [0]
    assert all(entry["calls_mean"] <= out["n_candidates"] for entry in out["strategies"].values())


def _discovery_fidelities(out: dict) -> None:
    assert set(out["spaces"]) == {"with_al", "without_al"}
    assert out["spaces"]["with_al"]["n_candidates"] > out["spaces"]["without_al"]["n_candidates"] > 0
    assert {"expensive", "ladder", "ranker", "multi"} <= set(out["spaces"]["with_al"])


def _emt_ground_truth(out: dict) -> None:
    _ground_truth(out, 6)
    assert len(out["top10"]) == 6 and out["y_range"][0] <= out["top10"][0]["mixing_energy_ev_atom"] + 1e-4


def _faults(out: dict) -> None:
    assert out["kill"]["lost"] == out["kill"]["duplicated_selections"] == 0 and len(out["kill"]["runs"]) == 1
    assert out["concurrent"]["lost"] == 0 and out["database"]["resume_exit"] == 0
    assert len(out["bad_input"]) == 4  # QUICK_BAD_INPUTS
    assert all(row["exit"] == 2 and row["documents_written"] == 0 for row in out["bad_input"]), out["bad_input"]


def _gnn_cost(out: dict) -> None:
    cpu = out["devices"]["cpu"]
    assert cpu["matgl_batched_minus_one_by_one_max_ev_per_atom"] < 1e-4
    assert set(cpu["1_threads"]) == {"chgnet", "sevennet", "matgl_megnet"}


def _her_stability_front(out: dict) -> None:
    assert out["candidates"] == out["validated"] == 6 and out["front_size"] >= 1
    assert len(out["front"]) == out["front_size"]


def _label_path(out: dict) -> None:
    assert out["campaign_status"] == "completed" and out["campaign_error"] is None
    assert out["visits"] == len(out["visits_in_order"]) > 0


def _model_selection(out: dict) -> None:
    assert "computed here" in out["source"] and out["compositions"] > 8
    assert set(out["results"]["8"]["learners"]) == {"xgboost", "catboost", "random_forest"}
    assert sum(out["results"]["8"]["picked"].values()) == 1


def _pareto_discovery(out: dict) -> None:
    _ground_truth(out["ground_truth"], 12)
    assert out["true_front_size"] == len(out["true_front"]) >= 1
    assert set(out["strategies"]) == {"random", "ucb", "greedy", "ei"}


def _phases(calculators: set[str]) -> Callable[[dict], None]:
    def check(out: dict) -> None:
        assert out["pool"] == ["Au", "Cu"] and set(out["calculators"]) == calculators
        for table in out["calculators"].values():
            assert table["phases"] > 0 and set(table["pairs"]) == {"Au-Cu"}

    return check


def _potential_speed(out: dict) -> None:
    assert out["cells"]["n"] == 2 and out["torch_threads"] == 1
    assert all(p["static_validation"]["per_wall_s"] > 0 for p in out["potentials"].values())


def _ranking_quality(out: dict) -> None:
    assert out["n_candidates"] > out["n_without_al"] > 0
    assert set(out["held_out_by_label_count"]["10"]) == {"trees", "chgnet", "gnn", "delta"}


def _scoring(out: dict) -> None:
    threads = sorted({1, os.cpu_count() or 1})
    assert [(row["learner"], row["threads"]) for row in out["results"]] == [
        (learner, n) for learner in ("xgboost", "catboost") for n in threads]
    assert all(row["rows_per_s"] > 0 for row in out["results"])
    assert [row["kept"] >= row["keep"] for row in out["keeping_the_slice"]] == [True] * 3


def _screen(out: dict) -> None:
    assert [run["candidates"] for run in out["end_to_end"]] == [7056, 7056]
    assert out["small_space_end_to_end"]["candidates"] == 56 and out["same_top_on_1_and_2_workers"]
    assert [run["candidates"] for run in out["cascade"]["end_to_end"]] == [7056, 7056]
    assert out["cascade"]["same_top_as_whole_ensemble"]


def _site_ranking(out: dict) -> None:
    assert out["reference_sites_per_composition"] == [8] * 4 and out["training_sites"] == 24  # 4 fcc sites a slab
    assert set(out["spearman_vs_reference"]) == {"one_slab_delta_g_h", "one_slab_activity", "site_model"}
    assert all(-1.0 <= rho <= 1.0 for rho in out["spearman_vs_reference"].values())
    assert 0 < out["reference_activity_range"][0] <= out["reference_activity_range"][1] <= 0.5


def _site_model(out: dict) -> None:
    assert (out["calculator"], out["sites"], out["slabs"]) == ("emt", 24, 6)  # 4 fcc sites on each 2 x 2 slab
    assert [row["training_sites"] for row in out["learning_curve"]] == [8, 12]
    assert all(row["trees_mae_ev"] >= 0 and row["piecewise_linear_mae_ev"] >= 0 for row in out["learning_curve"])
    assert [row["sites"] for row in out["surface_size"]] == [100, 1024]
    assert 0 < out["surface_size"][0]["activity_mean"] <= 0.5  # a mean of site rates, each at most 1/2
    assert out["speed"]["calculations"] == 6 * (1 + 1 + 4)  # clean slab, H2 (cached after the first), 4 sites
    ranks = {metal: row["rank"] for metal, row in out["pure_metals"].items()}
    assert sorted(ranks.values()) == [1, 2, 3, 4, 5] and ranks == {  # the volcano of this oracle: by |dG_H|
        metal: 1 + sorted(abs(r["delta_g_h_ev"]) for r in out["pure_metals"].values()).index(abs(row["delta_g_h_ev"]))
        for metal, row in out["pure_metals"].items()}


def _tree_count(out: dict) -> None:
    assert set(out["results"]) == {"150/10"} and 10 < out["compositions"] <= 18


def _validation(out: dict) -> None:
    assert {row["calculator"] for row in out["timings"]} == {"emt", "chgnet", "qe"}
    assert [(row["element"], row["status"]) for row in out["lattice_constants"]] == [("Cu", "completed")]


def _writes(out: dict) -> None:
    assert [(row["collection"], row["docs"]) for row in out["results"]] == [("predictions", 50), ("selections", 50)]


def case(script: str, args: list[str], keys: set[str], check: Callable[[dict], None], *marks: Any):
    """One script's quick run: its arguments besides ``--quick``, its JSON's top-level keys, a check of values."""
    return pytest.param(script, args, keys, check, marks=marks, id=" ".join([script, *args]))


GROUND_TRUTH_KEYS = {"space", "structure", "calculation", "target", "code_version", "limit", "n", "n_failed",
                     "n_unconverged", "calculations_reused_from_cache", "processes", "build_wall_s",
                     "reference_calculation_ids", "path", "cache_file", "loaded_from_npz_cache", "load_wall_s"}
CASES = [
    case("calibration_rule.py", [], {
        "benchmark", "growth", "seeds", "compositions", "features", "start", "batch", "trees", "label", "rounds",
        "rule_refits_at", "results"}, _calibration_rule),
    case("campaign_overhead.py", [], {
        "benchmark", "campaign", "profiled", "db_start_s", "total_s", "calculations_s", "n_calculations",
        "calculations_db_s", "n_calculations_db", "n_failed_db", "calculation_s", "n_jobs", "outside_s",
        "outside_fraction", "outside_fraction_db", "phases_s"}, _campaign_overhead),
    case("demo.py", [], {
        "wall_s", "goal_s", "space_size", "stages", "stage_agreement", "best", "best_expensive",
        "best_predicted_rank", "screened_top", "expensive_calls", "random_calls_expected"}, _demo,
        pytest.mark.gnn, pytest.mark.dft),
    case("descriptors.py", [], {
        "feature_set", "threads", "ours", "numpy", "matminer", "ratio_vs_numpy", "ratio_vs_matminer_magpie",
        "ratio_vs_matminer_magpie_plus_wen", "goals", "stream"}, _descriptors),
    case("dft_cost_estimate.py", [], {"data_dir", "ran", "calculators", "prior_check", "wall_s"},
         _dft_cost_estimate, pytest.mark.dft),
    case("discovery.py", [], {
        "benchmark", "ground_truth", "n_candidates", "n_descriptors", "mae_of_predicting_the_mean", "features",
        "target", "batch", "n_init", "diversity", "seeds", "strategies"}, _discovery),
    case("discovery.py", ["--fidelities"], {
        "benchmark", "ground_truth", "target", "batch", "n_init", "share", "ladder_cheap_calls", "seeds",
        "spaces"}, _discovery_fidelities, pytest.mark.gnn),
    case("emt_ground_truth.py", [], GROUND_TRUTH_KEYS | {"top10", "y_range"}, _emt_ground_truth),
    case("faults.py", [], {"reference", "kill", "concurrent", "database", "user_database", "bad_input"}, _faults,
         pytest.mark.slow),
    case("gnn_cost.py", [], {
        "cells", "repeats", "rate", "calculation", "paths", "matgl", "versions", "cpu_cores", "gpu", "devices"},
         _gnn_cost, pytest.mark.gnn),
    case("her_stability_front.py", [], {
        "benchmark", "campaign", "candidates", "wall_s", "core_hours", "validated", "front_size",
        "random_round_front_size", "random_round_validated", "spearman_delta_g_h_vs_e_hull", "front",
        "best_abs_delta_g_h_eV", "best_e_above_hull_eV_per_atom"}, _her_stability_front, pytest.mark.gnn),
    case("label_path.py", [], {
        "benchmark", "alloyscreen", "campaign_status", "campaign_error", "label_job_error", "job", "job_function",
        "candidate", "calls", "visits", "distinct_modules", "returns_to_higher_layer", "reentries",
        "composition_checks", "composition_check_calls", "goal", "goal_met", "issue", "layers", "rule", "wall_s",
        "visits_in_order"}, _label_path),
    case("model_selection.py", [], {
        "benchmark", "source", "compositions", "features", "seeds", "folds", "selection_metric", "label",
        "label_std", "results"}, _model_selection),
    case("pareto_discovery.py", [], {
        "benchmark", "ground_truth", "objectives", "n_candidates", "n_descriptors", "true_front_size", "true_front",
        "target", "batch", "n_init", "diversity", "seeds", "strategies", "wall_s"}, _pareto_discovery),
    case("phases.py", ["--calculators", "emt"], {"pool", "window_ev_per_atom", "temperature_k", "calculators"},
         _phases({"emt"})),
    case("phases.py", [], {"pool", "window_ev_per_atom", "temperature_k", "calculators"}, _phases({"emt", "chgnet"}),
         pytest.mark.gnn),
    case("potential_speed.py", [], {"cells", "torch", "torch_threads", "device", "potentials"}, _potential_speed,
         pytest.mark.gnn),
    case("ranking_quality.py", [], {
        "space", "cells", "label", "n_candidates", "n_without_al", "zero_shot_chgnet_vs_emt_spearman",
        "zero_shot_chgnet_vs_emt_spearman_without_al", "held_out_by_label_count", "wall_s"}, _ranking_quality,
         pytest.mark.gnn),
    case("scoring.py", [], {"benchmark", "columns", "chunk", "host_cpus", "machine", "results", "keeping_the_slice"},
         _scoring),
    case("screen.py", [], {
        "benchmark", "space", "small_space", "chunk", "host_cpus", "machine", "model", "stages_one_thread",
        "end_to_end", "small_space_end_to_end", "same_top_on_1_and_2_workers", "cascade", "sharded_scaling_efficiency",
        "extrapolated_1e9", "goals"}, _screen, pytest.mark.slow),  # five `alloyscreen screen` processes: ~25 s
    case("site_model.py", [], {
        "benchmark", "calculator", "adsorbate", "site_kind", "label", "pool", "slabs", "slab_size", "sites", "moved",
        "features", "energy_range_ev", "pure_metals", "learning_curve", "surface_size", "speed"}, _site_model),
    case("site_ranking.py", [], {
        "benchmark", "calculator", "adsorbate", "label", "pool", "compositions", "dense_slabs_per_composition",
        "slab_size", "reference_sites_per_composition", "training_slabs", "training_sites", "spearman_vs_reference",
        "reference_activity_range", "labelling_wall_s"}, _site_ranking, pytest.mark.slow),  # 170 EMT flows: ~25 s
    case("tree_count.py", [], {"benchmark", "learner", "seeds", "compositions", "features", "label", "results"},
         _tree_count),
    case("validation.py", [], {"machine", "timings", "lattice_constants", "lattice_reference_source",
                               "total_wall_s"}, _validation, pytest.mark.dft, pytest.mark.gnn),
    case("writes.py", [], {"benchmark", "repeats", "results"}, _writes),
]


@pytest.fixture
def run_quick(tmp_path, monkeypatch, capsys):
    """Run ``benchmarks/SCRIPT --quick ARGS`` in this process; return the JSON it printed (stdout, all of it)."""
    environment = os.environ.copy()
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(client, "_CLIENTS", {})  # the script closes its clients: not the session's
    monkeypatch.setattr(client, "_EMBEDDED_PORTS", {})
    configured = tmp_path / "data"
    os.environ.update(ALLOYSCREEN_DATA_DIR=str(configured), ALLOYSCREEN_DB_NAME="not_for_benchmarks")
    os.environ.pop("ALLOYSCREEN_MONGO_URI", None)

    def run(script: str, *args: str) -> dict:
        path = BENCHMARKS / script
        if script in OWN_PROCESS:
            done = subprocess.run([sys.executable, str(path), "--quick", *args], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            out = done.stdout
        else:
            monkeypatch.setattr(sys, "argv", [str(path), "--quick", *args])
            capsys.readouterr()
            runpy.run_path(str(path), run_name="__main__")
            out = capsys.readouterr().out
        assert not configured.exists(), f"{script} --quick wrote to the configured data dir, not a throwaway one"
        return json.loads(out)

    yield run
    os.environ.clear()
    os.environ.update(environment)
    if torch is not None or "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads or os.cpu_count() or 1)


@pytest.mark.parametrize(("script", "args", "keys", "check"), CASES)
def test_quick_run_prints_the_json_of_a_full_run(run_quick, script, args, keys, check):
    out = run_quick(script, *args)
    assert set(out) == keys
    check(out)


def test_every_benchmark_script_has_a_quick_test():
    scripts = {path.name for path in BENCHMARKS.glob("*.py")}
    tested = {param.values[0] for param in CASES}
    assert scripts - HELPERS == tested
    for helper in HELPERS:
        assert "__main__" not in (BENCHMARKS / helper).read_text(), f"{helper} has a main: test its --quick"

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alloyscreen.db.server import _free_port

BIN = Path(sys.executable).parent


def _alloyscreen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "alloyscreen"), *args], env=dict(os.environ), capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_validate_a_formula_then_reuse_it(database):
    # 8 atoms: not the 4-atom L1_2 cell, which competing-phase tests of the same database may have computed
    first = _alloyscreen("validate", "Cu3Au", "--method", "random", "--supercell", "2", "1", "1", "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "completed" and result["prototype"] == "fcc" and not result["reused"]
    assert -0.2 < result["mixing_energy_per_atom"] < 0.0  # Cu3Au orders: EMT mixing energy is negative
    again = json.loads(_alloyscreen("validate", "Cu3Au", "--method", "random", "--supercell", "2", "1", "1",
                                    "--json").stdout)
    assert again["reused"] and again["calculation_id"] == result["calculation_id"]
    assert database["calculations"].count_documents({"_id": result["calculation_id"]}) == 1


@pytest.mark.slow
def test_bad_input_is_one_line_with_exit_code_2(database):
    for args, expected in [
        (("validate", "Xx2Ni"), "unknown element symbol 'Xx'"),
        (("validate", "CuPd", "-c", "qe", "--method", "random"), "no PBE pseudopotential for Pd"),
        (("validate", "CuLa", "-c", "gpaw", "--method", "random"), "no GPAW PBE setup for La"),
        (("validate", "CuNi", "--settings", "{oops"), "--settings '{oops' is not JSON"),
        (("status", "no-such-campaign"), "no campaign 'no-such-campaign'"),
        (("screen", "no-such-campaign"), "no campaign 'no-such-campaign'"),
        (("screen", "flows/missing.yaml"), "campaign spec 'flows/missing.yaml' does not exist"),
    ]:
        result = _alloyscreen(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    # a program missing on this host fails the calculation where it runs (a job may be built elsewhere): one line
    missing = _alloyscreen("validate", "Cu", "-c", "gpaw", "--settings", '{"command": "/no/gpaw python"}')
    assert missing.returncode == 1 and "status: failed" in missing.stdout
    assert "error: /no/gpaw not found on PATH: install GPAW (apt-get install gpaw gpaw-data)" in missing.stdout


def test_db_status_reports_the_uri_in_use(database):
    result = _alloyscreen("db", "status", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["answering"] and report["embedded"] and report["database"] == database.name
    assert report["uri"].startswith("mongodb://127.0.0.1:")


@pytest.mark.slow
@pytest.mark.parametrize("command", [("status", "any"), ("run", "flows/demo.yaml")])
def test_an_unreachable_database_is_one_line_within_the_server_timeout(command):
    port = _free_port()
    env = {**os.environ, "ALLOYSCREEN_MONGO_URI": f"mongodb://ann:secret@127.0.0.1:{port}/x",
           "ALLOYSCREEN_SERVER_TIMEOUT_MS": "3000"}
    started = time.monotonic()
    result = subprocess.run([str(BIN / "alloyscreen"), *command], env=env, capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert time.monotonic() - started < 3 + 12  # the timeout, plus starting Python on a busy machine
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot reach MongoDB at mongodb://ann:***@127.0.0.1:{port}/x (from "
                                    "environment variable ALLOYSCREEN_MONGO_URI) within 3000 ms: ")


def test_a_command_closes_its_database_client_at_exit(database):
    env = {**os.environ, "PYTHONWARNINGS": "always::ResourceWarning"}  # pymongo warns of unclosed clients
    result = subprocess.run([str(BIN / "alloyscreen"), "top", "no-such-campaign"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: no campaign 'no-such-campaign'")
    assert result.stderr.count("\n") == 1, result.stderr


def test_submit_to_a_new_database_initialises_the_launchpad(database, tmp_path):
    spec = Path(__file__).resolve().parents[2] / "flows" / "ptpd_hea_her.yaml"
    env = {**os.environ, "ALLOYSCREEN_DB_NAME": f"{database.name}_fresh"}
    submitted = subprocess.run([str(BIN / "alloyscreen"), "submit", str(spec)], env=env, capture_output=True,
                               text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    fresh = database.client[f"{database.name}_fresh"]
    assert fresh["campaigns"].find_one({"_id": submitted.stdout.strip()})["status"] == "created"
    assert fresh["workflows"].count_documents({}) == 1 and fresh["fireworks"].count_documents({"state": "READY"}) == 1


CHEAP_QE = json.dumps({"ecutwfc": 25, "ecutrho": 200, "kspacing": 0.8, "conv_thr": 1e-6})


@pytest.mark.dft
def test_validate_a_pure_element_with_qe_prints_its_relaxed_primitive_cell(database):
    result = _alloyscreen("validate", "Cu", "--calculator", "qe", "--prototype", "fcc", "--settings", CHEAP_QE,
                          "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "completed" and len(report["final_structure"]["sites"]) == 1
    assert 10.5 < report["volume_per_atom"] < 13.5  # Cu: 11.8 Å^3/atom in experiment, PBE a little more
    label = database["labels"].find_one({"candidate_id": report["candidate_id"]})
    cu = label["details"]["references"]["Cu"]
    # one pw.x run: the candidate is Cu's ground-state fcc cell, its own reference
    assert set(cu["candidates"]) == {"fcc"} and report["reference_crystals"] == {"Cu": "fcc"}
    assert cu["calculation_id"] == report["calculation_id"] and report["mixing_energy_per_atom"] == 0.0


@pytest.mark.slow
def test_validate_searches_the_references_on_request(database):
    ground = json.loads(_alloyscreen("validate", "Cu", "--prototype", "fcc", "--json").stdout)
    assert ground["reference_crystals"] == {"Cu": "fcc"} and ground["mixing_energy_per_atom"] == 0.0
    result = _alloyscreen("validate", "Cu", "--prototype", "fcc", "--references", "search", "--json")
    assert result.returncode == 0, result.stderr
    searched = json.loads(result.stdout)
    assert searched["calculation_id"] == ground["calculation_id"] and searched["reused"]
    cu = database["labels"].find_one({"candidate_id": searched["candidate_id"], "details.reference_choice": "search"})[
        "details"]["references"]["Cu"]
    assert set(cu["candidates"]) == {"fcc", "bcc", "hcp"} and searched["reference_crystals"] == {"Cu": "hcp"}
    # EMT puts hcp Cu below fcc (under 1 meV): the fcc cell's mixing energy is its excess over hcp
    assert searched["mixing_energy_per_atom"] == cu["candidates"]["fcc"] - cu["candidates"]["hcp"] > 0.0
    refused = _alloyscreen("validate", "Cu", "--references", "lowest")
    assert refused.returncode == 2 and "'lowest' is not one of 'ground_state', 'search'" in refused.stderr


def test_validate_exits_non_zero_when_the_calculation_fails(database):
    settings = json.dumps({**json.loads(CHEAP_QE), "timeout_s": 0.2})
    result = _alloyscreen("validate", "Ni", "--calculator", "qe", "--prototype", "fcc", "--settings", settings,
                          "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["status"] == "failed" and report["error"]
    assert report["final_structure"] is None and report["mixing_energy_per_atom"] is None


def test_validate_with_vasp_writes_inputs_to_submit(tmp_path, database):
    result = _alloyscreen("validate", "CuNi", "--calculator", "vasp", "--prototype", "fcc", "--directory",
                          str(tmp_path / "cuni"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "inputs written" and "POTCAR.spec" in report["files"]
    assert "wrote" in result.stderr and str(tmp_path / "cuni") in result.stderr
    assert (tmp_path / "cuni" / "POTCAR.spec").read_text().split() == ["Cu_pv", "Ni_pv"]
    assert "ISPIN = 2" in (tmp_path / "cuni" / "INCAR").read_text()


@pytest.mark.slow
def test_phases_prints_the_pool_hull_and_refuses_a_bad_prototype_in_one_line(database):
    result = _alloyscreen("phases", "Cu", "Pt", "--prototypes", "L1_2,L1_0", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["phases"]) == {"Cu3Pt L1_2", "CuPt3 L1_2", "CuPt L1_0"}
    assert report["pair_enthalpies"]["Cu-Pt"] == min(report["phases"].values()) < 0
    assert "CuPt L1_0" in report["on_hull"]
    bad = _alloyscreen("phases", "Cu", "Pt", "--prototypes", "L12")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: unknown prototype 'L12'; allowed: L1_2, L1_0, B2, D0_19, D0_3, B32, C15"]
    alone = _alloyscreen("phases", "Cu")
    assert alone.returncode == 2 and alone.stderr.strip().splitlines() == [
        "error: competing phases need a pair, got elements ['Cu']; allowed: two elements or more"]
    separating = _alloyscreen("phases", "Cu", "Ni", "--prototypes", "L1_0")  # EMT: CuNi L1_0 lies above
    assert separating.returncode == 0 and separating.stdout.strip().splitlines()[-1] == (
        "no phase lies below the elements: the hull of Cu-Ni is the elements alone")


@pytest.mark.workers
def test_worker_check_says_what_a_worker_runs_and_refuses_a_category_no_job_carries(database, tmp_path):
    from alloyscreen.campaign.engine.records import save_campaign
    from alloyscreen.campaign.spec import load_spec

    spec = load_spec({"name": "routed", "candidates": {"elements": ["Cu", "Ni"], "n_components": 2,
                                                       "sampling": {"kind": "grid", "step": 0.25}},
                      "stages": [{"name": "emt", "calculator": "emt", "max_validations": 2},
                                 {"name": "pw", "calculator": "qe", "max_validations": 1, "category": "dft",
                                  "settings": {"functional": "PBE"}}]})
    save_campaign(spec, "created")
    files = {}
    for name, category in [("dft-node", "dft"), ("gpu-node", "gpu"), ("any-node", "")]:
        files[name] = tmp_path / f"{name}.yaml"
        files[name].write_text(f"name: {name}\ncategory: '{category}'\nquery: '{{}}'\n")
    dft = _alloyscreen("worker-check", str(files["dft-node"]), "routed")
    assert dft.returncode == 0 and dft.stdout.strip() == "worker dft-node runs of campaign routed: stage pw (qe)"
    anything = _alloyscreen("worker-check", str(files["any-node"]), "routed")
    assert anything.returncode == 0 and "driver jobs" in anything.stdout and "stage emt (emt)" in anything.stdout
    gpu = _alloyscreen("worker-check", str(files["gpu-node"]), "routed")
    assert gpu.returncode == 2 and len(gpu.stderr.strip().splitlines()) == 1
    expected = ("category 'gpu', which no job of campaign routed carries; allowed: cheap, dft (cheap: driver jobs "
                "(rounds, scoring, confirmation), stage emt (emt); dft: stage pw (qe))")
    assert "worker 'gpu-node'" in gpu.stderr and expected in gpu.stderr
    broken = _alloyscreen("worker-check", str(tmp_path / "missing.yaml"), "routed")
    assert broken.returncode == 2 and "cannot be read" in broken.stderr

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _alloyscreen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "alloyscreen"), *args], env=dict(os.environ), capture_output=True, text=True,
                          timeout=300)


def test_validate_a_formula_then_reuse_it(database):
    first = _alloyscreen("validate", "Cu3Au", "--method", "random", "--supercell", "1", "1", "1", "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "completed" and result["prototype"] == "fcc" and not result["reused"]
    assert -0.2 < result["mixing_energy_per_atom"] < 0.0  # Cu3Au orders: EMT mixing energy is negative
    again = json.loads(_alloyscreen("validate", "Cu3Au", "--method", "random", "--supercell", "1", "1", "1",
                                    "--json").stdout)
    assert again["reused"] and again["calculation_id"] == result["calculation_id"]
    assert database["calculations"].count_documents({"_id": result["calculation_id"]}) == 1


def test_bad_input_is_one_line_with_exit_code_2(database):
    for args, expected in [
        (("validate", "Xx2Ni"), "unknown element symbol 'Xx'"),
        (("validate", "CuPd", "-c", "qe", "--method", "random"), "no PBE pseudopotential for Pd"),
        (("validate", "CuNi", "--settings", "{oops"), "--settings '{oops' is not JSON"),
        (("status", "no-such-campaign"), "no campaign 'no-such-campaign'"),
    ]:
        result = _alloyscreen(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_db_status_reports_the_uri_in_use(database):
    result = _alloyscreen("db", "status", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["answering"] and report["embedded"] and report["database"] == database.name
    assert report["uri"].startswith("mongodb://127.0.0.1:")


def test_submit_to_a_new_database_initialises_the_launchpad(database, tmp_path):
    spec = Path(__file__).resolve().parents[2] / "flows" / "ptpd_hea_her.yaml"
    env = {**os.environ, "ALLOYSCREEN_DB_NAME": f"{database.name}_fresh"}
    submitted = subprocess.run([str(BIN / "alloyscreen"), "submit", str(spec)], env=env, capture_output=True,
                               text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    fresh = database.client[f"{database.name}_fresh"]
    assert fresh["campaigns"].find_one({"_id": submitted.stdout.strip()})["status"] == "created"
    assert fresh["workflows"].count_documents({}) == 1 and fresh["fireworks"].count_documents({"state": "READY"}) == 1

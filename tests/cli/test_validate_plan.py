"""``alloyscreen validate`` with a DFT calculator says what it will run and cost before it starts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pymatgen.core import Structure

from alloyscreen.validation.qe_io import kpoint_grid

pytestmark = pytest.mark.dft

BIN = Path(sys.executable).parent
TINY = {"ecutwfc": 25, "ecutrho": 200, "kspacing": 0.8, "conv_thr": 2e-6}  # this test's own calculation ids
# bcc Cu: the structure, vc-relaxed, and the fcc Cu reference, two 1-atom cells (the spin of a plan: test_plan.py)
ARGS = ("validate", "Cu", "--calculator", "qe", "--prototype", "bcc", "--settings", json.dumps(TINY), "--json")


def _validate() -> tuple[dict, str]:
    result = subprocess.run([str(BIN / "alloyscreen"), *ARGS], env=dict(os.environ), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


@pytest.mark.skipif(shutil.which("pw.x") is None, reason="pw.x not installed")
def test_a_qe_validation_prints_its_plan_first_then_finds_it_cached(database):
    report, stderr = _validate()
    plan = report["plan"]
    main, *references = plan["calculations"]
    input_structure = database["calculations"].find_one({"_id": report["calculation_id"]})["input_structure"]
    mesh = kpoint_grid(Structure.from_dict(input_structure), TINY["kspacing"])
    assert main["calculation_id"] == report["calculation_id"] and main["kpts"] == mesh
    assert stderr.startswith(f"plan (qe): Cu, 1 atom, cell {plan['cell']}; vc-relax, not spin-polarised, ecutwfc 25 "
                             f"Ry, ecutrho 200 Ry, k-points {'x'.join(map(str, mesh))}\n")
    assert [calc["role"] for calc in references] == ["reference Cu fcc"] and not main["spin"]
    assert all(calc["cached"] == "no" and calc["core_hours"] > 0 for calc in plan["calculations"])
    assert plan["core_hours"] == pytest.approx(sum(calc["core_hours"] for calc in plan["calculations"]))
    for calc in plan["calculations"]:
        assert f"{calc['role']:<28} {calc['n_atoms']:>5} {calc['mode']:<9} {'x'.join(map(str, calc['kpts'])):<9} no" \
            in stderr
    assert all(option["core_hours"] < plan["core_hours"] for option in plan["cheaper"])
    assert '--settings \'{"ecutwfc": 25, "ecutrho": 200, "kspacing": 1.28, "conv_thr": 2e-06}\'' in stderr
    assert "cheaper: --mode static: " in stderr

    again, stderr = _validate()
    assert again["reused"] and again["plan"]["core_hours"] == 0.0
    assert all(calc["cached"] == "yes" for calc in again["plan"]["calculations"])
    assert "reference Cu fcc" in stderr and " yes     -" in stderr and "estimated: 0 core-hours to run" in stderr

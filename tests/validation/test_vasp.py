"""VASP inputs from atomate2's MP makers (VASP cannot run here) and FireWorks routing of every calculator."""

from __future__ import annotations

import pytest
from jobflow.managers.fireworks import flow_to_workflow
from pymatgen.core import Lattice, Structure

from alloyscreen.validation.maker import ValidationMaker, prepare, routing, vasp_flow
from alloyscreen.validation.vasp import VaspCalculator


@pytest.fixture
def cuni() -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.cubic(3.6), ["Cu", "Ni", "Cu", "Ni"], coords)


def _write(structure, settings, mode, directory):
    calc = VaspCalculator()
    physics, _ = calc.resolve(structure, settings, mode)
    calc.input_set(structure, physics).write_input(directory)
    return {name: (directory / name).read_text() for name in ("INCAR", "KPOINTS", "POSCAR", "POTCAR.spec")}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_vc_relax_inputs_follow_the_mp_relax_set(cuni, tmp_path):
    files = _write(cuni, {}, "vc-relax", tmp_path)
    incar = dict(line.split(" = ") for line in files["INCAR"].splitlines())
    assert incar["ISIF"] == "3" and incar["ENCUT"] == "520.0" and incar["ISPIN"] == "2" and incar["NSW"] == "99"
    assert files["POTCAR.spec"].split() == ["Cu_pv", "Ni_pv"]  # MP POTCAR choices
    assert "Cu2 Ni2" in files["POSCAR"] or "Cu Ni" in files["POSCAR"]
    assert files["KPOINTS"].splitlines()[-1].split() == ["6", "6", "6"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_relax_keeps_the_cell_and_user_incar_wins(cuni, tmp_path):
    files = _write(cuni, {"incar": {"ISMEAR": 1, "SIGMA": 0.1}}, "relax", tmp_path)
    incar = dict(line.split(" = ") for line in files["INCAR"].splitlines())
    assert incar["ISIF"] == "2" and incar["ISMEAR"] == "1" and incar["SIGMA"] == "0.1"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_static_inputs(cuni, tmp_path):
    incar = dict(line.split(" = ") for line in _write(cuni, {}, "static", tmp_path)["INCAR"].splitlines())
    assert incar["NSW"] == "0" and incar["LREAL"] == "False" and "ISIF" not in incar


def test_vasp_flow_converts_to_fireworks_on_the_dft_worker(cuni):
    _, physics, _, key, claim = prepare(cuni, "vasp", {"double_relax": True}, "vc-relax")
    flow = vasp_flow(cuni, physics, key, claim, routing("dft", "cluster-a"))
    workflow = flow_to_workflow(flow)
    names = sorted(fw.name for fw in workflow.fws)
    assert len(workflow.fws) == 3 and any("record" in name for name in names)
    assert {(fw.spec["_category"], fw.spec["_fworker"]) for fw in workflow.fws} == {("dft", "cluster-a")}


@pytest.mark.parametrize(
    ("calculator", "category"), [("emt", "cheap"), ("chgnet", "cheap"), ("qe", "dft"), ("vasp", "dft")]
)
def test_validation_jobs_are_routed_by_calculator(calculator, category):
    cu = Structure(Lattice.cubic(3.6), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    job = ValidationMaker(calculator=calculator, fworker="node-1").make(cu)
    (firework,) = flow_to_workflow(job).fws
    assert firework.spec["_category"] == category and firework.spec["_fworker"] == "node-1"
    rerouted = flow_to_workflow(ValidationMaker(calculator=calculator, category="gpu").make(cu))
    assert rerouted.fws[0].spec["_category"] == "gpu"

"""A DFT label's plan: its calculations at their resolved settings, what the cache holds, what the rest costs."""

from __future__ import annotations

import shutil
import uuid

import pytest

from alloyscreen.structures.makers import StructureMaker
from alloyscreen.validation.cost import RY_EV
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.plan import cheaper_options, plan_label
from alloyscreen.validation.qe import QECalculator
from alloyscreen.validation.qe_io import kpoint_grid
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker

pytestmark = [pytest.mark.dft,
              pytest.mark.skipif(shutil.which("pw.x") is None, reason="pw.x not installed (its version is in the ids)")]
CUNI = {"Cu": 0.5, "Ni": 0.5}


@pytest.fixture
def empty_cache(database):
    """A database on the embedded server with no calculation in it."""
    name = f"{database.name}_plan_{uuid.uuid4().hex[:6]}"
    yield database.client[name]
    database.client.drop_database(name)


def test_the_plan_of_a_cuni_sqs_says_cell_spin_cutoffs_kpoints_and_references(empty_cache):
    """What a new user's ``alloyscreen validate CuNi --calculator qe`` runs, said before it runs."""
    structure = StructureMaker(method="sqs").generate(CUNI, "fcc", QECalculator.cell_atoms).structure
    label = MixingEnergyMaker(validation=ValidationMaker(calculator="qe"))
    plan = plan_label(structure, label, empty_cache)
    pool = pool_settings("qe", list(CUNI))
    main, *references = plan.calculations
    mesh = kpoint_grid(structure, QECalculator.defaults["kspacing"])
    assert (main.n_atoms, main.mode, main.spin, main.kpts) == (len(structure), "vc-relax", True, mesh)
    assert (main.ecutwfc, main.ecutrho) == (pool["ecutwfc"], pool["ecutrho"])
    _, key, crystals = label.plan(structure)
    assert main.calculation_id == key
    assert sorted(calc.role for calc in references) == sorted(f"reference {element} {crystal}" for element, found
                                                              in crystals.items() for crystal in found)
    assert all(calc.cached == "no" and calc.spin for calc in plan.calculations)
    assert plan.core_hours == pytest.approx(sum(calc.core_hours for calc in plan.calculations))
    assert plan.core_hours_range[0] < plan.core_hours < plan.core_hours_range[1]
    assert plan.wall_hours >= max(calc.core_hours for calc in plan.calculations)  # pw.x on one core
    assert main.core_hours > 10 * max(calc.core_hours for calc in references)  # 32 atoms cost more than 1
    first = plan.describe().splitlines()[0]
    assert first.startswith(f"plan (qe): CuNi, {len(structure)} atoms, cell ")
    assert first.endswith(f"vc-relax, spin-polarised, ecutwfc {pool['ecutwfc']:.4g} Ry, ecutrho "
                          f"{pool['ecutrho']:.4g} Ry, k-points {'x'.join(map(str, mesh))}")
    assert plan.model.startswith("prior (no completed qe calculation")


def test_cheaper_options_are_each_estimated_and_cheaper(empty_cache):
    structure = StructureMaker(method="sqs").generate(CUNI, "fcc", QECalculator.cell_atoms).structure
    smaller = StructureMaker(method="random", supercell=(1, 1, 1)).generate(CUNI, "fcc").structure
    label = MixingEnergyMaker(validation=ValidationMaker(calculator="qe", settings={"ecutwfc": 40.0}))
    plan = plan_label(structure, label, empty_cache)
    options = cheaper_options(structure, label, plan, smaller, "--method random --supercell 1 1 1", empty_cache)
    assert [option.option for option in options][0] == "--method random --supercell 1 1 1"
    assert {option.option for option in options} == {"--method random --supercell 1 1 1", "--mode static",
                                                     '--settings \'{"ecutwfc": 40.0, "kspacing": 0.4}\''}
    assert all(option.core_hours < plan.core_hours for option in options)
    assert [option.core_hours for option in options] == sorted(option.core_hours for option in options)
    fixed_mesh = MixingEnergyMaker(validation=ValidationMaker(calculator="qe", relax=False,
                                                              settings={"kpts": [2, 2, 2]}))
    fixed = plan_label(structure, fixed_mesh, empty_cache)
    assert cheaper_options(structure, fixed_mesh, fixed, database=empty_cache) == []  # static, mesh given


def test_the_plan_says_what_the_cache_holds_and_charges_only_what_runs(empty_cache):
    structure = StructureMaker(method="random", supercell=(1, 1, 1)).generate(CUNI, "fcc").structure
    label = MixingEnergyMaker(validation=ValidationMaker(calculator="qe", retries=1))
    before = plan_label(structure, label, empty_cache)
    main, first, *_ = before.calculations
    calculations = empty_cache["calculations"]
    calculations.insert_one({"_id": main.calculation_id, "status": "completed", "calculator": "qe"})
    calculations.insert_one({"_id": first.calculation_id, "status": "failed", "calculator": "qe", "attempts": 1})
    after = plan_label(structure, label, empty_cache)
    assert [calc.cached for calc in after.calculations[:2]] == ["yes", "rerun"]  # one retry left for the failure
    assert after.core_hours == pytest.approx(before.core_hours - main.core_hours)
    calculations.update_one({"_id": first.calculation_id}, {"$set": {"attempts": 2}})
    spent = plan_label(structure, label, empty_cache)
    assert spent.calculations[1].cached == "failed"
    assert spent.core_hours == pytest.approx(before.core_hours - main.core_hours - first.core_hours)
    assert " yes     -" in spent.describe()


def test_a_vasp_plan_reads_the_inputs_atomate2_writes(empty_cache):
    structure = StructureMaker(method="random", supercell=(1, 1, 1)).generate(CUNI, "fcc").structure
    label = MixingEnergyMaker(validation=ValidationMaker(calculator="vasp"))
    plan = plan_label(structure, label, empty_cache)
    main = plan.calculations[0]
    _, key, _ = label.plan(structure)
    physics = get_calculator("vasp").resolve(structure, {}, "vc-relax")[0]
    inputs = get_calculator("vasp").input_set(structure, physics)
    assert main.calculation_id == key and main.kpts == list(inputs.kpoints.kpts[0])
    assert main.spin == (inputs.incar["ISPIN"] == 2) and main.ecutwfc * RY_EV == pytest.approx(inputs.incar["ENCUT"])
    assert plan.wall_hours is None  # VASP runs on a cluster
    assert f"ENCUT {inputs.incar['ENCUT']:.0f} eV" in plan.describe().splitlines()[0]

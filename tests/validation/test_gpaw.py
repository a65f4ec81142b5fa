"""GPAW as a separate process: setups, settings, real plane-wave runs of tiny cells, labels and failures."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from jobflow import JobStore
from jobflow.managers.local import run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure
from tests.validation.conftest import fcc_primitive

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.validation.gpaw import INTERRUPTED, GPAWCalculator
from alloyscreen.validation.gpaw_io import DEFAULT_SETUPS_DIR, GpawProgress, select_setups
from alloyscreen.validation.maker import ValidationMaker, call_here, validate
from alloyscreen.validation.physics import check_same_physics
from alloyscreen.validation.registry import get_calculator, local_calculators
from alloyscreen.validation.targets import MixingEnergyMaker

pytestmark = pytest.mark.dft
needs_setups = pytest.mark.skipif(not os.path.isdir(DEFAULT_SETUPS_DIR), reason="no GPAW setups (gpaw-data)")
needs_gpaw = pytest.mark.skipif(shutil.which("gpaw") is None or not os.path.isdir(DEFAULT_SETUPS_DIR),
                                reason="GPAW not installed (apt-get install gpaw gpaw-data)")
FAST = {"ecut": 250.0, "kspacing": 0.5}  # eV; 1/A: 7x7x7 for a one-atom fcc cell


def b2(first: str, second: str, a: float) -> Structure:
    """Two-atom B2 (CsCl) cell of lattice constant ``a`` (A)."""
    return Structure(Lattice.cubic(a), [first, second], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_gpaw_is_a_local_dft_calculator_of_the_registry():
    calc = get_calculator("gpaw")
    assert isinstance(calc, GPAWCalculator) and "gpaw" in local_calculators()
    assert (calc.category, calc.subprocess, calc.remote, calc.universal) == ("dft", True, False, False)


@needs_setups
def test_setups_follow_the_functional_and_are_identified_by_content():
    chosen = select_setups(["Pd", "Ir", "Ag"])
    assert {el: setup.path.name for el, setup in chosen.items()} == {
        "Ag": "Ag.PBE.gz", "Ir": "Ir.PBE.gz", "Pd": "Pd.PBE.gz"}
    assert chosen["Pd"].kind == "paw" and chosen["Pd"].z_valence == 16 and len(chosen["Pd"].sha256) == 64
    eleven = select_setups(["Ag"], explicit={"Ag": "Ag.11.PBE.gz"})["Ag"]
    assert (eleven.kind, eleven.z_valence) == ("11", 11) and eleven.sha256 != chosen["Ag"].sha256
    assert select_setups(["Pd"], functional="LDA")["Pd"].sha256 != chosen["Pd"].sha256


@needs_setups
def test_bad_settings_and_elements_without_a_setup_are_one_line():
    calc = GPAWCalculator()
    with pytest.raises(AlloyscreenError, match=r"no GPAW PBE setup for La in /usr/share/gpaw-setups; available: "
                                               r"Ag, Al, .*Pd, Pt"):
        calc.resolve_pool(["Cu", "La"], {})
    with pytest.raises(AlloyscreenError, match=r"no GPAW PBE setup for La"):  # at make, before anything runs
        MixingEnergyMaker(validation=ValidationMaker(calculator="gpaw")).make(b2("Cu", "La", 3.2))
    with pytest.raises(AlloyscreenError, match=r"'functional' is 'PBEsol'; allowed: LDA, PBE, RPBE, revPBE"):
        calc.resolve_pool(["Cu"], {"functional": "PBEsol"})
    with pytest.raises(AlloyscreenError, match=r"'Ag.11.LDA.gz' is not a PBE setup of Ag"):
        calc.resolve_pool(["Ag"], {"pseudopotentials": {"Ag": "Ag.11.LDA.gz"}})
    with pytest.raises(AlloyscreenError, match=r"'smearing' is 'gauss'; allowed: marzari-vanderbilt, fermi-dirac"):
        calc.resolve_pool(["Cu"], {"smearing": "gauss"})
    with pytest.raises(AlloyscreenError, match=r"'kpts' is \[4, 4\]; allowed: three positive integers"):
        calc.resolve_pool(["Cu"], {"kpts": [4, 4]})
    with pytest.raises(AlloyscreenError, match=r"unknown gpaw setting\(s\) \['ecutwfc'\]"):
        calc.resolve_pool(["Cu"], {"ecutwfc": 30})


def test_missing_gpaw_or_setups_is_one_line_naming_the_install():
    cell = fcc_primitive("Cu", 3.61)
    with pytest.raises(AlloyscreenError, match=r"/no/such/gpaw not found on PATH: install GPAW \(apt-get install "
                                               r"gpaw gpaw-data\) or set the gpaw 'command' setting"):
        validate(cell, "gpaw", {"command": "/no/such/gpaw python"}, "static")
    with pytest.raises(AlloyscreenError, match=r"GPAW setups directory '/no/setups' does not exist: install the "
                                               r"setups \(apt-get install gpaw gpaw-data\)"):
        GPAWCalculator().resolve(cell, {"pseudo_dir": "/no/setups"}, "static")


@needs_setups
def test_spin_follows_the_pool_and_the_driver_input_fixes_directions():
    calc = GPAWCalculator()
    slab = b2("Cu", "Ni", 2.9)
    slab.add_site_property("selective_dynamics", [[False, False, False], [True, True, False]])
    physics, _ = calc.resolve(slab, {}, "relax")
    assert physics["spin"] and physics["magmoms"] == {"Cu": 0.0, "Ni": 1.0}
    assert physics["kpts"] == [9, 9, 9] and physics["pseudopotentials"] == {"Cu": "Cu.PBE.gz", "Ni": "Ni.PBE.gz"}
    given = calc.driver_input(slab, physics)
    assert given["magmoms"] == [0.0, 1.0] and given["fixed"] == [[0, [True, True, True]], [1, [False, False, True]]]
    assert given["setups"] == {"Cu": "paw", "Ni": "paw"} and given["physics"]["mode"] == "relax"
    copper, _ = calc.resolve(fcc_primitive("Cu", 3.61), calc.resolve_pool(["Cu", "Ni"], {}), "static")
    assert copper["spin"] and copper["pseudo_sha256"]["Cu"] == physics["pseudo_sha256"]["Cu"]
    assert not calc.resolve(fcc_primitive("Cu", 3.61), {}, "static")[0]["spin"]  # a Cu-only pool: no spin


def test_progress_is_read_from_gpaw_and_optimiser_lines():
    watched = GpawProgress()
    assert str(watched) == "setting up"
    watched.feed("iter:   1 14:46:50    -4.674774\niter:   8 14:46:51    -3.614970c -4.80  -2.96\n")
    assert str(watched) == "scf iteration 8, E = -3.6150 eV"
    watched.feed("      Step     Time          Energy         fmax\nBFGS:    1 14:46:52       -3.605972        0.2")
    watched.feed("149\n")
    assert str(watched) == "ionic step 2, E = -3.6060 eV"


@needs_gpaw
def test_static_pd_through_the_validation_maker(database):
    pd = fcc_primitive("Pd", 3.94)
    made = ValidationMaker(calculator="gpaw", settings=FAST, relax=False).make(pd, candidate_id="Pd-fcc")
    assert made.config.manager_config["_category"] == "dft"
    responses = run_locally(made, store=JobStore(MemoryStore()), ensure_success=True)
    output = responses[made.uuid][1].output
    doc = output.calculation
    assert not output.reused and doc.status == "completed" and doc.converged and doc.corrections == []
    assert doc.code_version.startswith("gpaw-") and " ase-" in doc.code_version
    assert doc.settings["pseudopotentials"] == {"Pd": "Pd.PBE.gz"} and doc.settings["kpts"] == [6, 6, 6]
    assert -5.0 < doc.energy < -3.0  # eV, against GPAW's atomic reference energies
    assert max(map(abs, doc.forces[0])) < 1e-6 and doc.stress is not None
    assert doc.wall_time_s > 0 and doc.core_hours == pytest.approx(doc.wall_time_s / 3600)
    again, reused = validate(pd, "gpaw", FAST, "static", database=database)
    assert reused and again.id == doc.id
    other = validate(pd, "gpaw", {**FAST, "functional": "LDA"}, "static", database=database)[0]
    assert other.id != doc.id and other.energy < doc.energy - 0.5  # LDA overbinds


@needs_gpaw
def test_mixing_energy_of_b2_cupd_against_references_at_identical_settings(database):
    maker = MixingEnergyMaker(validation=ValidationMaker(calculator="gpaw", settings=FAST))
    cupd = b2("Cu", "Pd", 3.00)
    outcome = call_here(maker.make(cupd, candidate_id="CuPd-B2"))
    assert outcome.status == "completed", outcome.error
    label = database["labels"].find_one({"_id": outcome.label_id})
    ids = [outcome.calculation_id, *label["reference_calculation_ids"]]
    docs = [CalculationDocument.from_mongo(found) for found in database["calculations"].find({"_id": {"$in": ids}})]
    assert len(docs) == 3 and {doc.formula for doc in docs} == {"CuPd", "Cu", "Pd"}
    check_same_physics(docs)  # one setups set, cutoff, smearing, functional for the label
    assert {doc.settings["mode"] for doc in docs} == {"vc-relax"}
    # B2 CuPd is the ordered phase below about 870 K: bound (-0.084 eV/atom measured here at these settings)
    assert -0.25 < outcome.value < -0.02


@needs_gpaw
def test_time_limit_and_gpaw_errors_are_failed_calculations(tmp_path):
    calc = GPAWCalculator()
    cell = fcc_primitive("Cu", 3.61)
    physics, run = calc.resolve(cell, FAST, "static")
    slow = calc.run(cell, physics, {**run, "timeout_s": 0.5}, tmp_path / "slow")
    assert (slow["status"], slow["error"]) == ("failed", "gpaw timed out after 0.5 s")
    bad = {**physics, "convergence": {"bands": "nonsense"}}
    broken = calc.run(cell, bad, run, tmp_path / "broken")
    assert broken["status"] == "failed" and "\n" not in broken["error"]
    assert broken["error"].startswith("gpaw failed: AssertionError: (no message) (")  # where GPAW stopped
    other = {**physics, "pseudo_sha256": {"Cu": "0" * 64}}
    with pytest.raises(AlloyscreenError, match=r"GPAW setup /usr/share/gpaw-setups/Cu.PBE.gz of Cu is not the one"):
        calc.run(cell, other, run, tmp_path / "other")


@needs_gpaw
def test_an_interrupted_relaxation_goes_on_from_its_last_geometry(tmp_path):
    calc = GPAWCalculator()
    cell = fcc_primitive("Cu", 3.61)
    physics, run = calc.resolve(cell, FAST, "relax")
    squeezed = cell.copy()
    squeezed.scale_lattice(cell.volume * 0.97)
    (tmp_path / "geometry.json").write_text(json.dumps({"cell": squeezed.lattice.matrix.tolist(),
                                                        "positions": squeezed.cart_coords.tolist()}))
    fields = calc.run(cell, physics, run, tmp_path)
    assert fields["status"] == "completed" and fields["corrections"][0]["reason"] == INTERRUPTED
    assert Structure.from_dict(fields["final_structure"]).volume == pytest.approx(squeezed.volume)


@needs_gpaw
def test_a_gpaw_label_states_its_cost_before_it_runs(database):
    from alloyscreen.validation.cost import is_dft
    from alloyscreen.validation.plan import cheaper_options, plan_label

    maker = MixingEnergyMaker(validation=ValidationMaker(calculator="gpaw", settings={"ecut": 400.0}))
    cupd = b2("Cu", "Pd", 3.01)
    plan = plan_label(cupd, maker, database)
    assert is_dft("gpaw") and len(plan.calculations) == 3 and plan.core_hours > 0
    assert [calc.ecutwfc for calc in plan.calculations] == pytest.approx(3 * [400.0 / 13.605693122994])  # Ry
    assert plan.calculations[0].kpts == [9, 9, 9] and plan.calculations[0].role == "structure"
    coarser = [option for option in cheaper_options(cupd, maker, plan) if "k-point spacing" in option.change]
    assert coarser and coarser[0].core_hours < plan.core_hours


@needs_gpaw
def test_spin_polarised_nickel_is_magnetic(database):
    doc, _ = validate(fcc_primitive("Ni", 3.52), "gpaw", FAST, "static", database=database)
    assert doc.status == "completed" and doc.settings["spin"] and doc.settings["magmoms"] == {"Ni": 1.0}
    assert 0.5 < doc.total_magnetization < 0.75  # Bohr magneton: about 0.6 in experiment and PBE


@needs_gpaw
def test_a_relaxation_stopped_at_its_step_limit_goes_on_from_its_last_geometry(database):
    shaken = b2("Cu", "Pd", 3.0)
    shaken.translate_sites([1], [0.03, 0.0, 0.0])
    settings = {**FAST, "steps": 1, "kpts": [3, 3, 3]}
    first, _ = validate(shaken, "gpaw", settings, "relax", database=database)
    assert first.status == "failed" and first.error.startswith("not converged: gpaw relax of Cu1Pd1 stopped at its "
                                                               "step limit (1 BFGS steps) with fmax")
    assert first.final_structure is not None and first.energy is None
    again, _ = validate(shaken, "gpaw", settings, "relax", database=database, retries=3)
    assert again.id == first.id and again.status == "completed" and again.attempts >= 2
    assert again.corrections[0].changes == {"steps": 2, "restart_from": "last geometry"}
    assert max(max(map(abs, force)) for force in again.forces) < settings.get("fmax", 0.03)

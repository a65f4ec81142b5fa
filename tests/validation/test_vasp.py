"""VASP through atomate2's MP makers: inputs, real outputs parsed with VASP faked (it cannot run here), routing."""

from __future__ import annotations

import numpy as np
import pytest
from emmet.core.tasks import CustodianDoc, TaskDoc
from jobflow.managers.fireworks import flow_to_workflow
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Incar, Poscar, Vasprun
from tests.validation.vasp_fake import DATA, Expected, FakeVasp, install

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
    prepared = prepare(cuni, "vasp", {"double_relax": True}, "vc-relax")
    physics, key, claim = prepared.physics, prepared.key, prepared.claim
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
    assert job.config.manager_config["worker"] == category  # jobflow-remote's worker: one per category
    rerouted = flow_to_workflow(ValidationMaker(calculator=calculator, category="gpu").make(cu))
    assert rerouted.fws[0].spec["_category"] == "gpu"


# --- atomate2 jobs on real VASP outputs (custodian's test files, tests/data/vasp), VASP faked as atomate2 does ---

AG_REASON = "VASP relaxation did not converge ionically in 2 steps (NSW = 2)"


@pytest.fixture
def fake_vasp(monkeypatch) -> FakeVasp:
    return install(monkeypatch)


@pytest.fixture
def feo() -> Structure:
    """The FeO cell of custodian's run, with its antiferromagnetic start (INCAR MAGMOM = 5 -5 2*0.6)."""
    structure = Structure.from_file(DATA / "feo-relax" / "POSCAR.gz")
    structure.add_site_property("magmom", [5.0, -5.0, 0.6, 0.6])
    return structure


@pytest.fixture
def ag() -> Structure:
    """The initial Ag cell of the unconverged run (its vasprun.xml holds no POSCAR)."""
    vasprun = Vasprun(DATA / "ag-relax-unconverged" / "vasprun.xml.gz", parse_dos=False, parse_eigen=False,
                      parse_potcar_file=False)
    return vasprun.initial_structure


MP_RELAX = {"ISIF": 3, "IBRION": 2, "NSW": 99, "ENCUT": 520.0, "ISPIN": 2, "EDIFF": 2e-4}
FEO_RELAX = Expected("feo-relax", {**MP_RELAX, "LDAU": True, "LDAUU": [5.3, 0.0], "MAGMOM": [5.0, -5.0, 0.6, 0.6]},
                     potcar=["Fe_pv", "O"], species=["Fe", "Fe", "O", "O"])
AG_RELAX = Expected("ag-relax-unconverged", MP_RELAX, potcar=["Ag"], species=["Ag"] * 4, kpoints=(6, 6, 6))


def _physics(structure: Structure, mode: str, settings: dict | None = None) -> dict:
    return VaspCalculator().resolve(structure, settings or {}, mode)[0]


def _task(fake: FakeVasp, maker, structure: Structure, root) -> TaskDoc:
    job = maker.make(structure)
    return fake.run(job, root)[job.uuid][1].output


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_al_static_through_the_atomate2_job(fake_vasp, tmp_path):
    al = Structure.from_file(DATA / "al-static" / "POSCAR.gz")
    calc = VaspCalculator()
    fake_vasp.expect("MP GGA static", Expected(
        "al-static", {"NSW": 0, "ISPIN": 2, "ENCUT": 520.0, "ISMEAR": -5, "LREAL": False, "MAGMOM": [0.6]},
        potcar=["Al"], species=["Al"], kpoints=(11, 11, 11)))
    task = _task(fake_vasp, calc.maker(_physics(al, "static")), al, tmp_path)
    assert [run["job"] for run in fake_vasp.checked] == ["MP GGA static"]
    assert fake_vasp.parsed_without_outcar == ["MP GGA static"]  # custodian kept vasprun.xml only
    assert task.state == "successful" and task.task_label == "MP GGA static"
    fields = calc.fields_from_task(task)
    assert (fields["status"], fields["converged"], fields["error"]) == ("completed", True, None)
    # vasprun.xml, last <calculation> (2nd ionic step): e_fr_energy = e_wo_entrp = -3.74599651 eV; its e_0_energy
    # reads 0.00000000 (a VASP bug in vasprun.xml that pymatgen's final_energy corrects); 1 atom.
    assert fields["energy"] == pytest.approx(-3.74599651, abs=1e-8)
    assert fields["energy_per_atom"] == pytest.approx(-3.74599651, abs=1e-8)
    # same <calculation>: stress diagonal -1.29096679 kbar (VASP, pressure-like) -> ASE stress +0.129096679 GPa
    assert np.allclose(fields["stress"], np.diag([0.129096679] * 3), atol=1e-9)
    assert fields["forces"] == [[0.0, 0.0, 0.0]] and fields["n_ionic_steps"] == 2
    assert fields["magmoms"] is None  # no OUTCAR, no site moments
    # <structure name="finalpos">: basis vectors (0, 2.01843671, 2.01843671) ...
    assert Structure.from_dict(fields["final_structure"]).lattice.a == pytest.approx(2.01843671 * 2**0.5, abs=1e-6)
    # the last ionic step took 8 electronic steps (vasprun.xml); had NELM been 8, that is no convergence
    calc_doc = task.calcs_reversed[0]
    assert task.calcs_reversed[0].output.num_electronic_steps == [6, 8]
    short = calc_doc.input.model_copy(update={"parameters": {**calc_doc.input.parameters, "NELM": 8}})
    starved = task.model_copy(update={"calcs_reversed": [calc_doc.model_copy(update={"input": short})]})
    assert calc.fields_from_task(starved)["error"] == (
        "VASP did not converge electronically: 8 electronic steps reached NELM = 8")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_afm_feo_relax_through_the_atomate2_job(fake_vasp, feo, tmp_path, monkeypatch):
    calc = VaspCalculator()
    physics = _physics(feo, "vc-relax")
    fake_vasp.expect("MP GGA relax", FEO_RELAX)
    task = _task(fake_vasp, calc.maker(physics), feo, tmp_path / "run")
    assert fake_vasp.parsed_without_outcar == []  # complete run dir: atomate2's own parser (TaskDoc.from_directory)
    monkeypatch.setenv("SLURM_JOB_ID", "4711")  # recorded by a later SLURM job than the one VASP ran in
    monkeypatch.setenv("SLURM_CPUS_ON_NODE", "1")
    fields = calc.fields_from_task(task)
    assert (fields["status"], fields["converged"], fields["error"]) == ("completed", True, None)
    # vasprun.xml, 28th (last) <calculation>: e_fr_energy -28.21851457 eV (OSZICAR step 28: F= -.28218515E+02), 4 atoms
    assert fields["energy"] == pytest.approx(-28.21851457, abs=1e-8)
    assert fields["energy_per_atom"] == pytest.approx(-7.0546286425, abs=1e-9)
    assert fields["n_ionic_steps"] == 28
    # OUTCAR, last "magnetization (x)" table, column tot; cell total: "number of electron 28.0000001 magnetization
    # 4.0000000" (OSZICAR mag= 4.0000). The run started AFM (MAGMOM 5 -5) and did not stay so: both Fe point up.
    assert fields["magmoms"] == pytest.approx([3.007, 1.397, -0.189, -0.189], abs=1e-9)
    assert fields["total_magnetization"] == pytest.approx(4.0, abs=1e-9)
    assert fields["magmoms"][0] > 0 and fields["magmoms"][1] > 0
    # same <calculation>: stress row 1 = -1.98922371 0.45088981 -1.67841052 kbar -> ASE sign, GPa
    assert fields["stress"][0] == pytest.approx([0.198922371, -0.045088981, 0.167841052], abs=1e-9)
    # OUTCAR: "running on 12 total cores", "Elapsed time (sec): 82.845" (emmet's "overall" sum, not counted twice)
    assert (fields["n_cores"], fields["cores_from"], fields["wall_time_s"]) == (12, "program", pytest.approx(82.845))
    written = calc.write_inputs(feo, physics, tmp_path / "submit")  # what a user submits = what the job wrote
    assert Incar.from_file(tmp_path / "submit" / written[0]) == fake_vasp.checked[0]["incar"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_unconverged_ag_relax_is_recorded_as_failed(fake_vasp, ag, tmp_path):
    calc = VaspCalculator()
    fake_vasp.expect("MP GGA relax", AG_RELAX)
    task = _task(fake_vasp, calc.maker(_physics(ag, "vc-relax")), ag, tmp_path)
    calc_doc = task.calcs_reversed[0]
    assert task.state == "failed" and calc_doc.has_vasp_completed == "failed"
    assert calc_doc.input.parameters["NSW"] == 2 and len(calc_doc.output.ionic_steps) == 2
    fields = calc.fields_from_task(task)
    assert (fields["status"], fields["converged"], fields["error"]) == ("failed", False, AG_REASON)
    assert "energy" not in fields and "final_structure" not in fields  # nothing to label from
    # Even a task whose states claim success is judged by its steps: 2 ionic steps of NSW = 2.
    forged_calc = calc_doc.model_copy(update={"has_vasp_completed": "successful"})
    forged = task.model_copy(update={"state": "successful", "calcs_reversed": [forged_calc]})
    assert (calc.fields_from_task(forged)["status"], calc.fields_from_task(forged)["error"]) == ("failed", AG_REASON)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_atomate2_default_raises_on_the_unconverged_run(fake_vasp, ag, tmp_path):
    from atomate2.vasp.jobs.mp import MPGGARelaxMaker

    fake_vasp.expect("MP GGA relax", AG_RELAX)
    job = MPGGARelaxMaker().make(ag)  # atomate2's default VASP_HANDLE_UNSUCCESSFUL = "error"
    with pytest.raises(RuntimeError, match="Job was not successful"):
        fake_vasp.run(job, tmp_path)
    assert len(fake_vasp.checked) == 1  # inputs written and checked, outputs parsed, then atomate2 raised


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fake_vasp_refuses_inputs_the_stage_does_not_imply(fake_vasp, feo, tmp_path):
    fake_vasp.expect("MP GGA relax", Expected("feo-relax", {"ENCUT": 400.0}, potcar=["Fe_pv", "O"],
                                              species=["Fe", "Fe", "O", "O"]))
    with pytest.raises(AssertionError, match="INCAR ENCUT = 520.0, expected 400.0"):
        _task(fake_vasp, VaspCalculator().maker(_physics(feo, "vc-relax")), feo, tmp_path)
    assert fake_vasp.checked == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_custodian_corrections_are_recorded(fake_vasp, feo, tmp_path):
    fake_vasp.expect("MP GGA relax", FEO_RELAX)
    task = _task(fake_vasp, VaspCalculator().maker(_physics(feo, "vc-relax")), feo, tmp_path)
    correction = {"errors": ["brmix"], "actions": [{"dict": "INCAR", "action": {"_set": {"IMIX": 1, "ISYM": 0}}}]}
    task = task.model_copy(update={"custodian": [CustodianDoc(corrections=[correction], job={})]})
    fields = VaspCalculator().fields_from_task(task)
    assert fields["corrections"] == [{"step": 1, "reason": "custodian: brmix", "changes": {"IMIX": 1, "ISYM": 0}}]
    assert fields["status"] == "completed"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "status"), [("ag", "failed"), ("feo", "completed")])
def test_validation_maker_stores_the_vasp_outcome(fake_vasp, database, request, tmp_path, name, status):
    structure = request.getfixturevalue(name)
    fake_vasp.expect("MP GGA relax", AG_RELAX if name == "ag" else FEO_RELAX)
    fake_vasp.run(ValidationMaker(calculator="vasp").make(structure), tmp_path / "first")
    key = prepare(structure, "vasp", {}, "vc-relax").key
    stored = database["calculations"].find_one({"_id": key})
    assert stored["status"] == status and stored["calculator"] == "vasp"
    assert stored["error"] == (AG_REASON if name == "ag" else None)
    assert (stored["energy"] is None) == (name == "ag")
    responses = fake_vasp.run(ValidationMaker(calculator="vasp").make(structure), tmp_path / "again")
    (output,) = [response[1].output for response in responses.values()]
    assert output.reused and output.calculation.status == status and len(fake_vasp.checked) == 1  # not rerun


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_write_inputs_for_a_user_to_submit(cuni, tmp_path):
    calc = VaspCalculator()
    physics = _physics(cuni, "vc-relax", {"double_relax": True, "incar": {"ISMEAR": 1, "SIGMA": 0.1}})
    written = calc.write_inputs(cuni, physics, tmp_path / "new")
    assert written == ["INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"]
    assert sorted(path.name for path in (tmp_path / "new").iterdir()) == sorted(written)  # no POTCAR
    incar = Incar.from_file(tmp_path / "new" / "INCAR")
    assert (incar["ENCUT"], incar["ISIF"], incar["IBRION"], incar["NSW"], incar["ISPIN"]) == (520.0, 3, 2, 99, 2)
    assert (incar["ISMEAR"], incar["SIGMA"]) == (1, 0.1)  # the user's INCAR settings win
    assert (tmp_path / "new" / "POTCAR.spec").read_text().split() == ["Cu_pv", "Ni_pv"]
    poscar = Poscar.from_file(tmp_path / "new" / "POSCAR")
    assert poscar.site_symbols == ["Cu", "Ni"] and poscar.natoms == [2, 2]

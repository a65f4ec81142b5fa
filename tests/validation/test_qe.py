"""Quantum ESPRESSO: pseudopotentials, inputs, real pw.x on one-atom cells, corrections and failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.validation.conftest import fcc_primitive

from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import validate
from alloyscreen.validation.pseudo import (
    DEFAULT_PSEUDO_DIR,
    normalise_functional,
    select_pseudopotentials,
    suggested_cutoffs,
)
from alloyscreen.validation.qe import QECalculator
from alloyscreen.validation.qe_io import classify_output, kpoint_grid, parse_duration

needs_pw = pytest.mark.skipif(shutil.which("pw.x") is None, reason="pw.x not installed")
needs_pseudo = pytest.mark.skipif(shutil.os.path.isdir(DEFAULT_PSEUDO_DIR) is False, reason="no QE pseudopotentials")
FAST = {"ecutwfc": 25.0, "ecutrho": 200.0, "kpts": [4, 4, 4], "conv_thr": 1e-6}


def test_functional_names_are_normalised():
    assert normalise_functional(" SLA  PW   PBX  PBC ") == "PBE"
    assert normalise_functional("SLA PW PBE PBE") == "PBE"
    assert normalise_functional("SLA PW PSX PSC") == "PBESOL"
    assert normalise_functional("PBE") == "PBE"


@needs_pseudo
def test_default_registry_picks_scalar_relativistic_pbe_files_with_header_cutoffs():
    chosen = select_pseudopotentials(["Cu", "Ni", "Fe", "Pt", "H"])
    assert chosen["Cu"].path.name == "Cu.pbe-kjpaw.UPF"
    assert chosen["Ni"].path.name == "Ni.pbe-spn-kjpaw_psl.1.0.0.UPF"  # not the fully relativistic one
    assert chosen["Pt"].path.name == "Pt.rel-pbe-n-rrkjus.UPF"  # the only PBE Pt
    assert {p.functional for p in chosen.values()} == {"PBE"}
    assert suggested_cutoffs({"Cu": chosen["Cu"]}) == (47.2, 188.9)  # from the Cu header


@needs_pseudo
def test_missing_element_lists_what_is_available():
    with pytest.raises(AlloyscreenError, match=r"no PBE pseudopotential for Mo in .*; available: .*Cr, Cu, Fe"):
        select_pseudopotentials(["Cu", "Mo"])


@needs_pseudo
def test_mixed_functionals_are_refused():
    explicit = {"Ni": "Ni.pbesol-n-kjpaw_psl.0.1.UPF"}
    with pytest.raises(AlloyscreenError, match=r"mix functionals \['PBE', 'PBESOL'\]"):
        select_pseudopotentials(["Cu", "Ni"], explicit=explicit)


def test_kpoint_grid_follows_the_density():
    cell = fcc_primitive("Cu", 3.61)
    coarse, fine = kpoint_grid(cell, 0.5), kpoint_grid(cell, 0.2)
    assert coarse == [7, 7, 7] and fine[0] > coarse[0]


def test_pw_output_classification():
    bar = "%" * 40
    crashed = f"\n {bar}\n     Error in routine cdiaghg (11):\n     S matrix not positive definite\n {bar}\n"
    expected = "pw.x error in routine cdiaghg (11): S matrix not positive definite"
    assert classify_output(crashed, 1, "scf").reason == expected
    assert classify_output("Program PWSCF v.6.7MaX starts", -9, "scf").reason.startswith("pw.x killed by signal 9")
    assert parse_duration("1h 2m") == 3720.0 and parse_duration("3m45.50s") == 225.5


@needs_pw
@needs_pseudo
def test_scf_of_one_atom_copper(database):
    doc, reused = validate(fcc_primitive("Cu", 3.61), "qe", FAST, "static", database=database)
    assert not reused and doc.status == "completed" and doc.converged and doc.corrections == []
    assert -2901.5 < doc.energy < -2900.0  # eV, PAW Cu with 11 valence electrons
    assert doc.forces == [[0.0, 0.0, 0.0]]
    assert doc.code_version.startswith("pw.x-v.6") and doc.settings["pseudopotentials"] == {"Cu": "Cu.pbe-kjpaw.UPF"}
    assert doc.wall_time_s > 0 and doc.core_hours == pytest.approx(doc.wall_time_s / 3600)
    again, reused = validate(fcc_primitive("Cu", 3.61), "qe", FAST, "static", database=database)
    assert reused and again.id == doc.id


@needs_pw
@needs_pseudo
def test_one_electronic_step_is_corrected_and_recorded(database):
    doc, _ = validate(fcc_primitive("Cu", 3.60), "qe", {**FAST, "electron_maxstep": 1}, "static", database=database)
    assert doc.status == "completed"
    assert [c.model_dump() for c in doc.corrections] == [{
        "step": 1, "reason": "SCF not converged after 1 iterations",
        "changes": {"mixing_beta": 0.35, "electron_maxstep": 200},
    }]
    assert doc.settings["electron_maxstep"] == 1  # the id keeps the requested settings


@needs_pw
@needs_pseudo
def test_corrections_stop_at_the_limit_and_the_failure_is_stored(database):
    settings = {**FAST, "electron_maxstep": 1, "max_corrections": 0}
    doc, _ = validate(fcc_primitive("Cu", 3.59), "qe", settings, "static", database=database)
    assert doc.status == "failed" and doc.converged is False
    assert doc.error == "SCF not converged after 1 iterations; gave up after 0 correction(s)"
    assert database["calculations"].find_one({"_id": doc.id})["status"] == "failed"


@needs_pw
@needs_pseudo
def test_killed_pw_is_a_failed_calculation_not_an_exception(database):
    settings = {**FAST, "kpts": [16, 16, 16], "ecutwfc": 40.0, "command": "timeout -s KILL 1 pw.x"}
    doc, _ = validate(fcc_primitive("Cu", 3.58), "qe", settings, "static", database=database)
    assert doc.status == "failed"
    assert doc.error == "pw.x killed by signal 9 before finishing (no JOB DONE in output)"


@needs_pw
@needs_pseudo
def test_pw_error_message_is_parsed(database):
    settings = {**FAST, "input_data": {"system": {"nbnd": 2}}}
    doc, _ = validate(fcc_primitive("Cu", 3.57), "qe", settings, "static", database=database)
    assert doc.status == "failed" and doc.error.startswith("pw.x error in routine")
    assert "bands" in doc.error


@needs_pw
@needs_pseudo
def test_spin_polarised_nickel_is_magnetic(database):
    settings = {"ecutwfc": 30.0, "ecutrho": 240.0, "kpts": [4, 4, 4], "conv_thr": 1e-6}
    doc, _ = validate(fcc_primitive("Ni", 3.52), "qe", settings, "static", database=database)
    assert doc.settings["spin"] is True and doc.settings["magmoms"] == {"Ni": 1.0}
    assert 0.3 < doc.total_magnetization < 0.9  # Bohr magneton per Ni atom


def test_no_pw_installed_is_one_line(cu_fcc):
    with pytest.raises(AlloyscreenError, match=r"no-such-pw\.x not found on PATH: install Quantum ESPRESSO"):
        validate(cu_fcc, "qe", {"command": "no-such-pw.x"}, "static")


def test_unknown_namelist_is_refused(cu_fcc):
    with pytest.raises(AlloyscreenError, match=r"unknown pw.x namelist\(s\) \['sistem'\]"):
        QECalculator().resolve(cu_fcc, {"input_data": {"sistem": {}}}, "static")


@needs_pseudo
def test_input_file_has_spin_cutoffs_and_kpoints():
    from alloyscreen.validation.qe_io import write_input

    calc = QECalculator()
    fe = fcc_primitive("Fe", 3.45)
    physics, _ = calc.resolve(fe, {"kpts": [3, 3, 3]}, "vc-relax")
    text = write_input(fe, calc.namelists(physics, physics), physics["pseudopotentials"], physics["kpts"],
                       calc.starting_magnetization(fe, physics))
    assert "calculation = 'vc-relax'" in text and "&CELL" in text
    assert "nspin = 2" in text and "starting_magnetization(1) = 0.1875" in text  # 3 muB / 16 valence electrons
    assert "ecutwfc = 63.9" in text and "ecutrho = 781.7" in text
    assert "K_POINTS automatic\n  3 3 3 0 0 0" in text


@needs_pw
@needs_pseudo
def test_fully_relativistic_platinum_runs_with_spin_orbit(database):
    from alloyscreen.validation.qe_io import write_input

    calc = QECalculator()
    pt = fcc_primitive("Pt", 3.97)
    physics, _ = calc.resolve(pt, {"kspacing": 0.6}, "static")
    text = write_input(pt, calc.namelists(physics, physics), physics["pseudopotentials"], physics["kpts"],
                       calc.starting_magnetization(pt, physics))
    assert physics["pseudopotentials"] == {"Pt": "Pt.rel-pbe-n-rrkjus.UPF"}
    assert "noncolin = .true." in text and "lspinorb = .true." in text and "nspin" not in text
    document, _ = validate(pt, "qe", {"kspacing": 0.6}, "static")
    assert document.status == "completed" and document.converged, document.error
    assert document.energy_per_atom < -1000  # eV: the whole valence of a Pt atom
    cu = fcc_primitive("Cu", 3.61)
    assert not calc.resolve(cu, {"kspacing": 0.6}, "static")[0]["spin_orbit"]


@needs_pseudo
def test_an_antiferromagnetic_start_stays_antiferromagnetic(database):
    from alloyscreen.structures.elements import antiferromagnetic_crystals
    from alloyscreen.validation.maker import validate
    from alloyscreen.validation.physics import pool_settings

    settings = pool_settings("qe", ["Cr"], {"ecutwfc": 30, "ecutrho": 240, "kspacing": 0.6, "conv_thr": 1e-6})
    afm = antiferromagnetic_crystals("Cr")["bcc-afm"]
    doc, _ = validate(afm, "qe", settings, "static", database=database)
    assert doc.status == "completed", doc.error
    up, down = doc.magmoms
    assert up > 0.3 and down < -0.3 and abs(doc.total_magnetization) < 0.05  # about ±0.8 muB at 2.88 Å
    text = (Path(doc.directory.split(":", 1)[1]) / "pw-0.in").read_text()
    assert "starting_magnetization(1) = 0.142857" in text and "starting_magnetization(2) = -0.142857" in text
    plain = afm.copy()
    plain.remove_site_property("magmom")
    assert validate(plain, "qe", settings, "static", database=database)[0].id != doc.id  # the start is an input

"""Quantum ESPRESSO: pseudopotentials, inputs, real pw.x on one-atom cells, corrections and failures."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ase.io import read
from pymatgen.core import Structure
from tests.validation.conftest import fcc_primitive

from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import validate
from alloyscreen.validation.pseudo import (
    DEFAULT_PSEUDO_DIR,
    normalise_functional,
    select_pseudopotentials,
    suggested_cutoffs,
)
from alloyscreen.validation.qe import INTERRUPTED, SLURM_MARGIN_S, QECalculator, max_seconds
from alloyscreen.validation.qe_io import classify_output, final_fields, kpoint_grid, parse_duration

pytestmark = pytest.mark.dft
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
    stopped = "     Maximum CPU time exceeded\n\n     max_seconds     =       0.60\n     elapsed seconds =       0.62\n"
    outcome = classify_output(stopped + "   JOB DONE.\n", 2, "scf")  # pw.x 6.7 exits with 2 (or 255) there
    assert (outcome.kind, outcome.reason) == ("stopped", "stopped at max_seconds (0.60 s, 0.62 s elapsed)")


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
def test_a_vc_relax_that_loses_its_symmetry_goes_on_from_its_last_geometry(database):
    """hcp Mg at a coarse k-spacing: pw.x stops in checkallsym after a few BFGS steps (seen every time here)."""
    a, c = 3.21, 5.21304
    hcp = Structure([[a, 0, 0], [-a / 2, a * 3**0.5 / 2, 0], [0, 0, c]], ["Mg", "Mg"],
                    [[0, 0, 0], [1 / 3, 2 / 3, 0.5]])
    settings = {"functional": "PZ", "ecutwfc": 25.0, "ecutrho": 200.0, "kspacing": 0.8, "conv_thr": 1e-6,
                "mixing_beta": 0.3}
    doc, _ = validate(hcp, "qe", settings, "vc-relax", database=database)
    assert doc.status == "completed", doc.error
    assert [c.changes for c in doc.corrections] == [{"restart_from": "last geometry"}]
    assert "checkallsym" in doc.corrections[0].reason


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


def test_max_seconds_comes_from_the_setting_the_time_limit_or_the_slurm_time_left(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert max_seconds({"max_seconds": None, "timeout_s": None}) is None
    assert max_seconds({"max_seconds": None, "timeout_s": 1000}) == 900.0  # pw.x stops itself before the kill
    assert max_seconds({"max_seconds": 50, "timeout_s": 1000}) == 50.0
    squeue = tmp_path / "squeue"
    squeue.write_text('#!/bin/sh\n[ "$*" = "-h -j 42 -o %L" ] && echo "$TIME_LEFT"\n')
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("TIME_LEFT", "1-00:10:00")
    assert max_seconds({"max_seconds": None, "timeout_s": None}) == 86400 + 600 - SLURM_MARGIN_S
    assert max_seconds({"max_seconds": 50, "timeout_s": None}) == 50.0  # the smaller wins
    monkeypatch.setenv("TIME_LEFT", "2:03:04")
    assert max_seconds({"max_seconds": None, "timeout_s": 1e5}) == 7384 - SLURM_MARGIN_S
    monkeypatch.setenv("TIME_LEFT", "4:00")  # a short job: a tenth of its time left for the restart files
    assert max_seconds({"max_seconds": None, "timeout_s": None}) == pytest.approx(216.0)
    monkeypatch.setenv("TIME_LEFT", "UNLIMITED")
    assert max_seconds({"max_seconds": None, "timeout_s": 100}) == 90.0
    monkeypatch.setenv("SLURM_JOB_ID", "43")  # squeue fails
    assert max_seconds({"max_seconds": None, "timeout_s": None}) is None
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no squeue at all
    assert max_seconds({"max_seconds": None, "timeout_s": 100}) == 90.0


@needs_pw
@needs_pseudo
def test_scf_stopped_at_max_seconds_goes_on_to_the_energy_of_an_uninterrupted_run(tmp_path):
    calc = QECalculator()
    cu = fcc_primitive("Cu", 3.56)
    settings = {**FAST, "kpts": [8, 8, 8]}  # about 7 SCF iterations, 3 s
    physics, run = calc.resolve(cu, settings, "static")
    whole = calc.run(cu, physics, run, tmp_path / "whole")
    limited_physics, limited = calc.resolve(cu, {**settings, "max_seconds": 0.6 * whole["wall_time_s"]}, "static")
    assert limited_physics == physics  # a run setting: the calculation id stays
    fields = calc.run(cu, physics, limited, tmp_path / "stopped")
    assert fields["status"] == "completed", fields["error"]
    assert fields["corrections"][0]["reason"].startswith("stopped at max_seconds (")
    assert {str(c["changes"]) for c in fields["corrections"]} == {"{'restart_mode': 'restart'}"}
    assert "max_seconds = " in (tmp_path / "stopped" / "pw-0.in").read_text()
    resumed = (tmp_path / "stopped" / f"pw-{len(fields['corrections'])}.out").read_text()
    assert "Calculation restarted from scf iteration" in resumed
    assert resumed.count("iteration #") < (tmp_path / "whole" / "pw-0.out").read_text().count("iteration #")
    assert abs(fields["energy"] - whole["energy"]) < 1e-4  # eV


@needs_pw
@needs_pseudo
def test_killed_scf_without_restart_files_is_run_again_from_scratch(tmp_path):
    calc = QECalculator()
    cu = fcc_primitive("Cu", 3.55)
    physics, run = calc.resolve(cu, {**FAST, "kpts": [8, 8, 8], "command": "timeout -s KILL 1 pw.x"}, "static")
    assert calc.run(cu, physics, run, tmp_path)["status"] == "failed"
    assert not (tmp_path / "tmp" / "pw.save").exists()  # pw.x writes its restart files at the end of an SCF
    fields = calc.run(cu, physics, {**run, "command": "pw.x"}, tmp_path)
    assert fields["status"] == "completed", fields["error"]
    assert fields["corrections"] == [{"step": 1, "reason": INTERRUPTED, "changes": {"restart_from": "scratch"}}]
    assert sorted(path.name for path in tmp_path.glob("pw-*")) == ["pw-0.in", "pw-0.out", "pw-1.in", "pw-1.out"]


RELAX = fcc_primitive("Cu", 3.50)  # with FAST settings a vc-relax of 6 ionic steps and a final SCF, about 13 s
_RUN_QE = """
import json, sys
from pathlib import Path
from pymatgen.core import Structure
from alloyscreen.validation.qe import QECalculator
structure, calc = Structure.from_dict(json.loads(sys.argv[1])), QECalculator()
physics, run = calc.resolve(structure, json.loads(sys.argv[2]), "vc-relax")
calc.run(structure, physics, run, Path(sys.argv[3]))
"""


@pytest.fixture(scope="module")
def relaxed(tmp_path_factory) -> dict:
    """The uninterrupted vc-relax of ``RELAX``."""
    calc = QECalculator()
    physics, run = calc.resolve(RELAX, FAST, "vc-relax")
    return calc.run(RELAX, physics, run, tmp_path_factory.mktemp("relaxed"))


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> Path:
    """The run directory of a vc-relax of ``RELAX`` killed (SIGKILL: Python and pw.x) in its third ionic step."""
    directory = tmp_path_factory.mktemp("killed") / "run"
    child = subprocess.Popen([sys.executable, "-c", _RUN_QE, json.dumps(RELAX.as_dict()), json.dumps(FAST),
                              str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    output, deadline = directory / "pw-0.out", time.monotonic() + 60
    try:
        while not (output.exists() and output.read_text().count("Self-consistent Calculation") >= 3):
            assert child.poll() is None and time.monotonic() < deadline, "pw.x ended before its third ionic step"
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # as a batch system at its walltime: the whole job, no warning
        child.wait()
    return directory


def _resume_killed(killed: Path, directory: Path) -> dict:
    """Copy the killed run directory to ``directory`` and run the same vc-relax there again."""
    shutil.copytree(killed, directory)
    calc = QECalculator()
    physics, run = calc.resolve(RELAX, FAST, "vc-relax")
    return calc.run(RELAX, physics, run, directory)


def _same_minimum(fields: dict, relaxed: dict) -> bool:
    """Whether two vc-relax results agree within what the relaxation thresholds allow (eV, A^3)."""
    volume = Structure.from_dict(fields["final_structure"]).volume
    return (abs(fields["energy"] - relaxed["energy"]) < 2e-3
            and abs(volume - Structure.from_dict(relaxed["final_structure"]).volume) < 0.03)


@needs_pw
@needs_pseudo
def test_vc_relax_killed_from_outside_resumes_from_its_restart_files(killed, relaxed, tmp_path):
    fields = _resume_killed(killed, tmp_path / "run")
    assert fields["status"] == "completed", fields["error"]
    assert fields["corrections"] == [{"step": 1, "reason": INTERRUPTED, "changes": {"restart_mode": "restart"}}]
    old = (killed / "pw-0.out").read_text()
    assert (tmp_path / "run" / "pw-0.out").read_text() == old and "JOB DONE" not in old  # kept as it was
    assert "restart_mode = 'restart'" in (tmp_path / "run" / "pw-1.in").read_text()
    cycles = re.findall(r"number of scf cycles\s+=\s+(\d+)", (tmp_path / "run" / "pw-1.out").read_text())
    assert int(cycles[0]) == old.count("Self-consistent Calculation")  # goes on with the ionic step it was in
    assert _same_minimum(fields, relaxed)


@needs_pw
@needs_pseudo
def test_killed_vc_relax_without_restart_files_starts_from_its_last_geometry(killed, tmp_path):
    shutil.copytree(killed, tmp_path / "lost")
    shutil.rmtree(tmp_path / "lost" / "tmp")  # e.g. an outdir on a node's scratch disk
    fields = _resume_killed(tmp_path / "lost", tmp_path / "run")
    assert fields["status"] == "completed", fields["error"]
    assert fields["corrections"] == [{"step": 1, "reason": INTERRUPTED, "changes": {"restart_from": "last geometry"}}]
    start = read(tmp_path / "run" / "pw-1.in", format="espresso-in").get_volume()
    last = final_fields(killed / "pw-0.out")[0].volume
    assert start == pytest.approx(last, abs=1e-6) and abs(last - RELAX.volume) > 0.3
    # no comparison with the uninterrupted minimum: pw.x builds a new plane-wave basis for the new cell, and at
    # FAST's cutoff that moves the minimum (Pulay stress) as much as any restart from a last geometry does


@needs_pw
@needs_pseudo
def test_corrupt_restart_files_fall_back_to_scratch_once(killed, relaxed, tmp_path):
    shutil.copytree(killed, tmp_path / "corrupt")
    xml = tmp_path / "corrupt" / "tmp" / "pw.save" / "data-file-schema.xml"
    xml.write_text(xml.read_text()[:3000])
    fields = _resume_killed(tmp_path / "corrupt", tmp_path / "run")
    assert fields["status"] == "completed", fields["error"]
    interrupted, fallback = fields["corrections"]
    assert interrupted == {"step": 1, "reason": INTERRUPTED, "changes": {"restart_mode": "restart"}}
    assert fallback["reason"].startswith("resuming failed: pw.x ")
    assert fallback["changes"] == {"restart_from": "scratch"}
    assert "restart_mode = 'from_scratch'" in (tmp_path / "run" / "pw-2.in").read_text()
    assert read(tmp_path / "run" / "pw-2.in", format="espresso-in").get_volume() == pytest.approx(RELAX.volume)
    assert _same_minimum(fields, relaxed)

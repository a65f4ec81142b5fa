"""Progress of long calculations: the throttled status line, pw.x output read as it grows, ASE steps."""

from __future__ import annotations

import io
import re
import shutil
import sys
import time
import types

import pytest
from tests.validation.conftest import fcc_primitive

from alloyscreen import progress
from alloyscreen.validation import qe
from alloyscreen.validation.emt import EMTCalculator
from alloyscreen.validation.pseudo import DEFAULT_PSEUDO_DIR
from alloyscreen.validation.qe import PwProgress, QECalculator

needs_pw = pytest.mark.skipif(shutil.which("pw.x") is None or not shutil.os.path.isdir(DEFAULT_PSEUDO_DIR),
                              reason="pw.x or its pseudopotentials not installed")
FAST = {"ecutwfc": 25.0, "ecutrho": 200.0, "kspacing": 0.6, "conv_thr": 1e-6}

# Lines of a real pw.x 6.7 vc-relax of compressed fcc Cu (1 atom, PAW PBE), cut down: the header's nstep
# line, the first SCF cycle, the BFGS summary, the second cycle, the end of BFGS and the final SCF.
VC_RELAX_EXCERPT = """\
     nstep                     =           20
     Checking if some PAW data can be deallocated...

     total cpu time spent up to now is        0.6 secs

     Self-consistent Calculation

     iteration #  1     ecut=    25.00 Ry     beta= 0.70
     Davidson diagonalization with overlap
     ethr =  1.00E-02,  avg # of iterations =  3.9

     total cpu time spent up to now is        0.7 secs

     total energy              =    -213.02780048 Ry
     estimated scf accuracy    <       0.15772338 Ry

     iteration #  2     ecut=    25.00 Ry     beta= 0.70
     Davidson diagonalization with overlap
     ethr =  1.43E-03,  avg # of iterations =  3.5

     total cpu time spent up to now is        0.8 secs

     total energy              =    -213.10636235 Ry
     estimated scf accuracy    <       0.20030515 Ry

     the Fermi energy is    13.3944 ev

!    total energy              =    -213.18073655 Ry

     total all-electron energy =     -3309.937754 Ry
     one-center paw contrib.   =     -96.43993248 Ry

     convergence has been achieved in   7 iterations

     Cell gradient error     =      8.3E-04


     number of scf cycles    =   1
     number of bfgs steps    =   0

     enthalpy new            =    -213.1807365454 Ry

     new trust radius        =       0.0398884897 bohr
     total cpu time spent up to now is        1.9 secs

     Self-consistent Calculation

     iteration #  1     ecut=    25.00 Ry     beta= 0.70
     Davidson diagonalization with overlap
     ethr =  1.00E-06,  avg # of iterations =  5.0

     total cpu time spent up to now is        2.1 secs

     total energy              =    -213.07568154 Ry
     estimated scf accuracy    <       0.05229886 Ry



     bfgs converged in   5 scf cycles and   4 bfgs steps
     (criteria: energy <  1.0E-04 Ry, force <  1.0E-03Ry/Bohr, cell <  5.0E-01kbar)

     End of BFGS Geometry Optimization

     Final enthalpy =    -213.1848561722 Ry

     Writing output data file ./tmp/pw.save/

     Final scf calculation at the relaxed structure.
     Self-consistent Calculation

     iteration #  1     ecut=    25.00 Ry     beta= 0.70
     Davidson diagonalization with overlap
     c_bands:  1 eigenvalues not converged
     ethr =  1.00E-06,  avg # of iterations = 14.1

     total cpu time spent up to now is        9.5 secs

     total energy              =    -213.04960016 Ry
     estimated scf accuracy    <       0.14332794 Ry
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """A fake monotonic clock for the status throttle, and a status line that has shown nothing yet."""
    now = [1000.0]
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(progress, "_status_shown_at", -float("inf"))
    monkeypatch.setattr(progress, "_status_open", False)
    return now


@pytest.fixture
def reports(monkeypatch):
    """Every call of progress.status, unthrottled: (text, elapsed_s, done)."""
    calls: list[tuple[str, float, bool]] = []
    monkeypatch.setattr(progress, "status", lambda text, elapsed_s, done=False: calls.append((text, elapsed_s, done)))
    return calls


def test_status_in_a_log_is_a_line_every_30_s_and_quick_calculations_show_nothing(clock, capsys):
    progress.status("emt Cu1 relax: step 3", 0.01)
    progress.status("emt Cu1 relax: converged", 0.02, done=True)  # nothing of it was shown: nothing to end
    progress.status("pw.x Cu1 relax: ionic step 1", 12.0)  # too early for a log
    progress.status("pw.x Cu1 relax: ionic step 2", 31.0)
    clock[0] += 10
    progress.status("pw.x Cu1 relax: ionic step 3", 41.0)  # 10 s after the last line
    clock[0] += 25
    progress.status("pw.x Cu1 relax: ionic step 4", 66.0)
    progress.status("pw.x Cu1 relax: finished, ionic step 4", 3723.4, done=True)
    assert capsys.readouterr().err.splitlines() == [
        "pw.x Cu1 relax: ionic step 2, 00:31 elapsed",
        "pw.x Cu1 relax: ionic step 4, 01:06 elapsed",
        "pw.x Cu1 relax: finished, ionic step 4, 1:02:03 elapsed",
    ]


def test_status_on_a_terminal_rewrites_one_line_every_2_s(clock, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress.status("a: step 1", 1.0)  # the first 2 s of a calculation show nothing
    progress.status("a: step 5", 2.5)
    clock[0] += 1
    progress.status("a: step 7", 3.5)
    clock[0] += 2
    progress.status("a: step 9", 5.5)
    progress.status("a: done", 5.6, done=True)
    assert terminal.getvalue() == ("\ra: step 5, 00:02 elapsed\x1b[K\ra: step 9, 00:05 elapsed\x1b[K"
                                   "\ra: done, 00:05 elapsed\x1b[K\n")


def test_status_under_progress_bars_is_a_line_of_its_own(clock, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    with progress.show_progress():
        progress.report("screen (qe)", total=4)
        progress.status("pw.x Cu1 relax: ionic step 2", 3.0)
        status_line = progress._status_bar
        progress.report("refine (qe)", total=2)
        assert status_line is not None and abs(status_line.pos) == 1 and status_line.desc.startswith("pw.x Cu1")
        assert progress._bars is not None and abs(progress._bars["refine (qe)"].pos) == 2
    assert progress._status_bar is None and status_line.disable  # closed with the bars


def test_pw_output_is_read_the_same_in_pieces_of_any_size():
    whole = PwProgress()
    whole.feed(VC_RELAX_EXCERPT)
    assert (whole.relaxing, whole.ionic_step, whole.relaxed_after, whole.scf_iteration) == (True, 3, 2, 1)
    assert whole.energy_ry == -213.04960016
    assert str(whole) == "final scf after 2 ionic steps, scf iteration 1, E = -213.0496 Ry"
    for size in (1, 7, 64, 1000):
        pieces = PwProgress()
        for start in range(0, len(VC_RELAX_EXCERPT), size):
            pieces.feed(VC_RELAX_EXCERPT[start:start + size])
        assert vars(pieces) == vars(whole)


def test_pw_output_progress_along_the_way():
    seen = []
    watched = PwProgress()
    for line in VC_RELAX_EXCERPT.splitlines(keepends=True):
        watched.feed(line)
        seen.append(str(watched))
    assert seen[0] == "setting up"
    assert "ionic step 1, scf iteration 1, E = -213.0278 Ry" in seen
    assert "ionic step 1, scf iteration 2, E = -213.1807 Ry" in seen  # the converged ("!") energy
    assert "ionic step 2, scf iteration 1, E = -213.0757 Ry" in seen
    assert "final scf after 2 ionic steps, E = -213.0757 Ry" in seen  # announced, not begun yet
    scf = PwProgress()  # an scf prints no nstep line: no ionic steps are shown
    scf.feed(VC_RELAX_EXCERPT.split("     number of scf cycles")[0].replace("nstep", "nothing"))
    assert str(scf) == "scf iteration 2, E = -213.1807 Ry"


@pytest.mark.dft
@needs_pw
def test_vc_relax_reports_ionic_steps_scf_iterations_and_time(tmp_path, reports, monkeypatch):
    monkeypatch.setattr(qe, "POLL_S", 0.3)
    structure = fcc_primitive("Cu", 3.66)  # off the lattice constant at these cutoffs: a few BFGS steps
    calculator = QECalculator()
    physics, run = calculator.resolve(structure, FAST, "vc-relax")
    fields = calculator.run(structure, physics, run, tmp_path)
    assert fields["status"] == "completed"
    *running, (last, last_elapsed, done) = reports
    assert done and not any(d for _, _, d in running) and len(running) >= 3
    assert all(text.startswith("pw.x Cu1 vc-relax: ") for text, _, _ in reports)
    elapsed = [e for _, e, _ in reports]
    assert elapsed == sorted(elapsed) and elapsed[-1] == pytest.approx(fields["wall_time_s"], abs=0.5)
    steps = [int(m.group(1)) for text, _, _ in running if (m := re.search(r"ionic step (\d+), scf iteration", text))]
    assert steps == sorted(steps) and len(set(steps)) >= 2
    output = (tmp_path / "pw-0.out").read_text()
    cycles = int(re.search(r"bfgs converged in\s+(\d+) scf cycles", output).group(1))
    final_energy = float(re.findall(r"^!\s+total energy\s+=\s+(\S+) Ry", output, re.M)[-1])
    finals = {int(m.group(1)) for text, _, _ in reports if (m := re.search(r"final scf after (\d+) ionic", text))}
    assert finals == {cycles}
    assert last.startswith(f"pw.x Cu1 vc-relax: finished, final scf after {cycles} ionic steps, scf iteration ")
    assert last.endswith(f"E = {final_energy:.4f} Ry")
    watched = PwProgress()
    watched.feed(output)
    assert watched.ionic_step == output.count("Self-consistent Calculation") == cycles + 1


@needs_pw
def test_time_limit_still_kills_pw_and_says_so(tmp_path, reports):
    structure = fcc_primitive("Cu", 3.8)
    calculator = QECalculator()
    physics, run = calculator.resolve(structure, {**FAST, "timeout_s": 1, "max_seconds": 60}, "vc-relax")
    start = time.monotonic()
    fields = calculator.run(structure, physics, run, tmp_path)
    assert time.monotonic() - start < 5
    assert fields["status"] == "failed"
    text, elapsed, done = reports[-1]
    assert done and text.startswith("pw.x Cu1 vc-relax: timed out, ") and 1.0 <= elapsed < 3.0


def test_emt_relaxation_reports_every_optimiser_step(reports):
    structure = fcc_primitive("Cu", 3.75)
    calculator = EMTCalculator()
    physics, run = calculator.resolve(structure, {"fmax": 0.005}, "vc-relax")
    fields = calculator.run(structure, physics, run, None)
    *running, (last, _, done) = reports
    steps = [int(re.match(r"EMT Cu1 vc-relax: step (\d+), E = -?\d+\.\d+ eV, fmax = \d+\.\d+ eV/A$", text).group(1))
             for text, _, _ in running]
    assert steps == list(range(len(steps))) and len(steps) > 5
    assert done and last == (f"EMT Cu1 vc-relax: converged in {fields['n_ionic_steps']} steps, "
                             f"E = {fields['energy']:.4f} eV")

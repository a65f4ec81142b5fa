"""GPAW (plane-wave PAW DFT) as a separate process: static, relax and vc-relax with setups for most elements.

GPAW is GPL-3 and never imported here: each calculation writes ``input.json``
and a driver script (:data:`~alloyscreen.validation.gpaw_io.DRIVER`) into its
run directory and runs ``gpaw python gpaw_driver.py`` there, as pw.x is run
(:mod:`alloyscreen.validation.qe`). Relaxations use an ASE optimiser inside
that process (a cell filter for vc-relax: ``FrechetCellFilter``, or
``ExpCellFilter`` with an ASE before 3.23).

Physics settings (in the calculation id): setups directory (``pseudo_dir``;
host-specific, left out of the id) and explicit files, functional (LDA, PBE,
RPBE, revPBE: those ``gpaw-data`` ships), plane-wave cutoff ``ecut`` (eV;
default 600: fcc Cu vc-relaxed here to a = 3.582, 3.640 and 3.632 A at 400,
600 and 800 eV, the Pulay stress of a low cutoff shrinking the cell),
k-point spacing (1/A, 2 pi included, Gamma-centred, as for pw.x) or an explicit
grid, smearing and its width (eV), spin polarisation (default: on when Fe, Co,
Ni, Cr or Mn is in the pool, with pw.x's starting moments), GPAW's SCF
``convergence`` criteria, and the relaxation's ``fmax`` (eV/A), ``steps`` and
``optimizer``. Each setup enters by the sha256 of its content
(``pseudo_sha256``) with its valence. Run settings (not in the id): the command
(``"gpaw python"``; with MPI e.g. ``"mpiexec -n {n_mpi} gpaw python"``), MPI
ranks, threads and a time limit (``timeout_s``).

A relaxation that stops at its step limit is ``failed`` with the reason and its
last geometry, and the validation's ``retries`` run it again from there with
twice the steps (:func:`~alloyscreen.validation.ase_runner.ase_retry`). A run
directory left by an interrupted relaxation (killed at a time limit) goes on
from the last geometry the driver saved, recorded as a correction. A GPAW
error (an SCF that did not converge, a crash) gives ``status = "failed"`` with
its one-line reason, never an exception.
"""

from __future__ import annotations

import codecs
import json
import os
import shlex
import shutil
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from alloyscreen import progress
from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.ase_runner import NEXT_OPTIMIZER, NOT_CONVERGED, ase_retry, unconverged_fields
from alloyscreen.validation.base import (
    Calculator,
    SettingsError,
    accounting,
    check_structure,
    concurrent_runs,
    result_fields,
    split_settings,
)
from alloyscreen.validation.gpaw_io import (
    DEFAULT_SETUPS_DIR,
    DRIVER,
    INSTALL_HINT,
    GpawProgress,
    SetupError,
    select_setups,
    setup_kind,
)
from alloyscreen.validation.qe import MAGNETIC_MOMENTS, POLL_S, _die_with_parent
from alloyscreen.validation.qe_io import kpoint_grid

SMEARINGS = ("marzari-vanderbilt", "fermi-dirac", "methfessel-paxton")
OPTIMIZERS = ("BFGS", "LBFGS", "FIRE", *NEXT_OPTIMIZER.values())
CONVERGENCE_KEYS = ("energy", "density", "eigenstates", "bands", "forces")
INTERRUPTED = "earlier run in this directory was interrupted"
INPUT, RESULT, GEOMETRY, OUTPUT, SCRIPT = "input.json", "result.json", "geometry.json", "gpaw.out", "gpaw_driver.py"


class GPAWNotInstalledError(AlloyscreenError):
    """The gpaw program (or its MPI launcher) is not on PATH, or does not start."""


@lru_cache(maxsize=8)
def gpaw_version(command: tuple[str, ...]) -> str:
    """Return ``gpaw-X ase-Y`` of the GPAW that ``command`` (e.g. ``gpaw python``) runs."""
    code = "import ase, gpaw; print('gpaw-' + gpaw.__version__, 'ase-' + ase.__version__)"
    try:
        result = subprocess.run([*command, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    except OSError as error:
        raise GPAWNotInstalledError(f"cannot run {' '.join(command)!r}: {error}; install GPAW "
                                    f"({INSTALL_HINT})") from None
    words = result.stdout.split()
    if result.returncode != 0 or len(words) != 2:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise GPAWNotInstalledError(f"{' '.join(command)!r} does not run GPAW ({last}); install GPAW ({INSTALL_HINT})"
                                    " or set the gpaw 'command' setting")
    return " ".join(words)


class GPAWCalculator(Calculator):
    """GPAW in plane-wave mode, one setup per element, one functional for all."""

    name = "gpaw"
    category = "dft"
    subprocess = True  # gpaw runs beside Python: several may run at once (:func:`concurrent_runs`)
    cell_atoms = (1, 64)  # atoms of automatic bulk cells (min, max): the smallest exact
    defaults = {
        "pseudo_dir": DEFAULT_SETUPS_DIR, "functional": "PBE", "pseudopotentials": {},
        "ecut": 600.0, "kspacing": 0.25, "kpts": None, "smearing": "marzari-vanderbilt", "smearing_width": 0.2,
        "spin": None, "magmoms": {}, "convergence": {}, "fmax": 0.03, "steps": 100, "optimizer": "BFGS",
    }
    run_defaults = {"command": "gpaw python", "n_mpi": 1, "n_threads": 1, "timeout_s": None}
    retry = staticmethod(ase_retry)  # a relaxation stopped at its step limit runs again from its last geometry

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Fix setups and spin for the pool; refuse bad settings and elements without a setup (one line).

        Spin polarisation is on for every calculation of a pool holding Fe, Co,
        Ni, Cr or Mn, so that an alloy and its references share one Hamiltonian.
        """
        physics, _ = split_settings(self.name, self.defaults, self.run_defaults, settings)
        for key, allowed in (("smearing", SMEARINGS), ("optimizer", OPTIMIZERS)):
            if physics[key] not in allowed:
                raise SettingsError(f"gpaw setting {key!r} is {physics[key]!r}; allowed: {', '.join(allowed)}")
        unknown = sorted(set(physics["convergence"]) - set(CONVERGENCE_KEYS))
        if unknown:
            raise SettingsError(f"unknown gpaw convergence criteria {unknown}; allowed: {', '.join(CONVERGENCE_KEYS)}")
        kpts = physics["kpts"]
        if kpts is not None and not (isinstance(kpts, list | tuple) and len(kpts) == 3
                                     and all(isinstance(n, int) and n > 0 for n in kpts)):
            raise SettingsError(f"gpaw setting 'kpts' is {kpts!r}; allowed: three positive integers, or None")
        setups = select_setups(elements, physics["pseudo_dir"], physics["functional"], physics["pseudopotentials"])
        spin = physics["spin"] if physics["spin"] is not None else bool(set(elements) & set(MAGNETIC_MOMENTS))
        magmoms = {el: float(physics["magmoms"].get(el, MAGNETIC_MOMENTS.get(el, 0.0))) for el in elements}
        return {**settings, "pseudo_dir": str(physics["pseudo_dir"]),
                "pseudopotentials": {el: setup.path.name for el, setup in setups.items()}, "spin": bool(spin),
                "magmoms": magmoms if spin else {}}

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check the structure, settings and setups; return (physics settings, run settings).

        Settings already resolved for a pool (:meth:`resolve_pool`) stay as
        they are. Setups enter the physics by content (``pseudo_sha256``); gpaw
        itself is looked for when the calculation's id is made
        (:meth:`code_version`).
        """
        check_structure(structure)
        elements = [el.symbol for el in structure.composition]
        physics, run = split_settings(self.name, self.defaults, self.run_defaults,
                                      self.resolve_pool(elements, settings))
        setups = select_setups(elements, physics["pseudo_dir"], physics["functional"], physics["pseudopotentials"])
        physics.update({
            "mode": mode, "ecut": float(physics["ecut"]),
            "pseudopotentials": {el: setups[el].path.name for el in sorted(elements)},
            "pseudo_sha256": {el: setups[el].sha256 for el in sorted(elements)},
            "z_valence": {el: setups[el].z_valence for el in sorted(elements)},
            "kpts": list(physics["kpts"] or kpoint_grid(structure, float(physics["kspacing"]))),
            "magmoms": {el: physics["magmoms"][el] for el in sorted(elements)} if physics["spin"] else {},
        })
        return physics, run

    def command(self, run: dict[str, Any]) -> list[str]:
        """Return the command that runs a GPAW Python script; raise GPAWNotInstalledError when a program is missing."""
        words = shlex.split(str(run["command"]).format(n_mpi=int(run["n_mpi"])))
        missing = sorted({word for word in words[:1] + [w for w in words if Path(w).name == "gpaw"]
                          if shutil.which(word) is None})
        if missing:
            raise GPAWNotInstalledError(f"{' and '.join(missing)} not found on PATH: install GPAW ({INSTALL_HINT}) "
                                        f"or set the gpaw 'command' setting (now {run['command']!r})")
        return words

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments: when the pool-resolved settings say so."""
        return bool(settings.get("spin"))

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the GPAW and ASE versions of the configured command (e.g. ``gpaw-22.8.0 ase-3.22.1``)."""
        return gpaw_version(tuple(self.command({**(run or self.run_defaults), "n_mpi": 1})))

    def driver_input(self, structure: Structure, physics: dict[str, Any]) -> dict[str, Any]:
        """The driver's ``input.json``: the cell (A), atoms, starting moments, fixed directions and settings.

        A site's ``magmom`` property (Bohr magneton) wins over its element's
        moment; ``selective_dynamics`` flags (False: held) fix directions.
        """
        magmoms = None
        if physics["spin"]:
            given = structure.site_properties.get("magmom") or [None] * len(structure)
            magmoms = [physics["magmoms"][site.specie.symbol] if moment is None else float(moment)
                       for site, moment in zip(structure, given, strict=True)]
        flags = structure.site_properties.get("selective_dynamics") or [None] * len(structure)
        fixed = [[index, [not bool(free) for free in flag]] for index, flag in enumerate(flags)
                 if flag is not None and not all(flag)]
        kinds = {el: setup_kind(el, physics["functional"], name) or "paw"  # "paw": Pd.PBE.gz; "11": Ag.11.PBE.gz
                 for el, name in physics["pseudopotentials"].items()}
        keys = ("pseudo_dir", "functional", "ecut", "kpts", "smearing", "smearing_width", "spin", "convergence",
                "fmax", "steps", "optimizer", "mode")
        return {"numbers": [site.specie.Z for site in structure], "cell": structure.lattice.matrix.tolist(),
                "positions": structure.cart_coords.tolist(), "magmoms": magmoms, "fixed": fixed,
                "setups": kinds, "physics": {key: physics[key] for key in keys}}

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory: Path) -> dict:
        """Run GPAW on ``structure`` in ``directory``; return calculation-document fields.

        An interrupted relaxation there (a ``geometry.json`` and no result) goes
        on from its last geometry; any other earlier files are replaced.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        command = self.command(run)
        check_setups(physics)
        cores, slots = int(run["n_mpi"]) * int(run["n_threads"]), concurrent_runs(self, run)
        corrections: list[dict[str, Any]] = []
        start = structure
        if physics["mode"] != "static" and (directory / GEOMETRY).exists() and not (directory / RESULT).exists():
            last = json.loads((directory / GEOMETRY).read_text())
            start = _moved(structure, last["cell"], last["positions"])
            corrections.append({"step": 1, "reason": INTERRUPTED, "changes": {"restart_from": "last geometry"}})
        for stale in (RESULT, GEOMETRY):
            (directory / stale).unlink(missing_ok=True)
        (directory / INPUT).write_text(json.dumps(self.driver_input(start, physics)))
        (directory / SCRIPT).write_text(DRIVER)
        threads = str(run["n_threads"])  # GPAW's BLAS threads too: Debian's GPAW has no OpenMP
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        formula = structure.formula.replace(" ", "")
        begun = time.perf_counter()
        code = _execute([*command, SCRIPT], directory, env, run["timeout_s"], f"gpaw {formula} {physics['mode']}")
        fields = {"corrections": corrections, **accounting(time.perf_counter() - begun, cores, slots=slots)}
        result = json.loads((directory / RESULT).read_text()) if (directory / RESULT).exists() else {}
        if code is None or "energy" not in result:
            reason = (f"gpaw timed out after {run['timeout_s']} s" if code is None else
                      result.get("error") or f"gpaw stopped with exit code {code}: {_last_line(directory / OUTPUT)}")
            return {**fields, "status": "failed", "converged": False, "error": reason}
        final = _moved(structure, result["cell"], result["positions"])
        found = {**result_fields(final, result["energy"], np.asarray(result["forces"]), np.asarray(result["stress"]),
                                 None if result["magmoms"] is None else np.asarray(result["magmoms"])),
                 **fields, "n_ionic_steps": int(result["n_ionic_steps"])}
        if not result["converged"]:
            return unconverged_fields(found, f"{NOT_CONVERGED}: gpaw {physics['mode']} of {formula} stopped at its "
                                             f"step limit ({physics['steps']} {physics['optimizer']} steps) with fmax "
                                             f"{result['fmax']:.4g} eV/A above the criterion {physics['fmax']:g} eV/A")
        return {**found, "status": "completed", "converged": True, "error": None}


def check_setups(physics: dict[str, Any]) -> None:
    """Refuse (one line) to run where a setup's content is not the one the calculation id was made with."""
    elements = sorted(physics["pseudo_sha256"])
    found = select_setups(elements, physics["pseudo_dir"], physics["functional"],
                          {el: physics["pseudopotentials"][el] for el in elements})
    for element in elements:
        if found[element].sha256 != physics["pseudo_sha256"][element]:
            raise SetupError(f"GPAW setup {found[element].path} of {element} is not the one this calculation was "
                             f"made with (sha256 {found[element].sha256[:12]}, not "
                             f"{physics['pseudo_sha256'][element][:12]}): use the same gpaw-data")


def _moved(structure: Structure, cell: list, positions: list) -> Structure:
    """``structure`` with a new cell and Cartesian positions (A); species and site properties kept."""
    return Structure(Lattice(cell), structure.species_and_occu, positions, coords_are_cartesian=True,
                     site_properties=structure.site_properties)


def _last_line(path: Path) -> str:
    """The last non-empty line of ``path`` (a traceback's error), or 'no output'."""
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1].strip() if lines else "no output"


def _execute(command: list[str], directory: Path, env: dict[str, str], timeout_s, label: str) -> int | None:
    """Run ``command`` in ``directory`` with its output to ``gpaw.out``; return its exit code, None on time-out.

    Every ``POLL_S`` seconds the new output is read and the progress (ionic
    step, SCF iteration, energy) reported as ``label: ...`` on the status line.
    """
    begun = time.monotonic()
    deadline = None if timeout_s is None else begun + float(timeout_s)
    watched, decoder = GpawProgress(), codecs.getincrementaldecoder("utf-8")(errors="replace")
    output = directory / OUTPUT
    code: int | None = None
    with output.open("w") as stdout, output.open("rb") as reader:
        process = subprocess.Popen(command, cwd=directory, stdout=stdout, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=_die_with_parent)
        while code is None:
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
            try:
                code = process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    process.kill()
                    process.wait()
                    break
            watched.feed(decoder.decode(reader.read()))
            progress.status(f"{label}: {watched}", time.monotonic() - begun)
    ending = ("timed out" if code is None else "finished" if code == 0 else
              f"killed by signal {-code}" if code < 0 else f"stopped with exit code {code}")
    progress.status(f"{label}: {ending}, {watched}", time.monotonic() - begun, done=True)
    return code

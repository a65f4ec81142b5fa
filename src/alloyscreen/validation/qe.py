"""Quantum ESPRESSO ``pw.x``: scf, relax and vc-relax with automatic, recorded corrections.

Physics settings (in the calculation id): pseudopotential directory, functional
and explicit files, cutoffs (Ry; default: the largest suggested by the
pseudopotential headers), k-point spacing (1/A, 2 pi included) or an explicit
grid, smearing, spin polarisation (default: on when Fe, Co, Ni, Cr or Mn is
present, starting moments in Bohr magneton per atom), convergence thresholds.
Run settings (not in the id): the command template (``{n_mpi}`` is replaced,
e.g. ``"mpirun -np {n_mpi} pw.x"``), MPI ranks, OpenMP threads, a time limit
per attempt and pw.x's own ``max_seconds`` (:func:`max_seconds`).

An SCF that does not converge is retried with a smaller ``mixing_beta`` and more
steps, then another smearing; an ionic relaxation that runs out of steps is
restarted from its last geometry with more steps; a run that stopped at
``max_seconds`` goes on with ``restart_mode = 'restart'``; a cell relaxation
that pw.x stops because the cell lost its symmetry operations (``checkallsym``,
seen with hcp Mg) goes on once from its last geometry, whose symmetry pw.x
finds afresh. A run directory left
by an interrupted run (e.g. killed at a batch system's walltime) is resumed from
pw.x's restart files, else from the last geometry of a relaxation, else from
scratch (:func:`_resume`); a resume that pw.x cannot finish falls back to
scratch once. Every correction is returned in ``corrections``. A crashed or
killed pw.x gives ``status = "failed"`` with the parsed reason instead of an
exception, so a campaign goes on.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from alloyscreen import progress, slurm
from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.base import (
    Calculator,
    SettingsError,
    accounting,
    check_structure,
    concurrent_runs,
    result_fields,
    split_settings,
)
from alloyscreen.validation.pseudo import (
    DEFAULT_PSEUDO_DIR,
    file_sha256,
    select_pseudopotentials,
    suggested_cutoffs,
)
from alloyscreen.validation.qe_io import (
    MANAGED_NAMELISTS,
    PwOutcome,
    classify_output,
    completed_scf_cycles,
    final_fields,
    kpoint_grid,
    write_input,
)

MAGNETIC_MOMENTS = {"Fe": 3.0, "Co": 2.0, "Ni": 1.0, "Cr": 2.0, "Mn": 3.0}
_CALCULATION = {"static": "scf", "relax": "relax", "vc-relax": "vc-relax"}
_NEXT_SMEARING = {"mv": "gaussian", "gaussian": "mp", "mp": "mv", "fd": "gaussian"}
OUTDIR, PREFIX = "tmp", "pw"  # pw.x's outdir (in the run directory) and prefix
_ATTEMPT = re.compile(r"pw-(\d+)\.(?:in|out)")
INTERRUPTED = "earlier run in this directory was interrupted"
RESUME_FAILED = "resuming failed"
TIMEOUT_FRACTION = 0.9  # max_seconds as a fraction of timeout_s, so that pw.x stops before it is killed
SLURM_MARGIN_S = 300.0  # seconds of a SLURM job left to pw.x for writing its restart files


class QENotInstalledError(AlloyscreenError):
    """pw.x (or the MPI launcher) is not on PATH."""


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


SYMMETRY_LOST = "checkallsym"  # pw.x's routine that stops a vc-relax whose cell no longer keeps its symmetry


def _correction(kind: str, current: dict[str, Any], step: int) -> dict[str, Any]:
    """Return the settings to change after an attempt that ended with ``kind`` (stopped, scf or ionic)."""
    if kind == "stopped":
        return {"restart_mode": "restart"}
    if kind == "ionic":
        return {"nstep": 2 * int(current["nstep"]), "restart_from": "last geometry"}
    if step <= 2:
        return {
            "mixing_beta": round(float(current["mixing_beta"]) / 2, 4),
            "electron_maxstep": max(2 * int(current["electron_maxstep"]), 200),
        }
    return {"smearing": _NEXT_SMEARING.get(current["smearing"], "gaussian")}


def max_seconds(run: dict[str, Any]) -> float | None:
    """Return pw.x's ``max_seconds`` for the next attempt, or None (no limit).

    The ``max_seconds`` run setting, else ``TIMEOUT_FRACTION`` of ``timeout_s``;
    inside a SLURM job (``SLURM_JOB_ID`` set) the job's time left (``squeue -h
    -j ID -o %L``: ``[days-][hours:]minutes:seconds``) less ``SLURM_MARGIN_S``
    (or less a tenth of it, for a job with under ``10 x SLURM_MARGIN_S`` left)
    when that is smaller. A missing or failing squeue is ignored.
    """
    limits = [float(run["max_seconds"])] if run["max_seconds"] is not None else (
        [] if run["timeout_s"] is None else [TIMEOUT_FRACTION * float(run["timeout_s"])])
    job = slurm.job_id()
    left = None if job is None else slurm.squeue(job, "%L")
    if left:
        days, _, clock = left.rpartition("-")
        with suppress(ValueError):  # UNLIMITED, NOT_SET ...
            seconds = sum(float(part) * 60**power for power, part in enumerate(reversed(clock.split(":"))))
            seconds += float(days or 0) * 86400
            limits.append(seconds - min(SLURM_MARGIN_S, (1 - TIMEOUT_FRACTION) * seconds))
    return min(limits, default=None)


def _last_attempt(directory: Path) -> int:
    """Return the number of the last attempt whose ``pw-N.in`` or ``pw-N.out`` is in ``directory``, -1 if none."""
    return max((int(match.group(1)) for path in directory.iterdir() if (match := _ATTEMPT.fullmatch(path.name))),
               default=-1)


def _resume(directory: Path, output: Path, calculation: str) -> dict[str, Any] | None:
    """Return how to go on from the earlier attempt that wrote ``output``, or None if it was not interrupted.

    Interrupted: pw.x stopped at ``max_seconds`` or left no clean end. Its
    restart files (``tmp/pw.save``, written after each ionic step and at
    ``max_seconds``) are resumed from; else a relaxation with completed ionic
    steps starts from its last geometry; else the run starts from scratch.
    """
    text = output.read_text(errors="replace") if output.exists() else ""
    if classify_output(text, 0, calculation).kind not in ("stopped", "killed"):
        return None
    if (directory / OUTDIR / f"{PREFIX}.save" / "data-file-schema.xml").exists():
        return {"restart_mode": "restart"}
    if calculation != "scf" and completed_scf_cycles(text) > 1:
        return {"restart_from": "last geometry"}
    return {"restart_from": "scratch"}


@dataclass
class _Plan:
    """What the next attempt starts from (settings, geometry, restart mode) and the corrections so far."""

    structure: Structure
    current: dict[str, Any]
    geometry: Structure = field(init=False)
    restart_mode: str = "from_scratch"
    corrections: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.geometry = self.structure

    def correct(self, reason: str, changes: dict[str, Any], output: Path) -> None:
        """Record a correction and apply its ``changes``; a last geometry is read from ``output``."""
        self.corrections.append({"step": len(self.corrections) + 1, "reason": reason, "changes": changes})
        self.current.update({key: value for key, value in changes.items() if key in self.current})
        self.restart_mode = changes.get("restart_mode", "from_scratch")
        if changes.get("restart_from") == "last geometry":
            self.geometry = final_fields(output)[0]
        elif changes.get("restart_from") == "scratch":
            self.geometry = self.structure

    def next(self, outcome: PwOutcome, returncode: int | None) -> tuple[str, dict[str, Any]] | None:
        """Return (reason, changes) of the correction after a failed attempt, None when none can help.

        A resumed attempt that pw.x could not finish (e.g. corrupt restart
        files) is followed by one from scratch, once.
        """
        if outcome.kind not in ("error", "killed"):
            return str(outcome.reason), _correction(outcome.kind, self.current, len(self.corrections) + 1)
        if SYMMETRY_LOST in str(outcome.reason) and not any(SYMMETRY_LOST in c["reason"] for c in self.corrections):
            return str(outcome.reason), {"restart_from": "last geometry"}
        fell_back = any(correction["reason"].startswith(RESUME_FAILED) for correction in self.corrections)
        if self.restart_mode == "restart" and returncode is not None and not fell_back:
            return f"{RESUME_FAILED}: {outcome.reason}", {"restart_from": "scratch"}
        return None


@lru_cache(maxsize=8)
def pw_version(executable: str) -> str:
    """Return the version pw.x prints in its header (e.g. ``v.6.7MaX``)."""
    with tempfile.TemporaryDirectory() as scratch:  # pw.x leaves CRASH and input_tmp.in in its cwd
        result = subprocess.run([executable], input="", capture_output=True, text=True, timeout=60, check=False,
                                cwd=scratch)
    version = classify_output(result.stdout, 0, "scf").version
    return f"pw.x-{version or 'unknown'}"


class QECalculator(Calculator):
    """Quantum ESPRESSO pw.x, one species per element, one functional for all."""

    name = "qe"
    category = "dft"
    subprocess = True  # pw.x runs beside Python: several may run at once (:func:`concurrent_runs`)
    cell_atoms = (1, 64)  # atoms of automatic bulk cells (min, max): the smallest exact
    defaults = {
        "pseudo_dir": DEFAULT_PSEUDO_DIR, "functional": "PBE", "pseudopotentials": {},
        "ecutwfc": None, "ecutrho": None, "kspacing": 0.25, "kpts": None,
        "smearing": "mv", "degauss": 0.02, "spin": None, "magmoms": {},
        "conv_thr": 1e-8, "mixing_beta": 0.7, "electron_maxstep": 100,
        "nstep": 50, "forc_conv_thr": 1e-3, "etot_conv_thr": 1e-4, "press_conv_thr": 0.5,
        "max_corrections": 3, "input_data": {},
    }
    run_defaults = {"command": "pw.x", "n_mpi": 1, "n_threads": 1, "timeout_s": None,
                                    "max_seconds": None}

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Fix pseudopotentials, cutoffs (the largest the pool's headers suggest) and spin for the pool.

        Spin polarisation is on for every calculation of a pool holding Fe, Co,
        Ni, Cr or Mn, so that an alloy and its references share one Hamiltonian.
        """
        physics, _ = split_settings(self.name, self.defaults, self.run_defaults, settings)
        unknown = sorted(set(physics["input_data"]) - set(MANAGED_NAMELISTS))
        if unknown:
            raise SettingsError(f"unknown pw.x namelist(s) {unknown} in input_data; allowed: {MANAGED_NAMELISTS}")
        pseudos = select_pseudopotentials(
            elements, physics["pseudo_dir"], physics["functional"], physics["pseudopotentials"]
        )
        wfc, rho = suggested_cutoffs(pseudos)
        ecutwfc = float(physics["ecutwfc"] or wfc)
        spin = physics["spin"] if physics["spin"] is not None else bool(set(elements) & set(MAGNETIC_MOMENTS))
        magmoms = {el: float(physics["magmoms"].get(el, MAGNETIC_MOMENTS.get(el, 0.0))) for el in elements}
        return {**settings, "pseudo_dir": str(physics["pseudo_dir"]),
                "pseudopotentials": {el: p.path.name for el, p in pseudos.items()}, "ecutwfc": ecutwfc,
                "ecutrho": float(physics["ecutrho"] or max(rho, 4 * ecutwfc)), "spin": bool(spin),
                "magmoms": magmoms if spin else {}}

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check the structure, settings and pseudopotentials; return (physics settings, run settings).

        Settings already resolved for a pool (:meth:`resolve_pool`) stay as they
        are. Pseudopotentials enter the physics by content (``pseudo_sha256``),
        so a calculation id does not depend on where the files lie. pw.x itself
        is looked for at run time (``code_version``, ``run``), so a job can be
        built on a host without Quantum ESPRESSO and run on another.
        """
        check_structure(structure)
        elements = [el.symbol for el in structure.composition]
        physics, run = split_settings(self.name, self.defaults, self.run_defaults,
                                      self.resolve_pool(elements, settings))
        pseudos = select_pseudopotentials(elements, physics["pseudo_dir"], physics["functional"],
                                          physics["pseudopotentials"])
        physics.update({
            "mode": mode,
            "pseudopotentials": {el: pseudos[el].path.name for el in sorted(elements)},
            "pseudo_sha256": {el: file_sha256(pseudos[el].path) for el in sorted(elements)},
            "kpts": list(physics["kpts"] or kpoint_grid(structure, float(physics["kspacing"]))),
            "spin_orbit": any(p.relativistic == "full" for p in pseudos.values()),
            "magmoms": {el: physics["magmoms"][el] for el in sorted(elements)} if physics["spin"] else {},
            "z_valence": {el: p.z_valence for el, p in pseudos.items()},
        })
        return physics, run

    def command(self, run: dict[str, Any]) -> list[str]:
        """Return the pw.x command line; raise QENotInstalledError when a program of it is missing."""
        words = shlex.split(str(run["command"]).format(n_mpi=int(run["n_mpi"])))
        programs = {words[0]} | {word for word in words if word.endswith("pw.x")}
        missing = sorted(program for program in programs if shutil.which(program) is None)
        if missing:
            raise QENotInstalledError(
                f"{' and '.join(missing)} not found on PATH: install Quantum ESPRESSO (apt-get install "
                f"quantum-espresso) or set the qe 'command' setting (now {run['command']!r})"
            )
        return words

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments: when the pool-resolved settings say so."""
        return bool(settings.get("spin"))

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the pw.x version of the configured executable."""
        words = self.command(run or self.run_defaults)
        executable = next((word for word in words if word.endswith("pw.x")), words[-1])
        return pw_version(shutil.which(executable) or executable)

    def namelists(self, physics: dict[str, Any], current: dict[str, Any],
                  control: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Return the pw.x namelists for the physics settings and the (corrected) ``current`` values.

        ``control`` adds this attempt's run values (``restart_mode``, ``max_seconds``) to ``&CONTROL``.
        """
        calculation = _CALCULATION[physics["mode"]]
        blocks: dict[str, dict[str, Any]] = {
            "control": {
                "calculation": calculation, "prefix": PREFIX, "outdir": f"./{OUTDIR}",
                "pseudo_dir": physics["pseudo_dir"], **(control or {}),
                "tprnfor": True, "tstress": True, "nstep": int(current["nstep"]),
                "forc_conv_thr": float(physics["forc_conv_thr"]), "etot_conv_thr": float(physics["etot_conv_thr"]),
            },
            "system": {
                "ecutwfc": physics["ecutwfc"], "ecutrho": physics["ecutrho"], "occupations": "smearing",
                "smearing": current["smearing"], "degauss": float(physics["degauss"]),
            },
            "electrons": {
                "conv_thr": float(physics["conv_thr"]), "mixing_beta": float(current["mixing_beta"]),
                "electron_maxstep": int(current["electron_maxstep"]),
            },
        }
        if physics["spin_orbit"]:  # fully relativistic pseudopotentials (Debian's Pt) need spin-orbit coupling
            blocks["system"].update({"noncolin": True, "lspinorb": True})
        if calculation != "scf":
            blocks["ions"] = {}
        if calculation == "vc-relax":
            blocks["cell"] = {"press_conv_thr": float(physics["press_conv_thr"])}
        for name, values in physics["input_data"].items():
            blocks.setdefault(name, {}).update(values)
        return blocks

    def starting_magnetization(self, structure: Structure, physics: dict[str, Any]) -> list[float] | None:
        """Return per site the starting magnetisation as a fraction of the valence charge, or None (no spin).

        A site's ``magmom`` property (Bohr magneton; e.g. an antiferromagnetic
        start) wins over its element's moment in ``physics["magmoms"]``.
        """
        if not physics["spin"]:
            return None
        given = structure.site_properties.get("magmom") or [None] * len(structure)
        moments = [physics["magmoms"][site.specie.symbol] if moment is None else float(moment)
                   for site, moment in zip(structure, given, strict=True)]
        return [float(np.clip(moment / physics["z_valence"][site.specie.symbol], -1.0, 1.0))
                for site, moment in zip(structure, moments, strict=True)]

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory: Path) -> dict:
        """Run pw.x in ``directory`` with corrections; return calculation-document fields.

        Attempt ``N`` writes ``pw-N.in`` and ``pw-N.out``; the numbers go on
        after those of an earlier call, whose interrupted run is resumed
        (:func:`_resume`, recorded as the first correction).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        command = self.command(run)
        cores, slots = int(run["n_mpi"]) * int(run["n_threads"]), concurrent_runs(self, run)
        env = {**os.environ, "OMP_NUM_THREADS": str(run["n_threads"])}
        calculation = _CALCULATION[physics["mode"]]
        plan = _Plan(structure, {key: physics[key] for key in ("mixing_beta", "electron_maxstep", "smearing", "nstep")})
        first = _last_attempt(directory) + 1
        output = directory / f"pw-{first - 1}.out"
        resume = _resume(directory, output, calculation) if first else None
        if resume:
            plan.correct(INTERRUPTED, resume, output)
        total_wall = 0.0
        magnetization = self.starting_magnetization(structure, physics)  # kept when restarting from a geometry
        last = first + int(physics["max_corrections"])
        for attempt in range(first, last + 1):
            output = directory / f"pw-{attempt}.out"
            limit = max_seconds(run)
            control = {"restart_mode": plan.restart_mode, **({} if limit is None else {"max_seconds": limit})}
            text = write_input(
                plan.geometry, self.namelists(physics, plan.current, control), physics["pseudopotentials"],
                physics["kpts"], magnetization,
            )
            output.with_suffix(".in").write_text(text)
            start = time.perf_counter()
            returncode = _execute(command + ["-in", output.with_suffix(".in").name], output, directory, env,
                                  run["timeout_s"], f"pw.x {structure.formula.replace(' ', '')} {physics['mode']}"
                                  + (f" (correction {len(plan.corrections)})" if plan.corrections else ""))
            total_wall += time.perf_counter() - start
            outcome = classify_output(output.read_text(errors="replace"), returncode, calculation)
            if outcome.kind == "ok":
                final, energy, forces, stress, magmoms = final_fields(output)
                fields = result_fields(final, energy, forces, stress, magmoms)
                if outcome.total_magnetization is not None and physics["spin"]:
                    fields["total_magnetization"] = outcome.total_magnetization
                return {**fields, "status": "completed", "converged": True, "corrections": plan.corrections,
                        "error": None, **accounting(total_wall, cores, slots=slots)}
            correction = None if attempt == last else plan.next(outcome, returncode)
            if correction is None:
                break
            plan.correct(*correction, output)
        reason = outcome.reason if outcome.kind in ("error", "killed") else (
            f"{outcome.reason}; gave up after {len(plan.corrections)} correction(s)")
        return {"status": "failed", "converged": False, "corrections": plan.corrections, "error": reason,
                **accounting(total_wall, cores, slots=slots)}


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the Python parent dies (even by ``kill -9``)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: an orphaned pw.x runs to its end
        pass


def _execute(command: list[str], output: Path, directory: Path, env: dict[str, str], timeout_s,
             label: str = "pw.x") -> int | None:
    """Run ``command`` in ``directory`` with stdout to ``output``; return its exit code, None on time-out.

    Every ``POLL_S`` seconds the new part of ``output`` is read and the progress
    (ionic step, SCF iteration, energy) reported as ``label: ...`` on the status
    line (:func:`alloyscreen.progress.status`).
    """
    start = time.monotonic()
    deadline = None if timeout_s is None else start + float(timeout_s)
    watched, decoder = PwProgress(), codecs.getincrementaldecoder("utf-8")(errors="replace")
    code: int | None = None
    with output.open("w") as stdout, output.open("rb") as reader:
        process = subprocess.Popen(command, cwd=directory, stdout=stdout, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=_die_with_parent)
        while True:
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
            try:
                code = process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    process.kill()
                    process.wait()
                    break
            watched.feed(decoder.decode(reader.read()))
            progress.status(f"{label}: {watched}", time.monotonic() - start)
        watched.feed(decoder.decode(reader.read(), final=True) + "\n")
    ending = ("timed out" if code is None else "finished" if code == 0 else
              f"killed by signal {-code}" if code < 0 else f"stopped with exit code {code}")
    progress.status(f"{label}: {ending}, {watched}", time.monotonic() - start, done=True)
    return code


POLL_S = 2.0  # seconds between two looks at a running pw.x's output


class PwProgress:
    """How far a pw.x run is, from its output fed in pieces as it is written (:meth:`feed`).

    ``ionic_step`` counts the SCF cycles begun ("Self-consistent Calculation"
    headers: one per ionic step, then the final SCF of a vc-relax, announced by
    a line that sets ``relaxed_after``, the number of ionic steps before it);
    ``relaxing`` is set by the "nstep" line that pw.x prints in its header for
    relax and vc-relax only; ``scf_iteration`` is the last "iteration #" of the
    current cycle and ``energy_ry`` the last total energy (Ry) printed, of an
    SCF iteration or of a converged cycle.
    """

    def __init__(self) -> None:
        self.relaxing = False
        self.ionic_step = 0
        self.scf_iteration = 0
        self.energy_ry: float | None = None
        self.relaxed_after: int | None = None
        self._partial = ""  # a line pw.x has not finished writing

    def feed(self, text: str) -> None:
        """Read the complete lines of what was kept and ``text``; keep an unfinished last line for later."""
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            words = line.split()
            if not words:
                continue
            try:
                if words[0] == "iteration" and words[1].startswith("#"):
                    self.scf_iteration = int(line.split("#")[1].split()[0])
                elif words[-1] == "Ry" and words[:3] in (["total", "energy", "="], ["!", "total", "energy"]):
                    self.energy_ry = float(words[-2])
                elif words[:2] == ["Self-consistent", "Calculation"]:
                    self.ionic_step += 1
                    self.scf_iteration = 0
                elif words[:2] == ["nstep", "="]:
                    self.relaxing = True
                elif words[:4] == ["Final", "scf", "calculation", "at"]:
                    self.relaxed_after, self.scf_iteration = self.ionic_step, 0
            except (IndexError, ValueError):  # not the line it looked like: progress never stops a run
                continue

    def __str__(self) -> str:
        """Return e.g. ``ionic step 3, scf iteration 7, E = -213.4512 Ry``."""
        if self.ionic_step == 0:
            return "setting up"
        parts = [f"scf iteration {self.scf_iteration}"] if self.scf_iteration else []
        if self.relaxed_after is not None:
            parts.insert(0, f"final scf after {self.relaxed_after} ionic steps")
        elif self.relaxing:
            parts.insert(0, f"ionic step {self.ionic_step}")
        if self.energy_ry is not None:
            parts.append(f"E = {self.energy_ry:.4f} Ry")
        return ", ".join(parts)

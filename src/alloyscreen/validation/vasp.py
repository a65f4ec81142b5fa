"""VASP through atomate2's Materials Project makers (relax, static, double relax), for clusters.

VASP is not run in-process: on a cache miss the validation job replaces itself
with the atomate2 job(s) and a ``record`` job that stores their task document
in ``calculations`` (see :mod:`alloyscreen.validation.maker`). The atomate2 jobs
are told to hand an unconverged run on (``handle_unsuccessful=False``) instead
of raising, so that ``record`` stores it as a ``failed`` calculation with its
reason: the cache then holds it and the same failing run is not resubmitted
unless the stage allows more attempts (``retries``).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from alloyscreen.validation.base import Calculator, accounting, check_structure, result_fields, split_settings

KBAR_TO_GPA = 0.1
RELAX_IBRION = (1, 2, 3)
INPUT_FILES = ("INCAR", "KPOINTS", "POSCAR", "POTCAR.spec")


def _successful(state: Any) -> bool:
    """Whether an emmet ``TaskState`` (or its string) is "successful"."""
    return str(getattr(state, "value", state)).lower() == "successful"


def _ionic_steps(calc) -> list:
    """Return the ionic steps of an emmet ``Calculation`` (empty when they were not kept)."""
    return list(getattr(calc.output, "ionic_steps", None) or [])


def convergence_problem(task) -> str | None:
    """Return why an atomate2 VASP ``TaskDoc`` must not count as a result, or None if it may.

    Reads the last calculation itself (NSW, NELM and the steps taken in
    vasprun.xml, emmet's ``has_vasp_completed``) rather than trusting the
    task state alone.

    Parameters
    ----------
    task
        An emmet/atomate2 ``TaskDoc``.

    Returns
    -------
    str or None
        One line naming the problem, or None for a converged calculation.
    """
    calcs = list(task.calcs_reversed or [])
    if not calcs:
        return "VASP task holds no calculation (no vasprun.xml parsed)"
    calc = calcs[0]
    params = dict(calc.input.parameters or {}) if calc.input is not None else {}
    steps = _ionic_steps(calc)
    nelm = int(params.get("NELM", 60))
    electronic = list(getattr(calc.output, "num_electronic_steps", None) or [])
    electronic = electronic or [len(step.electronic_steps or []) for step in steps]
    if electronic and electronic[-1] >= nelm:
        return f"VASP did not converge electronically: {electronic[-1]} electronic steps reached NELM = {nelm}"
    nsw, ibrion = int(params.get("NSW", 0)), int(params.get("IBRION", -1))
    if nsw > 1 and ibrion in RELAX_IBRION and len(steps) >= nsw:
        return f"VASP relaxation did not converge ionically in {len(steps)} steps (NSW = {nsw})"
    unfinished = [str(c.task_name) for c in calcs if not _successful(c.has_vasp_completed)]
    if unfinished:
        return f"VASP did not complete (vasprun.xml not converged) in {', '.join(unfinished)}"
    if not _successful(task.state):
        errors = "; ".join(getattr(task.analysis, "errors", None) or []) or "no reason given"
        return f"VASP task state {getattr(task.state, 'value', task.state)}: {errors}"
    if task.output is None or task.output.energy is None:
        return "VASP task has no final energy"
    return None


def custodian_corrections(task) -> list[dict[str, Any]]:
    """Return custodian's corrections recorded in ``task`` as ``Correction`` dicts, in order."""
    corrections: list[dict[str, Any]] = []
    for run in task.custodian or []:
        for correction in run.corrections or []:
            changes: dict[str, Any] = {}
            for action in correction.get("actions") or []:
                change = action.get("action") or {}
                if isinstance(change, dict) and isinstance(change.get("_set"), dict):
                    changes.update(change["_set"])
                else:
                    changes[str(action.get("dict") or action.get("file") or "action")] = change
            errors = correction.get("errors") or ["unnamed error"]
            reason = "custodian: " + ", ".join(str(error) for error in errors)
            corrections.append({"step": len(corrections) + 1, "reason": reason, "changes": changes})
    return corrections


class VaspCalculator(Calculator):
    """MP GGA(+U) input sets through atomate2; ``double_relax`` runs atomate2's double relaxation."""

    name = "vasp"
    category = "dft"
    cell_atoms = (1, 64)  # atoms of automatic bulk cells (min, max): the smallest exact
    remote = True
    defaults = {"double_relax": False, "incar": {}, "kpoints": {}}
    run_defaults = {}

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the settings; MP input sets fix ENCUT and POTCARs for every element already."""
        split_settings(self.name, self.defaults, self.run_defaults, settings)
        return settings

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure`` and return (physics settings with mode, run settings)."""
        check_structure(structure)
        physics, run = split_settings(self.name, self.defaults, self.run_defaults, settings)
        incar = {"ISIF": 2, **physics["incar"]} if mode == "relax" else dict(physics["incar"])
        return {**physics, "incar": incar, "mode": mode}, run

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments. Always spin-polarised."""
        return True  # the MP input sets set ISPIN = 2

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the atomate2 version whose MP input sets define the calculation."""
        return f"atomate2-{metadata.version('atomate2')}-mp-gga"

    def maker(self, physics: dict[str, Any]):
        """Return the atomate2 maker (static, relax or double relax) with the user INCAR/KPOINTS settings.

        Every VASP job of the maker passes an unconverged run on to the next
        job instead of raising, so that :meth:`fields_from_task` classifies it.
        """
        from atomate2.vasp.flows.mp import MPGGADoubleRelaxMaker
        from atomate2.vasp.jobs.base import BaseVaspMaker
        from atomate2.vasp.jobs.mp import MPGGARelaxMaker, MPGGAStaticMaker
        from atomate2.vasp.powerups import update_user_incar_settings, update_user_kpoints_settings
        from jobflow import Maker

        maker: Maker
        if physics["mode"] == "static":
            maker = MPGGAStaticMaker()
        elif physics["double_relax"]:
            maker = MPGGADoubleRelaxMaker()
        else:
            maker = MPGGARelaxMaker()
        maker = maker.update_kwargs({"stop_children_kwargs": {"handle_unsuccessful": False}},
                                    class_filter=BaseVaspMaker)
        if physics["incar"]:
            maker = update_user_incar_settings(maker, physics["incar"])
        if physics["kpoints"]:
            maker = update_user_kpoints_settings(maker, physics["kpoints"])
        return maker

    def _first_maker(self, physics: dict[str, Any]):
        maker = self.maker(physics)
        return getattr(maker, "relax_maker1", maker)

    def input_set(self, structure: Structure, physics: dict[str, Any]):
        """Return the VASP inputs of the first (or only) step, POTCAR as ``POTCAR.spec`` (no POTCAR files needed)."""
        return self._first_maker(physics).input_set_generator.get_input_set(structure, potcar_spec=True)

    def write_inputs(self, structure: Structure, physics: dict[str, Any], directory: str | Path) -> list[str]:
        """Write the VASP inputs of the first (or only) step into ``directory``, for a user to submit by hand.

        The files are those the atomate2 job would write (atomate2's
        ``write_vasp_input_set``, with the ``VASP_INCAR_UPDATES`` of the user's
        atomate2 settings), with ``POTCAR.spec`` naming the POTCARs instead of
        a POTCAR (licensed; the user's cluster holds them).

        Parameters
        ----------
        structure
            The structure to calculate.
        physics
            Physics settings from :meth:`resolve`.
        directory
            Where to write; created if missing. INCAR, KPOINTS, POSCAR and
            POTCAR there are replaced.

        Returns
        -------
        list of str
            Names of the files written (KPOINTS is absent when KSPACING is used).
        """
        from atomate2.vasp.files import write_vasp_input_set

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        generator = self._first_maker(physics).input_set_generator
        write_vasp_input_set(structure, generator, directory=directory, potcar_spec=True)
        return [name for name in INPUT_FILES if (directory / name).is_file()]

    def fields_from_task(self, task) -> dict[str, Any]:
        """Return calculation-document fields from an atomate2 VASP ``TaskDoc``.

        A run that did not converge (electronically, or ionically within NSW
        steps) becomes ``status = "failed"`` with the reason and no energy, so
        it can never be labelled. Stress is stored in GPa with the ASE sign
        (positive = tensile; VASP prints pressure-like kbar).
        """
        run_stats = dict(task.run_stats or {})  # per run, and their sum as "overall" (emmet)
        stats = [run_stats["overall"]] if "overall" in run_stats else list(run_stats.values())
        wall = sum(float(stat.elapsed_time or 0.0) for stat in stats)
        cores = max([int(stat.cores or 1) for stat in run_stats.values()] or [1])
        calcs = list(task.calcs_reversed or [])
        n_ionic = len(_ionic_steps(calcs[0])) if calcs else 0
        common = {"n_ionic_steps": n_ionic or None, "corrections": custodian_corrections(task) or None,
                  **accounting(wall, cores, ran_here=False)}
        problem = convergence_problem(task)
        if problem is not None:
            return {"status": "failed", "converged": False, "error": problem, **common}
        output = task.output
        fields = result_fields(output.structure, output.energy, forces=getattr(output, "forces", None))
        stress = getattr(output, "stress", None)
        if stress is not None:
            fields["stress"] = [[-KBAR_TO_GPA * float(value) for value in row] for row in stress]
        magmoms = [float(site.properties.get("magmom", 0.0) or 0.0) for site in output.structure]
        if any(magmoms):
            outcar = (calcs[0].output.outcar or {}) if calcs else {}
            total = outcar.get("total_magnetization")
            fields["magmoms"] = magmoms
            fields["total_magnetization"] = float(sum(magmoms) if total is None else total)
        return {**fields, "status": "completed", "converged": True, "error": None, **common}

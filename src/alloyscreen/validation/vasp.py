"""VASP through atomate2's Materials Project makers (relax, static, double relax), for clusters.

VASP is not run in-process: on a cache miss the validation job replaces itself
with the atomate2 job(s) and a ``record`` job that stores their task document
in ``calculations`` (see :mod:`alloyscreen.validation.maker`).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from pymatgen.core import Structure

from alloyscreen.validation.base import accounting, check_structure, result_fields, split_settings

KBAR_TO_GPA = 0.1


class VaspCalculator:
    """MP GGA(+U) input sets through atomate2; ``double_relax`` runs atomate2's double relaxation."""

    name = "vasp"
    category = "dft"
    remote = True
    defaults: dict[str, Any] = {"double_relax": False, "incar": {}, "kpoints": {}}
    run_defaults: dict[str, Any] = {}

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure`` and return (physics settings with mode, run settings)."""
        check_structure(structure)
        physics, run = split_settings(self.name, self.defaults, self.run_defaults, settings)
        incar = {"ISIF": 2, **physics["incar"]} if mode == "relax" else dict(physics["incar"])
        return {**physics, "incar": incar, "mode": mode}, run

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the atomate2 version whose MP input sets define the calculation."""
        return f"atomate2-{metadata.version('atomate2')}-mp-gga"

    def maker(self, physics: dict[str, Any]):
        """Return the atomate2 maker (static, relax or double relax) with the user INCAR/KPOINTS settings."""
        from atomate2.vasp.flows.mp import MPGGADoubleRelaxMaker
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
        if physics["incar"]:
            maker = update_user_incar_settings(maker, physics["incar"])
        if physics["kpoints"]:
            maker = update_user_kpoints_settings(maker, physics["kpoints"])
        return maker

    def input_set(self, structure: Structure, physics: dict[str, Any]):
        """Return the VASP inputs of the first (or only) step, POTCAR as ``POTCAR.spec`` (no POTCAR files needed)."""
        maker = self.maker(physics)
        first = getattr(maker, "relax_maker1", maker)
        return first.input_set_generator.get_input_set(structure, potcar_spec=True)

    def fields_from_task(self, task) -> dict[str, Any]:
        """Return calculation-document fields from an atomate2 VASP ``TaskDoc``."""
        output = task.output
        forces = getattr(output, "forces", None)
        stress = getattr(output, "stress", None)
        fields = result_fields(output.structure, output.energy, forces=forces)
        if stress is not None:  # VASP prints pressure-like kbar; ASE convention: stress = -pressure
            fields["stress"] = [[-KBAR_TO_GPA * value for value in row] for row in stress]
        magmoms = [site.properties.get("magmom", 0.0) for site in output.structure]
        if any(magmoms):
            fields["magmoms"] = [float(m) for m in magmoms]
            fields["total_magnetization"] = float(sum(magmoms))
        stats = list((task.run_stats or {}).values())
        wall = sum(float(stat.elapsed_time or 0.0) for stat in stats)
        cores = max([int(stat.cores or 1) for stat in stats] or [1])
        converged = str(getattr(task, "state", "successful")).lower().endswith("successful")
        return {**fields, "status": "completed" if converged else "failed", "converged": converged,
                "error": None if converged else f"VASP task state {task.state}", **accounting(wall, cores)}

"""A DFT label's plan before it runs: its calculations, which the cache holds, and what the rest will cost.

:func:`plan_label` lists the calculations a :class:`MixingEnergyMaker` label
needs (the structure and every reference crystal, each once, as
:meth:`MixingEnergyMaker.plan` finds them), with the cell, spin, cutoffs
(Ry), k-point mesh and whether each is already in the calculation cache, and
estimates the core-hours of those to run with the calculator's cost model
fitted to the cache (:mod:`alloyscreen.validation.cost`). :func:`cheaper_options`
adds what would make it cheaper (a smaller cell, a static calculation,
coarser k-points), each estimated the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.cost import RY_EV, CostModel, calculation_features, fitted_model
from alloyscreen.validation.maker import Prepared, runs_again, stored_calculations
from alloyscreen.validation.targets import MixingEnergyMaker

Cached = Literal["no", "yes", "failed", "rerun", "running"]
TO_RUN = ("no", "rerun")  # cache states whose calculation runs
COARSER_K = 1.6  # factor on the k-point spacing of the cheaper option


class PlannedCalculation(BaseModel):
    """One calculation of a plan: what it computes and at which settings, whether it is cached, its cost."""

    role: str = Field(description="'structure', 'reference Cu fcc', or both for a pure element's cell")
    calculation_id: str = Field(description="id of the calculation in the cache")
    formula: str = Field(description="reduced formula")
    n_atoms: int = Field(description="atoms in the cell")
    mode: str = Field(description="static, relax or vc-relax")
    spin: bool = Field(description="spin-polarised")
    ecutwfc: float = Field(description="wave-function cutoff (Ry; VASP: ENCUT converted)")
    ecutrho: float | None = Field(None, description="charge-density cutoff (Ry); None for VASP")
    kpts: list[int] = Field(description="k-point mesh")
    irreducible_kpoints: int = Field(description="irreducible k-points of the mesh")
    cached: Cached = Field(description="yes (completed), failed (its failure is kept), rerun (a failure run again), "
                                       "running (elsewhere; waited for) or no")
    core_hours: float = Field(description="estimated core-hours of running it (core hours)")
    core_hours_sd: float = Field(description="standard deviation of ln(core_hours) of the estimate")


class CheaperOption(BaseModel):
    """A change that makes the plan cheaper, with its own estimate."""

    option: str = Field(description="the command-line option(s), e.g. '--mode static'")
    change: str = Field(description="what it changes")
    core_hours: float = Field(description="estimated core-hours to run with it (core hours)")


class DftPlan(BaseModel):
    """What a DFT label will run and cost, said before it starts."""

    calculator: str = Field(description="qe or vasp")
    cell: str = Field(description="the structure's cell: lattice lengths (Å) and angles (degrees)")
    calculations: list[PlannedCalculation] = Field(description="the structure first, then the references")
    core_hours: float = Field(description="estimated core-hours of the calculations to run (core hours)")
    core_hours_range: tuple[float, float] = Field(description="one standard deviation of the model below and above "
                                                              "(core hours)")
    wall_hours: float | None = Field(None, description="estimated wall time on this machine's cores (hours); None "
                                                       "for a calculator that runs elsewhere (VASP)")
    model: str = Field(description="what the estimate rests on")
    cheaper: list[CheaperOption] = Field(default_factory=list, description="cheaper choices, cheapest first")

    def describe(self) -> str:
        """The plan as lines for a terminal."""
        main = self.calculations[0]
        moments = "spin-polarised" if main.spin else "not spin-polarised"
        cutoffs = (f"ENCUT {main.ecutwfc * RY_EV:.0f} eV ({main.ecutwfc:.4g} Ry)" if self.calculator == "vasp" else
                   f"ecutwfc {main.ecutwfc:.4g} Ry" + (f", ecutrho {main.ecutrho:.4g} Ry" if main.ecutrho else ""))
        atoms = f"{main.n_atoms} atom" + ("s" if main.n_atoms != 1 else "")
        lines = [f"plan ({self.calculator}): {main.formula}, {atoms}, cell {self.cell}; {main.mode}, "
                 f"{moments}, {cutoffs}, k-points {_mesh(main.kpts)}"]
        lines.append(f"  {'calculation':<28} {'atoms':>5} {'mode':<9} {'k-points':<9} {'cached':<7} core-hours")
        for calc in self.calculations:
            hours = "-" if calc.cached not in TO_RUN else _hours(calc.core_hours)
            lines.append(f"  {calc.role:<28} {calc.n_atoms:>5} {calc.mode:<9} {_mesh(calc.kpts):<9} "
                         f"{calc.cached:<7} {hours}")
        low, high = self.core_hours_range
        wall = "" if self.wall_hours is None else f", about {_hours(self.wall_hours)} h here"
        lines.append(f"  estimated: {_hours(self.core_hours)} core-hours to run ({_hours(low)}-{_hours(high)})"
                     f"{wall}; {self.model}")
        lines.extend(f"  cheaper: {option.option}: {_hours(option.core_hours)} core-hours ({option.change})"
                     for option in self.cheaper)
        return "\n".join(lines)


def _mesh(kpts: list[int]) -> str:
    return "x".join(str(n) for n in kpts)


def _hours(value: float) -> str:
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


def _cache_state(found: dict[str, Any] | None, retries: int) -> Cached:
    """What the cache holds of a calculation: yes, failed, rerun, running or no."""
    if found is None:
        return "no"
    if found["status"] == "running":
        return "running"
    if found["status"] == "completed":
        return "yes"
    return "rerun" if runs_again(found, retries) else "failed"


def _roles(main: str, references: dict[str, dict[str, str]]) -> dict[str, str]:
    """Calculation id -> its role(s) in the label."""
    roles: dict[str, list[str]] = {main: ["structure"]}
    for element, crystals in references.items():
        for crystal, key in crystals.items():
            roles.setdefault(key, []).append(f"reference {element} {crystal}")
    return {key: " = ".join(names) for key, names in roles.items()}


def _cell(structure: Structure) -> str:
    lattice = structure.lattice
    return ("{:.2f} x {:.2f} x {:.2f} Å, ".format(*lattice.abc)
            + "{:.0f}/{:.0f}/{:.0f}°".format(*lattice.angles))


def plan_label(structure: Structure, label: MixingEnergyMaker, database=None,
               model: CostModel | None = None) -> DftPlan:
    """The plan of labelling ``structure`` with ``label`` (a DFT calculator): calculations, cache, core-hours.

    Parameters
    ----------
    structure
        The structure to label.
    label
        The mixing-energy (or stability) Maker whose calculations are planned.
    database
        pymongo Database of the cache; default: the configured one.
    model
        Cost model; default: the calculator's fitted to the cache (:func:`fitted_model`).
    """
    calculations, main, references = label.plan(structure)
    calculator = label.validation.calculator
    model = model or fitted_model(calculator, database)
    found = stored_calculations(list(calculations), database)
    roles = _roles(main, references)
    planned = [_planned(prepared, roles[key], _cache_state(found.get(key), maker.retries), model)
               for key, (prepared, maker) in sorted(calculations.items(), key=lambda item: item[0] != main)]
    to_run = [calc for calc in planned if calc.cached in TO_RUN]
    low = sum(calc.core_hours * np.exp(-calc.core_hours_sd) for calc in to_run)
    high = sum(calc.core_hours * np.exp(calc.core_hours_sd) for calc in to_run)
    return DftPlan(calculator=calculator, cell=_cell(structure), calculations=planned,
                   core_hours=sum(calc.core_hours for calc in to_run), core_hours_range=(low, high),
                   wall_hours=_wall_hours(to_run, label), model=model.basis(calculator))


def _planned(prepared: Prepared, role: str, cached: Cached, model: CostModel) -> PlannedCalculation:
    """One calculation of a plan, its features resolved as the calculation will resolve them."""
    crystal = prepared.structure
    features = calculation_features(prepared.calc.name, crystal, prepared.physics)
    mean, sd = model.predict(features.vector())
    return PlannedCalculation(
        role=role, calculation_id=prepared.key, formula=crystal.composition.reduced_formula, n_atoms=features.n_atoms,
        mode=features.mode, spin=features.spin, ecutwfc=features.ecutwfc, ecutrho=features.ecutrho,
        kpts=list(features.kpts), irreducible_kpoints=features.irreducible_kpoints, cached=cached,
        core_hours=float(np.exp(mean[0])), core_hours_sd=float(sd[0]))


def _wall_hours(to_run: list[PlannedCalculation], label: MixingEnergyMaker) -> float | None:
    """Wall hours on this machine: calculations side by side on its cores, none shorter than the longest alone.

    A calculation runs on ``n_mpi x n_threads`` cores (its core-hours over
    them); :meth:`MixingEnergyMaker.run` runs as many at once as the cores hold.
    """
    from alloyscreen.validation.registry import get_calculator

    calc = get_calculator(label.validation.calculator)
    if calc.remote:
        return None
    if not to_run:
        return 0.0
    run = {**calc.run_defaults, **label.validation.settings}
    per_run = int(run["n_mpi"]) * int(run["n_threads"])
    cores = max(per_run, len(os.sched_getaffinity(0)))
    longest = max(item.core_hours for item in to_run) / per_run
    return max(longest, sum(item.core_hours for item in to_run) / cores)


def cheaper_options(structure: Structure, label: MixingEnergyMaker, plan: DftPlan, smaller: Structure | None = None,
                    smaller_option: str = "", database=None, model: CostModel | None = None) -> list[CheaperOption]:
    """What would make ``plan`` cheaper, each with its estimate, cheapest first (only those cheaper than ``plan``).

    ``smaller`` (with the options that make it, ``smaller_option``): a smaller
    cell of the same composition; then ``--mode static`` for a relaxation,
    and coarser k-points (the spacing times ``COARSER_K``; VASP: half the
    reciprocal density) when the settings do not fix the mesh.
    """
    model = model or fitted_model(plan.calculator, database)
    variants: list[tuple[str, str, Structure, MixingEnergyMaker]] = []
    if smaller is not None and len(smaller) < len(structure):
        variants.append((smaller_option, f"a {len(smaller)}-atom cell instead of {len(structure)}", smaller, label))
    if label.validation.relax:
        static = replace(label, validation=replace(label.validation, relax=False, relax_cell=False))
        variants.append(("--mode static", "the structure not relaxed; references still relax", structure, static))
    coarser = _coarser_kpoints(label)
    if coarser is not None:
        variants.append((*coarser[:2], structure, coarser[2]))
    options = []
    for option, change, cell, variant in variants:
        try:
            hours = plan_label(cell, variant, database, model).core_hours
        except AlloyscreenError:  # the variant cannot be planned (e.g. settings it refuses): no suggestion
            continue
        if hours < plan.core_hours:
            options.append(CheaperOption(option=option, change=change, core_hours=hours))
    return sorted(options, key=lambda option: option.core_hours)


def _coarser_kpoints(label: MixingEnergyMaker) -> tuple[str, str, MixingEnergyMaker] | None:
    """(option, change, Maker) with coarser k-points, or None where the settings fix the mesh."""
    settings = dict(label.validation.settings)
    if label.validation.calculator in ("qe", "gpaw"):
        if settings.get("kpts"):
            return None
        from alloyscreen.validation.registry import get_calculator

        spacing = float(settings.get("kspacing") or get_calculator(label.validation.calculator).defaults["kspacing"])
        changed = {**settings, "kspacing": round(spacing * COARSER_K, 3)}
        change = f"k-point spacing {changed['kspacing']} instead of {spacing:.3g} 1/Å, references too"
    elif label.validation.calculator == "vasp" and not settings.get("kpoints"):
        changed = {**settings, "kpoints": {"reciprocal_density": 32}}
        change = "half MP's k-point density (64 per reciprocal Å^3), references too"
    else:
        return None
    option = f"--settings '{json.dumps(changed)}'"
    return option, change, replace(label, validation=replace(label.validation, settings=changed))

"""Adsorption labels: one job per site of a slab, the adsorption energy against gas references at the same settings.

For an adsorbate of the registry (:mod:`alloyscreen.catalysis.adsorbates`),
each chosen site (:func:`alloyscreen.structures.find_sites`) is its own
calculation job (the slab with the adsorbate there, positions relaxed),
beside the clean slab and the adsorbate's gas molecules, all at one physics.
Each site's row keeps ΔE (eV), its label energy (ΔG, or ΔE for an
adsorbate without a free-energy correction), its environment and where the
adsorbate settled. The label is the most stable site's energy
(``delta_g_h``, ``delta_g_oh``, ``delta_g_o``, ``delta_e_co``; eV) or, for
``her_activity``, the HER activity of the computed sites' ΔG_H
(:func:`~alloyscreen.catalysis.activity.her_activity`, per site in units of k0).

The two-adsorbate activities of :mod:`alloyscreen.catalysis.activity`,
``orr_activity`` (*OH on top, *O in fcc hollows, against Pt(111)) and
``co2rr_selectivity`` (*CO on top, *H in fcc hollows), compute every site of
both kinds on the slab (an n x n slab: 2 n^2 site jobs) and evaluate the
activity on the slab's own grid, exactly as on a simulated surface; the
ORR's Pt(111) references are a pure Pt slab of the same shape with *OH on
top and *O in an fcc hollow, at the same settings (computed once, cached).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np
from jobflow import Flow, Job, Maker, job
from pymatgen.core import Structure

from alloyscreen.catalysis.activity import GRID_ACTIVITIES, grid_activity, her_activity
from alloyscreen.catalysis.adsorbates import ADSORPTION_PROPERTIES, GAS_MOLECULES, Adsorbate, get_adsorbate
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.label import LabelDocument
from alloyscreen.schemas.selection import PropertyOutcome
from alloyscreen.schemas.structure import AdsorptionSite
from alloyscreen.structures import find_sites
from alloyscreen.structures.adsorption import adsorbed, choose_sites, settled_site
from alloyscreen.structures.surface import pure_slab_like, site_zones_counts, slab_site_rows
from alloyscreen.validation.base import SettingsError
from alloyscreen.validation.maker import ValidationMaker, ValidationOutput
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import build_label, store_label

ACTIVITIES = {"her_activity": ("H", "k0/site")}  # label property -> (adsorbate, unit)


ADSORPTION_UNITS: dict[str, str] = {**dict.fromkeys(ADSORPTION_PROPERTIES, "eV"),
                                    **{prop: unit for prop, (_, unit) in ACTIVITIES.items()},
                                    **{prop: grid.unit for prop, grid in GRID_ACTIVITIES.items()}}


def label_adsorbates(prop: str) -> list[Adsorbate]:
    """The adsorbates whose sites give the adsorption label ``prop``."""
    if prop in GRID_ACTIVITIES:
        return [get_adsorbate(name) for name, _ in GRID_ACTIVITIES[prop].sites]
    if prop in ACTIVITIES:
        return [get_adsorbate(ACTIVITIES[prop][0])]
    if prop not in ADSORPTION_PROPERTIES:
        raise AlloyscreenError(f"unknown adsorption label {prop!r}; allowed: {', '.join(ADSORPTION_UNITS)}")
    return [ADSORPTION_PROPERTIES[prop]]


def molecule_settings(calculator: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Return settings for a molecule in a box: Gamma point only where the calculator has k-points."""
    if "kpts" in get_calculator(calculator).defaults:
        return {**settings, "kpts": [1, 1, 1]}
    return dict(settings)


def _site_row(adsorbate: Adsorbate, site: AdsorptionSite, calc: CalculationDocument, clean: CalculationDocument,
              gases: dict[str, CalculationDocument], slab_sites: list[AdsorptionSite]) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": site.kind, "position": list(map(float, site.position)), "calculation_id": calc.id,
                           "adsorbate": adsorbate.name, "delta_e": None, "energy": None,
                           "site": site_zones_counts(site), "settled_kind": None, "moved": None}
    if calc.status == "completed":
        delta_e = adsorbate.adsorption_energy(cast(float, calc.energy), cast(float, clean.energy),
                                              {name: cast(float, gas.energy) for name, gas in gases.items()})
        row.update({"delta_e": delta_e, "energy": adsorbate.free_energy(delta_e)})
        if calc.final_structure is not None:
            settled = settled_site(slab_sites, Structure.from_dict(calc.final_structure), -len(adsorbate.species))
            row.update({"settled_kind": settled.kind,
                        "moved": (settled.kind, settled.atom_indices) != (site.kind, site.atom_indices)})
    return row


def _completed(calculations: list[CalculationDocument]) -> None:
    for reference in calculations:
        if reference.status != "completed":
            raise SettingsError(f"reference calculation {reference.id} ({reference.formula}) failed: {reference.error}")


def _grid_value(prop: str, slab: Structure, slab_sites: list[AdsorptionSite], rows: list[dict[str, Any]],
                sites: dict[str, list[AdsorptionSite]],
                references: list[float]) -> float:
    """``prop``'s activity on the slab's own grid from its computed rows (a failed site: NaN)."""
    n = int(round(np.sqrt(sum(site.kind == "top" for site in slab_sites))))
    arrays = []
    for adsorbate, kind in GRID_ACTIVITIES[prop].sites:
        values = np.full(n * n, np.nan)
        mine = [row for row in rows if row["adsorbate"] == adsorbate]
        values[slab_site_rows(slab, sites[adsorbate], kind)] = [np.nan if r["energy"] is None else r["energy"]
                                                                for r in mine]
        arrays.append(values)
    return float(grid_activity(prop, arrays, n, references))


def _reference_energies(prop: str, reference: dict[str, CalculationDocument],
                        gases: dict[str, CalculationDocument]) -> list[float]:
    """The reference metal's site energy of each adsorbate of ``prop`` (eV), from its finished calculations."""
    if not reference:
        return []
    _completed(list(reference.values()))
    clean = cast(float, reference["clean"].energy)
    return [get_adsorbate(name).free_energy(get_adsorbate(name).adsorption_energy(
        cast(float, reference[name].energy), clean, {gas: cast(float, calc.energy) for gas, calc in gases.items()}))
        for name, _ in GRID_ACTIVITIES[prop].sites]


def adsorption_label(candidate_id: str | None, prop: str, sites: dict[str, list[AdsorptionSite]],
                     clean: CalculationDocument, gases: dict[str, CalculationDocument],
                     covered: dict[str, list[CalculationDocument]],
                     reference: dict[str, CalculationDocument] | None = None) -> LabelDocument:
    """Store (once) and return a slab's adsorption label ``prop`` from its finished calculations.

    ``sites`` and ``covered``: per adsorbate, its sites and their
    calculations; ``reference``: the reference metal's clean slab
    (``clean``) and its calculation per adsorbate (grid activities with a
    reference). Each site's row keeps its adsorbate, its environment
    (``site``: its zones' element counts, the site model's features) and
    where the relaxed adsorbate's binding atom settled (``settled_kind``,
    ``moved``: it left the site it started on, so the row is not that
    site's energy; a site model learns only rows that stayed).

    Raises
    ------
    SettingsError
        The clean slab, a gas molecule or a reference calculation failed (a
        site that failed only drops out, or counts as NaN on a grid).
    """
    _completed([clean, *gases.values()])
    reference = reference or {}
    slab = Structure.from_dict(cast(dict, clean.input_structure))
    slab_sites = find_sites(slab)
    rows = [_site_row(get_adsorbate(name), site, calc, clean, gases, slab_sites)
            for name in sites for site, calc in zip(sites[name], covered[name], strict=True)]
    values = np.array([row["energy"] for row in rows if row["energy"] is not None], dtype=float)
    details: dict[str, Any] = {
        "adsorbates": list(sites), "sites": rows,
        "corrections_ev": {name: get_adsorbate(name).correction_ev for name in sites}}
    if prop in GRID_ACTIVITIES:
        references = _reference_energies(prop, reference, gases)
        details["references"] = {"metal": GRID_ACTIVITIES[prop].reference, "energies_ev": references}
        value = _grid_value(prop, slab, slab_sites, rows, sites, references) if values.size else None
    else:
        details.update({"mean_energy": float(values.mean()) if values.size else None,
                        "std_energy": float(values.std()) if values.size else None})
        if list(sites) == ["H"]:
            details["her_activity"] = float(her_activity(values)) if values.size else None
        value = details.get(prop) if prop in ACTIVITIES else float(values.min()) if values.size else None
    references_used = [clean, *(gases[name] for name in sorted(gases)),
                       *(reference[key] for key in sorted(reference))]
    calculations = [calc for name in sites for calc in covered[name]]
    return store_label(build_label(candidate_id, prop, value, ADSORPTION_UNITS[prop], calculations, references_used,
                                   details))


def adsorption_outcome(prop: str, sites: dict[str, list[AdsorptionSite]], clean: ValidationOutput,
                       gases: dict[str, ValidationOutput], covered: dict[str, list[ValidationOutput]],
                       reference: dict[str, ValidationOutput] | None = None,
                       structure_id: str | None = None) -> PropertyOutcome:
    """Store the adsorption label ``prop`` of finished calculations (:func:`adsorption_label`); return its outcome.

    Core-hours: the clean slab and the site calculations (the gas molecules
    and the reference metal are shared by every label, so they are not
    charged to any).
    """
    done = [c for name in covered for c in covered[name]]
    charged = [clean.calculation, *(c.calculation for c in done)]
    outcome = {"structure_id": structure_id, "calculation_id": clean.calculation.id,
               "reused": all(c.reused for c in (clean, *done)),
               "core_hours": sum(float(c.core_hours or 0.0) for c in charged)}
    try:
        label = adsorption_label(clean.candidate_id, prop, sites, clean.calculation,
                                 {name: gas.calculation for name, gas in gases.items()},
                                 {name: [c.calculation for c in found] for name, found in covered.items()},
                                 {key: calc.calculation for key, calc in (reference or {}).items()})
    except AlloyscreenError as error:
        return PropertyOutcome(**outcome, status="failed", error=str(error))
    if label.value is None:
        errors = sorted({c.calculation.error or "?" for c in done})
        return PropertyOutcome(**outcome, status="failed", label_id=label.id,
                               error=f"all {len(done)} site calculations failed: {'; '.join(errors)}")
    return PropertyOutcome(**outcome, status="completed", value=label.value, label_id=label.id)


@job
def adsorption_label_job(prop: str, sites: dict[str, list[AdsorptionSite]], clean: ValidationOutput,
                         gases: dict[str, ValidationOutput], covered: dict[str, list[ValidationOutput]],
                         reference: dict[str, ValidationOutput] | None = None,
                         structure_id: str | None = None) -> PropertyOutcome:
    """Label a slab with ``prop`` from its finished calculation jobs (:func:`adsorption_outcome`)."""
    return adsorption_outcome(prop, sites, clean, gases, covered, reference, structure_id)


def label_elements(prop: str) -> set[str]:
    """The elements the calculations of label ``prop`` add to the slab's: adsorbates, gases, reference metal."""
    grid = GRID_ACTIVITIES.get(prop)
    return {element for adsorbate in label_adsorbates(prop) for element in adsorbate.elements} | (
        {grid.reference} if grid is not None and grid.reference else set())


@dataclass
class AdsorptionMaker(Maker):
    """Label a slab with an adsorption label ``prop``: one job per calculation, then the label job.

    The clean slab, the adsorbates' gas molecules and each adsorbate on every
    chosen site are relaxed (positions) with the validation Maker's calculator
    and settings, resolved once for ``pool`` (default: the slab's elements)
    and the label's elements (:func:`label_elements`), so they share one
    physics. Sites come from :func:`alloyscreen.structures.find_sites` (every
    top, bridge and hollow site of the top layer, with its local
    composition); up to ``max_sites`` of them (None: all), drawn round-robin
    over ``site_kinds``, or the sites ``chosen`` (indices into
    ``find_sites(slab)``: e.g. those a site model is least sure of, see
    ``site_choice``). A grid activity (``orr_activity``,
    ``co2rr_selectivity``) computes every site of its two kinds instead, and
    its reference metal's slab of the same shape.
    """

    name: str = "adsorption"
    validation: ValidationMaker = field(default_factory=ValidationMaker)
    site_kinds: list[str] = field(default_factory=lambda: ["fcc", "hcp", "top", "bridge", "hollow"])
    max_sites: int | None = None
    seed: int = 0
    pool: list[str] | None = None
    prop: str = "delta_g_h"
    site_choice: Literal["random", "uncertain"] = "random"
    chosen: list[int] | None = None

    def make(self, slab: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
             structure_id: str | None = None, campaign_id: str | None = None) -> Flow:
        """Return the flow [clean slab, gas molecules, (reference metal,) adsorbate per site, label]."""
        adsorbates = label_adsorbates(self.prop)
        grid = GRID_ACTIVITIES.get(self.prop)
        elements = sorted({*(self.pool or [el.symbol for el in slab.composition]), *label_elements(self.prop)})
        settings = pool_settings(self.validation.calculator, elements, self.validation.settings)
        validation = replace(self.validation, settings=settings, relax=True, relax_cell=False)
        on_slab = find_sites(slab)
        kinds = dict(grid.sites) if grid else {adsorbates[0].name: None}
        sites = {name: [on_slab[i] for i in self.chosen] if self.chosen is not None and not grid else
                 choose_sites(on_slab, [kind] if kind else self.site_kinds, None if grid else self.max_sites, self.seed)
                 for name, kind in kinds.items()}
        clean = validation.make(slab, candidate_id, parents, campaign_id)
        in_box = replace(validation, settings=molecule_settings(validation.calculator, settings))
        gases = {name: in_box.make(GAS_MOLECULES[name].structure())
                 for name in sorted({gas for adsorbate in adsorbates for gas, _ in adsorbate.gas})}
        covered = {name: [validation.make(adsorbed(slab, site, name), candidate_id, parents, campaign_id)
                          for site in found] for name, found in sites.items()}
        reference = {}
        if grid is not None and grid.reference:
            pure = pure_slab_like(slab, grid.reference)
            on_pure = find_sites(pure)
            reference = {"clean": validation.make(pure), **{
                name: validation.make(adsorbed(pure, choose_sites(on_pure, [kind], 1, self.seed)[0], name))
                for name, kind in grid.sites}}
        label = adsorption_label_job(
            self.prop, sites, clean.output, {name: gas.output for name, gas in gases.items()},
            {name: [c.output for c in found] for name, found in covered.items()},
            {key: calc.output for key, calc in reference.items()} or None, structure_id)
        label.update_config({"manager_config": clean.config.manager_config})
        jobs: list[Job | Flow] = [clean, *gases.values(), *reference.values(),
                                  *(c for found in covered.values() for c in found), label]
        return Flow(jobs, output=label.output, name=f"{self.name} {self.prop} {slab.composition.reduced_formula}")

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
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
from jobflow import Flow, Maker, job
from pymatgen.core import Structure

from alloyscreen.catalysis.activity import her_activity
from alloyscreen.catalysis.adsorbates import ADSORPTION_PROPERTIES, GAS_MOLECULES, Adsorbate, get_adsorbate
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.label import LabelDocument
from alloyscreen.schemas.selection import PropertyOutcome
from alloyscreen.schemas.structure import AdsorptionSite
from alloyscreen.structures import find_sites
from alloyscreen.structures.adsorption import adsorbed, choose_sites, settled_site
from alloyscreen.structures.surface import site_zones_counts
from alloyscreen.validation.base import SettingsError
from alloyscreen.validation.maker import ValidationMaker, ValidationOutput
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import build_label, store_label

ACTIVITIES = {"her_activity": ("H", "k0/site")}  # label property -> (adsorbate, unit)
ADSORPTION_UNITS: dict[str, str] = {**dict.fromkeys(ADSORPTION_PROPERTIES, "eV"),
                                    **{prop: unit for prop, (_, unit) in ACTIVITIES.items()}}


def label_adsorbate(prop: str) -> Adsorbate:
    """The adsorbate whose sites give the adsorption label ``prop``."""
    if prop in ACTIVITIES:
        return get_adsorbate(ACTIVITIES[prop][0])
    if prop not in ADSORPTION_PROPERTIES:
        raise AlloyscreenError(f"unknown adsorption label {prop!r}; allowed: {', '.join(ADSORPTION_UNITS)}")
    return ADSORPTION_PROPERTIES[prop]


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


def adsorption_label(candidate_id: str | None, prop: str, sites: list[AdsorptionSite], clean: CalculationDocument,
                     gases: dict[str, CalculationDocument], covered: list[CalculationDocument]) -> LabelDocument:
    """Store (once) and return a slab's adsorption label ``prop`` from its finished calculations.

    Each site's row keeps its environment (``site``: its zones' element
    counts, the site model's features) and where the relaxed adsorbate's
    binding atom settled (``settled_kind``, ``moved``: it left the site it
    started on, so the row is not that site's energy; a site model learns
    only rows that stayed).

    Raises
    ------
    SettingsError
        The clean slab or a gas molecule failed (a site that failed only drops out).
    """
    adsorbate = label_adsorbate(prop)
    for reference in (clean, *gases.values()):
        if reference.status != "completed":
            raise SettingsError(f"reference calculation {reference.id} ({reference.formula}) failed: {reference.error}")
    slab_sites = find_sites(Structure.from_dict(cast(dict, clean.input_structure)))
    rows = [_site_row(adsorbate, site, calc, clean, gases, slab_sites)
            for site, calc in zip(sites, covered, strict=True)]
    values = np.array([row["energy"] for row in rows if row["energy"] is not None], dtype=float)
    details: dict[str, Any] = {
        "adsorbate": adsorbate.name, "sites": rows, "correction_ev": adsorbate.correction_ev,
        "mean_energy": float(values.mean()) if values.size else None,
        "std_energy": float(values.std()) if values.size else None}
    if adsorbate.name == "H":
        details["her_activity"] = float(her_activity(values)) if values.size else None
    value = details.get(prop) if prop in ACTIVITIES else float(values.min()) if values.size else None
    references = [clean, *(gases[name] for name in sorted(gases))]
    return store_label(build_label(candidate_id, prop, value, ADSORPTION_UNITS[prop], covered, references, details))


def adsorption_outcome(prop: str, sites: list[AdsorptionSite], clean: ValidationOutput,
                       gases: dict[str, ValidationOutput], covered: list[ValidationOutput],
                       structure_id: str | None = None) -> PropertyOutcome:
    """Store the adsorption label ``prop`` of finished calculations (:func:`adsorption_label`); return its outcome.

    Core-hours: the clean slab and the site calculations (the gas molecules
    are shared by every label, so they are not charged to any).
    """
    charged = [clean.calculation, *(c.calculation for c in covered)]
    outcome = {"structure_id": structure_id, "calculation_id": clean.calculation.id,
               "reused": all(c.reused for c in (clean, *covered)),
               "core_hours": sum(float(c.core_hours or 0.0) for c in charged)}
    try:
        label = adsorption_label(clean.candidate_id, prop, sites, clean.calculation,
                                 {name: gas.calculation for name, gas in gases.items()},
                                 [c.calculation for c in covered])
    except AlloyscreenError as error:
        return PropertyOutcome(**outcome, status="failed", error=str(error))
    if label.value is None:
        errors = sorted({c.calculation.error or "?" for c in covered})
        return PropertyOutcome(**outcome, status="failed", label_id=label.id,
                               error=f"all {len(sites)} site calculations failed: {'; '.join(errors)}")
    return PropertyOutcome(**outcome, status="completed", value=label.value, label_id=label.id)


@job
def adsorption_label_job(prop: str, sites: list[AdsorptionSite], clean: ValidationOutput,
                         gases: dict[str, ValidationOutput], covered: list[ValidationOutput],
                         structure_id: str | None = None) -> PropertyOutcome:
    """Label a slab with ``prop`` from its finished calculation jobs (:func:`adsorption_outcome`)."""
    return adsorption_outcome(prop, sites, clean, gases, covered, structure_id)


@dataclass
class AdsorptionMaker(Maker):
    """Label a slab with an adsorption label ``prop``: one job per calculation, then the label job.

    The clean slab, the adsorbate's gas molecules and the adsorbate on every
    chosen site are relaxed (positions) with the validation Maker's calculator
    and settings, resolved once for ``pool`` (default: the slab's elements)
    and the adsorbate's elements, so they share one physics. Sites come from
    :func:`alloyscreen.structures.find_sites` (every top, bridge and hollow
    site of the top layer, with its local composition); up to ``max_sites``
    of them (None: all), drawn round-robin over ``site_kinds``.
    """

    name: str = "adsorption"
    validation: ValidationMaker = field(default_factory=ValidationMaker)
    site_kinds: list[str] = field(default_factory=lambda: ["fcc", "hcp", "top", "bridge", "hollow"])
    max_sites: int | None = None
    seed: int = 0
    pool: list[str] | None = None
    prop: str = "delta_g_h"

    def make(self, slab: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
             structure_id: str | None = None, campaign_id: str | None = None) -> Flow:
        """Return the flow [clean slab, gas molecules, slab + adsorbate per site, label] (any calculator)."""
        adsorbate = label_adsorbate(self.prop)
        elements = sorted({*(self.pool or [el.symbol for el in slab.composition]), *adsorbate.elements})
        settings = pool_settings(self.validation.calculator, elements, self.validation.settings)
        validation = replace(self.validation, settings=settings, relax=True, relax_cell=False)
        sites = choose_sites(find_sites(slab), self.site_kinds, self.max_sites, self.seed)
        clean = validation.make(slab, candidate_id, parents, campaign_id)
        in_box = replace(validation, settings=molecule_settings(validation.calculator, settings))
        gases = {name: in_box.make(GAS_MOLECULES[name].structure()) for name, _ in adsorbate.gas}
        covered = [validation.make(adsorbed(slab, site, adsorbate.name), candidate_id, parents, campaign_id)
                   for site in sites]
        label = adsorption_label_job(self.prop, sites, clean.output, {name: gas.output for name, gas in gases.items()},
                                     [c.output for c in covered], structure_id)
        label.update_config({"manager_config": clean.config.manager_config})
        return Flow([clean, *gases.values(), *covered, label], output=label.output,
                    name=f"{self.name} {adsorbate.name} {slab.composition.reduced_formula}")

"""Derived targets: mixing energy against elemental references, hydrogen adsorption free energy.

References are ordinary calculations with the same calculator and physics
settings (checked when the label is built), so the calculation cache computes
each of them once and every label reuses them.

- mixing energy per atom: ``E/N - sum_i x_i mu_i``, ``mu_i`` the energy per atom
  of element ``i`` in the lowest-energy of its vc-relaxed candidate crystals
  (:mod:`alloyscreen.validation.references`);
- hydrogen adsorption: ``dE_H = E(slab+H) - E(slab) - E(H2)/2`` and
  ``dG_H = dE_H + 0.24 eV`` (Norskov et al., J. Electrochem. Soc. 152, J23 (2005)),
  for each chosen adsorption site (:func:`alloyscreen.structures.find_sites`),
  each its own calculation job; the label value is ``dG_H`` of the most
  stable site, and the full site distribution is kept in ``details``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
from jobflow import Flow, Job, Maker, job
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from alloyscreen.hashing import content_hash
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.label import LabelDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.structure import AdsorptionSite
from alloyscreen.structures import find_sites
from alloyscreen.structures.adsorption import binding_position, choose_sites
from alloyscreen.validation.base import SettingsError
from alloyscreen.validation.maker import ValidationMaker, ValidationOutput, validation_job
from alloyscreen.validation.physics import check_same_physics, pool_settings
from alloyscreen.validation.references import ElementReference, choose_reference, elemental_references
from alloyscreen.validation.registry import get_calculator

ZERO_POINT_AND_ENTROPY_EV = 0.24
H2_BOX_A = 10.0
H2_BOND_A = 0.75


def _molecule_settings(calculator: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Return settings for a molecule in a box: Gamma point only where the calculator has k-points."""
    if "kpts" in get_calculator(calculator).defaults:
        return {**settings, "kpts": [1, 1, 1]}
    return dict(settings)


def mixing_energy_per_atom(calculation: CalculationDocument, references: dict[str, ElementReference]) -> float:
    """Return ``E/N - sum_i x_i mu_i`` (eV/atom) of ``calculation`` against elemental ``references``."""
    # completed calculations (the only ones labelled) carry both structures and energies
    structure = Structure.from_dict(cast(dict[str, Any], calculation.final_structure or calculation.input_structure))
    fractions = structure.composition.fractional_composition
    reference = sum(float(x) * cast(float, references[el.symbol].calculation.energy_per_atom)
                    for el, x in fractions.items())
    return float(cast(float, calculation.energy_per_atom) - reference)


def store_label(label: LabelDocument, database=None) -> LabelDocument:
    """Insert ``label`` into ``labels`` (once: its id is a content hash); return it."""
    from alloyscreen.db.documents import insert_document

    if database is None:
        from alloyscreen.db.client import get_database

        database = get_database()
    insert_document(database["labels"], label)
    return label


def build_label(candidate_id, prop, value, unit, calculations: list[CalculationDocument],
                references: list[CalculationDocument], details=None) -> LabelDocument:
    """Return a label document whose id hashes its candidate, property and calculations.

    Raises
    ------
    PhysicsMismatchError
        The calculations and references differ in physics settings.
    """
    check_same_physics([*calculations, *references])
    calculator = calculations[0].calculator if calculations else references[0].calculator
    calc_ids, ref_ids = [c.id for c in calculations], [r.id for r in references]
    key = content_hash({"candidate": candidate_id, "property": prop, "calculations": calc_ids, "references": ref_ids})
    return LabelDocument(
        id=key, candidate_id=candidate_id, property=prop, value=value, unit=unit, calculator=calculator,
        calculation_ids=calc_ids, reference_calculation_ids=ref_ids, details=details,
        provenance=current_job_provenance(input_hash=key, parents=calc_ids + ref_ids),
    )


def store_mixing_energy_label(calculation: CalculationDocument, candidate_id: str | None,
                              settings: dict[str, Any],
                              crystals: dict[str, dict[str, CalculationDocument]] | None = None) -> LabelDocument:
    """Store (once) the mixing energy label of a completed calculation against its elemental references.

    ``crystals``: element -> crystal -> finished reference calculation (e.g.
    from VASP jobs), of which the lowest in energy is chosen; default: computed
    here with ``settings`` (cached calculations).

    Raises
    ------
    StructureError
        Every reference crystal of an element failed.
    """
    if crystals is None:
        structure = Structure.from_dict(cast(dict[str, Any], calculation.input_structure))
        references = elemental_references([el.symbol for el in structure.composition], calculation.calculator,
                                          settings)
    else:
        references = {element: choose_reference(element, found) for element, found in crystals.items()}
    value = mixing_energy_per_atom(calculation, references)
    label = build_label(candidate_id, "mixing_energy_per_atom", value, "eV/atom", [calculation],
                        [references[el].calculation for el in sorted(references)],
                        {"references": {el: reference.summary() for el, reference in references.items()}})
    return store_label(label)


@job
def mixing_energy_label(validated: ValidationOutput, settings: dict[str, Any]) -> LabelDocument | None:
    """Store the mixing energy label of a validated structure; None when the calculation failed."""
    if validated.calculation.status != "completed":
        return None
    return store_mixing_energy_label(validated.calculation, validated.candidate_id, settings)


@dataclass
class MixingEnergyMaker(Maker):
    """Validate a structure and label its mixing energy per atom against cached elemental references."""

    name: str = "mixing energy"
    validation: ValidationMaker = field(default_factory=ValidationMaker)

    def make(self, structure: Structure, candidate_id: str | None = None, parents: list[str] | None = None) -> Flow:
        """Return the flow [validation, label]."""
        if getattr(get_calculator(self.validation.calculator), "remote", False):
            raise SettingsError(
                f"mixing energy labels need an in-process calculator, not {self.validation.calculator!r}"
            )
        settings = pool_settings(self.validation.calculator, [el.symbol for el in structure.composition],
                                 self.validation.settings)
        validation = replace(self.validation, settings=settings)
        validated = validation.make(structure, candidate_id=candidate_id, parents=parents)
        label = mixing_energy_label(validated.output, settings)
        label.update_config({"manager_config": validated.config.manager_config})
        return Flow([validated, label], output=label.output, name=f"{self.name} {structure.formula}")


def hydrogen_molecule() -> Structure:
    """Return H2 in a cubic periodic box."""
    from pymatgen.core import Lattice

    centre = H2_BOX_A / 2
    coords = [[centre, centre, centre - H2_BOND_A / 2], [centre, centre, centre + H2_BOND_A / 2]]
    return Structure(Lattice.cubic(H2_BOX_A), ["H", "H"], coords, coords_are_cartesian=True)


class HydrogenJobs(BaseModel):
    """The calculation jobs of a dG_H label (their outputs, once run, are :class:`ValidationOutput`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    jobs: list[Job] = Field(description="clean slab, H2, then slab+H on each site")
    sites: list[AdsorptionSite] = Field(description="the sites, in the order of their jobs")

    @property
    def outputs(self) -> tuple[Any, Any, list[Any]]:
        """(clean slab, H2, [slab+H per site]) output references."""
        return self.jobs[0].output, self.jobs[1].output, [job_.output for job_ in self.jobs[2:]]


def hydrogen_adsorption_jobs(slab: Structure, sites: list[AdsorptionSite], calculator: str, settings: dict[str, Any],
                             candidate_id: str | None = None, parents: Sequence[str] = (),
                             campaign_id: str | None = None) -> HydrogenJobs:
    """Return one validation job each for the clean slab, H2 and H on every site (parallel under FireWorks).

    ``settings`` are resolved for the slab's elements and H together
    (:func:`pool_settings`), so the slab, slab+H and H2 share one physics.
    """
    settings = pool_settings(calculator, [*(el.symbol for el in slab.composition), "H"], settings)
    common = {"candidate_id": candidate_id, "parents": list(parents), "campaign_id": campaign_id}
    jobs = [validation_job(slab, calculator, settings, "relax", **common),
            validation_job(hydrogen_molecule(), calculator, _molecule_settings(calculator, settings), "relax")]
    for site in sites:
        covered = slab.copy()
        covered.append("H", binding_position(slab, site, "H"), coords_are_cartesian=True)
        jobs.append(validation_job(covered, calculator, settings, "relax", **common))
    return HydrogenJobs(jobs=jobs, sites=sites)


def delta_g_h_label(candidate_id: str | None, sites: list[AdsorptionSite], clean: CalculationDocument,
                    h2: CalculationDocument, covered: list[CalculationDocument]) -> LabelDocument:
    """Store (once) and return the dG_H label of a slab from its finished calculations.

    Raises
    ------
    SettingsError
        The clean slab or H2 failed (a site that failed only drops out).
    """
    for reference in (clean, h2):
        if reference.status != "completed":
            raise SettingsError(f"reference calculation {reference.id} ({reference.formula}) failed: {reference.error}")
    rows: list[dict[str, Any]] = []
    for site, calc in zip(sites, covered, strict=True):
        row: dict[str, Any] = {"kind": site.kind, "position": list(map(float, site.position)),
                               "calculation_id": calc.id, "delta_e_h": None, "delta_g_h": None}
        if calc.status == "completed":
            delta_e = cast(float, calc.energy) - cast(float, clean.energy) - 0.5 * cast(float, h2.energy)
            row.update({"delta_e_h": delta_e, "delta_g_h": delta_e + ZERO_POINT_AND_ENTROPY_EV})
        rows.append(row)
    values = np.array([row["delta_g_h"] for row in rows if row["delta_g_h"] is not None], dtype=float)
    best = float(values.min()) if values.size else None
    details = {"sites": rows, "mean_delta_g_h": float(values.mean()) if values.size else None,
               "std_delta_g_h": float(values.std()) if values.size else None,
               "zero_point_and_entropy_ev": ZERO_POINT_AND_ENTROPY_EV}
    return store_label(build_label(candidate_id, "delta_g_h", best, "eV", covered, [clean, h2], details))


@job
def hydrogen_label_job(candidate_id: str | None, sites: list[AdsorptionSite], clean: ValidationOutput,
                       h2: ValidationOutput, covered: list[ValidationOutput]) -> LabelDocument:
    """Store the dG_H label from the finished calculation jobs (:func:`delta_g_h_label`)."""
    return delta_g_h_label(candidate_id, sites, clean.calculation, h2.calculation, [c.calculation for c in covered])


@dataclass
class HydrogenAdsorptionMaker(Maker):
    """Label a slab with dG_H (hydrogen evolution): one job per calculation, then the label job.

    Sites come from :func:`alloyscreen.structures.find_sites` (every top,
    bridge and hollow site of the top layer, with its local composition); up to
    ``max_sites`` of them (None: all), drawn round-robin over ``site_kinds``.
    """

    name: str = "hydrogen adsorption"
    calculator: str = "emt"
    settings: dict[str, Any] = field(default_factory=dict)
    site_kinds: list[str] = field(default_factory=lambda: ["fcc", "hcp", "top", "bridge", "hollow"])
    max_sites: int | None = None
    seed: int = 0
    category: str | None = None

    def make(self, slab: Structure, candidate_id: str | None = None) -> Flow:
        """Return the flow [clean slab, H2, slab+H per site, label]."""
        sites = choose_sites(find_sites(slab), self.site_kinds, self.max_sites, self.seed)
        calculations = hydrogen_adsorption_jobs(slab, sites, self.calculator, self.settings, candidate_id)
        label = hydrogen_label_job(candidate_id, sites, *calculations.outputs)
        flow = Flow([*calculations.jobs, label], output=label.output,
                    name=f"{self.name} {slab.composition.reduced_formula}")
        flow.update_config({"manager_config": {"_category": self.category or get_calculator(self.calculator).category}})
        return flow
